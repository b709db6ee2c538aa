"""Glue for host benchmarks: plugin.opera (feature export in OPERA's layout), plugin.evar (EVAR wrapper).

Importing this package is cheap; the re-exported names import torch and the encoders when first used.
"""

_LAZY = {"export_opera_features": "plugin.opera", "AR_AculaZoo": "plugin.evar"}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'plugin' has no attribute {name!r}")


__all__ = list(_LAZY)
