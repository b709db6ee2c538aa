"""Build the encoder a host benchmark runs: a registered base encoder, or a base with its aligned adapter."""

from __future__ import annotations

from pathlib import Path


def build_host_encoder(encoder: str | None, weights: str | Path | None = None, config: str | dict | None = None,
                       aligned: str | Path | None = None, device: str = "cpu", trust_checkpoint: bool = False):
    """An AudioEncoder in eval mode.

    Args:
        encoder: registered name ("opera-gt"); may be None when `aligned` is given (the directory names its base).
        weights: the base's checkpoint (official weights); None for --tiny / weight-free encoders.
        config: "official" (None: the default), "tiny" or overrides, for the base. With `aligned`, the directory
            fixes the config (None: take it); asking for "tiny" on an adapter trained on the official model (or
            "official" on one trained on the tiny model) is an error.
        aligned: a directory written by `python -m align` (align/aligned.py); its adapter is loaded on top of the
            base it was trained on (for random-weight tiny bases, the weights saved in the directory).
    Raises:
        ValueError: the aligned directory belongs to another encoder or configuration.
    """
    if not aligned:
        if not encoder:
            raise ValueError("no encoder: give an encoder name (--encoder / cfg.encoder) or an aligned directory")
        from adapters import build_encoder

        return build_encoder(encoder, weights=weights, config=config or "official", trust_checkpoint=trust_checkpoint,
                             device=device)
    from align.aligned import build_aligned, read_align_config  # only needed with an adapter (imports peft)

    base = read_align_config(aligned)["base"]
    where = Path(aligned) / "align_config.json"
    if encoder and base["encoder"] != encoder:
        raise ValueError(f"{where}: the adapter was trained on {base['encoder']!r}, not {encoder!r}; use "
                         f"encoder {base['encoder']!r} or another aligned directory")
    if isinstance(config, str) and (config == "tiny") != bool(base.get("tiny")):
        raise ValueError(f"{where}: the adapter was trained on the {'tiny' if base.get('tiny') else 'official'} "
                         f"{base['encoder']}, but config {config!r} was asked for; drop or add --tiny")
    return build_aligned(aligned, weights=weights, device=device, trust_checkpoint=trust_checkpoint)
