"""Alignment post-training (AcuLa): reports, text teacher, losses, LoRA wiring, trainer (python -m align)."""

from align.config import AlignConfig, default_out_dir

_LAZY = {  # name -> module; imported on first use so that `import align` stays cheap (no torch)
    "train": "align.train", "align_for_demo": "align.train", "load_aligned": "align.aligned",
    "build_aligned": "align.aligned", "build_base": "align.aligned", "load_heads": "align.aligned",
    "resolve_aligned_dir": "align.aligned", "AlignedError": "align.aligned", "zero_shot_scores": "align.zero_shot",
    "zero_shot_auroc": "align.zero_shot", "apply_lora": "align.lora",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(name)


__all__ = ["AlignConfig", "default_out_dir", *_LAZY]
