"""acula-zoo encoders: one contract over HeAR, OPERA, CLAP, BEATs and weight-free baselines.

Importing this package is cheap; encoder modules are imported the first time the registry is used.
"""

from adapters._audio import fit_length, load_audio, read_audio, resample
from adapters._errors import AudioReadError, CheckpointError, UnknownEncoderError
from adapters._registry import build_encoder, get_encoder_class, list_encoders, register_encoder
from adapters._spec import EncoderSpec, Windowing


def __getattr__(name):  # AudioEncoder pulls in torch: import it only when asked for
    if name == "AudioEncoder":
        from adapters._base import AudioEncoder

        return AudioEncoder
    raise AttributeError(name)


__all__ = ["AudioEncoder", "AudioReadError", "CheckpointError", "EncoderSpec", "UnknownEncoderError",
           "build_encoder", "fit_length", "get_encoder_class", "list_encoders", "load_audio", "read_audio",
           "register_encoder", "resample", "Windowing"]
