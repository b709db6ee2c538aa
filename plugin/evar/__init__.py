"""EVAR host-benchmark glue: acula-zoo encoders as an EVAR audio representation (AR_AculaZoo).

EVAR (github nttcslab/eval-audio-repr) resolves the yaml's `audio_repr: <module>.<Class>` with
`eval('evar.' + cfg.audio_repr)(cfg)` (lineareval.py, lineareval_downstream; finetune.py, run_eval), so the class
must be reachable as an attribute of an imported `evar.<module>`. Registration is two edits in the EVAR checkout
(this project ships no EVAR file):

1. Create evar/ar_acula.py holding one line:       from plugin.evar import AR_AculaZoo  # noqa: F401
2. In lineareval.py, after the last `import evar.ar_*` line (`import evar.ar_qwen2`, line 76 at commit 88ba772),
   add:                                            import evar.ar_acula
   finetune.py and 2pass_lineareval.py need nothing more (the first does `from lineareval import *`, the second
   runs lineareval.py).

Then, with acula-zoo importable (`pip install -e /path/to/acula-zoo` or PYTHONPATH) and EVAR's data prepared at
the yaml's sample_rate:

    cp /path/to/acula-zoo/plugin/evar/acula.yaml config/acula.yaml
    python lineareval.py config/acula.yaml circor1 --options=encoder=opera-gt,weights=/w/encoder-operaGT.ckpt
    python 2pass_lineareval.py config/acula.yaml bmdhs1 encoder=opera-gt,aligned=/runs/align/opera-gt,weights=/w/gt.ckpt

Ready configs, one per encoder and size with its name and feature_d set: plugin/evar/configs/acula-<encoder>.yaml
and acula-<encoder>-tiny.yaml, written from acula.yaml by `python -m plugin.evar.make_configs`.
EVAR's `--options` can only set keys the yaml already has, which is why acula.yaml lists every AR_AculaZoo field.
Inside EVAR, AR_AculaZoo subclasses evar.ar_base.BaseAudioRepr; without EVAR it derives from a local stand-in with
the same interface (StandInAudioRepr).
"""

from plugin.evar.wrapper import AR_AculaZoo, StandInAudioRepr, fit_batch

__all__ = ["AR_AculaZoo", "StandInAudioRepr", "fit_batch"]
