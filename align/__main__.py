"""python -m align: post-train an audio encoder so that it agrees with a text teacher about clinical reports.

Examples:
    python -m align --encoder opera-gt --tiny --tasks demo --steps 60            # -> runs/align/opera-gt-tiny/
    python -m align --encoder opera-gt --weights encoder-operaGT.ckpt --tasks T5,T7 --data-root /data \\
        --ssl mam --out runs/align/opera-gt
    python -m align --out runs/align/opera-gt --config runs/align/opera-gt/train_config.json --resume
    torchrun --nproc_per_node=2 -m align --encoder opera-gt --tiny --tasks demo

Every AlignConfig field is a flag (align/config.py); the resolved config is written to OUT/train_config.json.
Evaluate the result with `python evaluate.py --encoder NAME --aligned OUT`.
"""

from __future__ import annotations

import argparse
import sys

from align.config import add_arguments, config_from_args


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m align", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        cfg = config_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    from align.train import train

    train(cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
