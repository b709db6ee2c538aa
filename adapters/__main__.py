"""`python -m adapters convert IN OUT --encoder NAME`: rewrite a supported checkpoint as safetensors.

The output holds the encoder's own state dict (every key checked against the architecture first) and, in its
metadata, the encoder name and the architecture config as JSON (key "cfg"), so
`build_encoder(NAME, weights=OUT)` rebuilds the same model without unpickling anything.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def convert(src: Path, dst: Path, encoder: str, trust: bool = False, config: str = "official") -> Path:
    """Read `src` in `encoder`'s published format, verify it, and write `dst` (.safetensors) atomically."""
    from adapters._checkpoint import save_safetensors, sha256_path
    from adapters._registry import get_encoder_class, read_converted, resolve_config

    cls = get_encoder_class(encoder)
    state, file_cfg = read_converted(Path(src), encoder) or cls.read_checkpoint(Path(src), trust=trust)
    cfg = {**resolve_config(cls, config), **file_cfg}
    model = cls(cfg)
    model.load_weights(state, src)  # refuses missing / unexpected / reshaped keys before anything is written
    dst = Path(dst) if Path(dst).suffix == ".safetensors" else Path(dst).with_suffix(".safetensors")
    save_safetensors(model.state_dict(), dst, {"encoder": encoder, "cfg": json.dumps(cfg),
                                               "source_sha256": sha256_path(src)})
    return dst


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m adapters", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("convert", help="rewrite a checkpoint as safetensors")
    c.add_argument("src", type=Path)
    c.add_argument("dst", type=Path)
    c.add_argument("--encoder", required=True, help="encoder family of the checkpoint (see --list-encoders)")
    c.add_argument("--trust-checkpoint", action="store_true", help="allow pickled objects in SRC")
    c.add_argument("--config", default="official", choices=("official", "tiny"),
                   help="architecture to assume where the checkpoint does not carry its own config")
    args = p.parse_args(argv)
    out = convert(args.src, args.dst, args.encoder, args.trust_checkpoint, args.config)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
