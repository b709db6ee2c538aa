"""acula-zoo encoders: one contract over HeAR, OPERA, CLAP, BEATs and weight-free baselines.

Importing this package is cheap; encoder modules are imported the first time the registry is used.
"""

from adapters._errors import AudioReadError, CheckpointError, UnknownEncoderError, UserError
from adapters._spec import EncoderSpec, Windowing

# numpy (audio) and torch (AudioEncoder) load only when one of these names is first used, so that importing a
# submodule (adapters._errors, adapters._spec) from benchmark_tasks or a command line's --list-* stays cheap
_LAZY = {"fit_length": "adapters._audio", "load_audio": "adapters._audio", "read_audio": "adapters._audio",
         "resample": "adapters._audio", "build_encoder": "adapters._registry",
         "get_encoder_class": "adapters._registry", "list_encoders": "adapters._registry",
         "register_encoder": "adapters._registry", "AudioEncoder": "adapters._base"}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(name)


__all__ = ["AudioEncoder", "AudioReadError", "CheckpointError", "EncoderSpec", "UnknownEncoderError",
           "build_encoder", "fit_length", "get_encoder_class", "list_encoders", "load_audio", "read_audio",
           "register_encoder", "resample", "UserError", "Windowing"]
