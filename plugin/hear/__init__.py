"""acula-zoo encoders as HEAR 2021 API modules (hearbenchmark.com/hear-api.html).

Every registered encoder is importable as `plugin.hear.<name>`, the registry name with "-" as "_"
(plugin.hear.opera_gt, plugin.hear.opensmile_egemaps, ...), holding `load_model(model_file_path="", **options)`,
`get_scene_embeddings(audio, model)` and `get_timestamp_embeddings(audio, model)` (plugin/hear/_module.py
documents the model_file_path rule, the options and how timestamps are placed). Validate one with hearvalidator:

    PYTHONPATH=. hear-validator plugin.hear.opera_gt --model encoder-operaGT.ckpt --device cpu

`make hear-validate` installs hearvalidator in a side environment and validates every encoder (tiny weights).
Importing this package is cheap; a module's first import loads the encoder registry (torch).
"""

from plugin.hear._finder import encoder_modules, install

install()

__all__ = ["encoder_modules"]
