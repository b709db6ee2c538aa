"""OPERA host-benchmark glue: acula-zoo features in the files OPERA's own linear_eval.py reads.

OPERA (github evelyn0414/OPERA, commit 3622310) evaluates pre-extracted features: for `--pretrain P --dim D`,
src/benchmark/linear_eval.py loads `feature/<dataset>_eval/<P><D>_feature[_<mode>].npy`, an [N, D] array whose
row i pairs with row i of the label/split arrays in the same folder (plugin/opera/layouts.py lists every task's
files). A new pretrain name needs NO code edit in OPERA: linear_eval.py lines 888-890 form the file name as
`feature = args.pretrain; feature += str(args.dim)` for every name except its baselines vggish/opensmile/clap/
audiomae. Only the feature extraction of OPERA's processing scripts is replaced by this module; their label,
split and file-list arrays are used as they are, and every exported row is checked against them.

1. Export (any encoder, base or aligned; the embedding cache is shared with evaluate.py):

    python -m plugin.opera export --encoder opera-gt --weights encoder-operaGT.ckpt --task T5 \\
        --pretrain az_gt --data-root DATA --opera-root OPERA
    python -m plugin.opera export --aligned runs/align/opera-gt --weights encoder-operaGT.ckpt --task opera \\
        --pretrain az_gt_aligned --data-root DATA --opera-root OPERA

   writes OPERA/feature/coughvid_eval/az_gt384_feature_covid.npy ([6175, 384] float32, OPERA's row order) and
   az_gt384_feature_covid.json (encoder identity, weights/adapter sha256, preprocessing, OPERA's file-list sha256).

2. Evaluate with OPERA, inside its checkout (its Trainer asks for a GPU):

    PYTHONPATH=. python src/benchmark/linear_eval.py --task coughvidcovid --pretrain az_gt --dim 384

   The command for each task is printed after the export (`opera_command(task_id, pretrain, dim)`;
   `python -m plugin.opera list` shows all): T1/T2 `--task coviduk --modality exhalation|cough`, T3/T4
   `--task covid19sounds --modality breath|cough`, T5 `coughvidcovid`, T6 `coughvidsex`, T7 `icbhidisease`,
   T8/T9 `coswarasmoker|coswarasex --modality cough-shallow`, T10 `kauh`, T11 `copd`,
   T12 `snoring`, T13-T18 `--task spirometry --modality breath|vowels --label FVC|FEV1|FEV1_FVC --LOOCV True`,
   T19 `--task rr --LOOCV True`.

Upstream behaviour to know (OPERA files are not edited, and no OPERA code ships here):
- T8/T9: linear_eval.py's __main__ does not forward --mapgoogle to linear_evaluation_coswara (lines 908/910 at
  3622310; scripts/eval_all.sh passes it anyway), so OPERA probes a random stratified 80/20 split (seed 1337),
  not HeAR's split in google_<label>_cough_split.npy that acula-zoo's T8/T9 use. (Were it forwarded, it would
  open google_<label>_cough-shallow_split.npy, a name OPERA does not ship.) The rows are the same either way.
- T3/T4, T12, T13-T19: the label/split/file-list arrays are written by OPERA's processing script on its first
  run (e.g. `python src/benchmark/processing/ssbpr_processing.py --pretrain opensmile`); the export says which
  when they are missing. T13-T19 have no file list: rows follow All_path.xlsx / sorted file names, checked against
  OPERA's label.npy / labels.npy.
- T7: OPERA's arrays cover all 920 ICBHI recordings and linear_eval.py keeps Healthy and COPD; the other 92 rows
  are written as zeros (never read by the probe) and listed in the sidecar.
- Names containing "opensmile" make linear_eval.py standardise MMlung/NoseMic features; pick names without it
  unless that is intended.
"""

from plugin.opera.export import (
    OperaExport,
    OperaExportError,
    export_opera_features,
    opera_command,
    opera_feature_name,
)
from plugin.opera.layouts import OPERA_LAYOUTS, OperaLayout

__all__ = ["OPERA_LAYOUTS", "OperaExport", "OperaExportError", "OperaLayout", "export_opera_features",
           "opera_command", "opera_feature_name"]
