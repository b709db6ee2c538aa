"""Alignment post-training (AcuLa): reports, text teacher, losses, LoRA wiring, trainer (python -m align)."""
