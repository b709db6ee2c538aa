"""python -m align: post-train an audio encoder so that it agrees with a text teacher about clinical reports.

Examples:
    python -m align --encoder opera-gt --tiny --tasks demo --steps 60            # -> runs/align/opera-gt-tiny/
    python -m align --encoder opera-gt --weights encoder-operaGT.ckpt --tasks T5,T7 --data-root /data \\
        --ssl mam --out runs/align/opera-gt
    python -m align --out runs/align/opera-gt --config runs/align/opera-gt/train_config.json --resume
    torchrun --nproc_per_node=2 -m align --encoder opera-gt --tiny --tasks demo
    python -m align card runs/align/opera-gt --records runs/   # refresh the model card (README.md) with results

Every AlignConfig field is a flag (align/config.py); the resolved config is written to OUT/train_config.json.
Evaluate the result with `python evaluate.py --encoder NAME --aligned OUT`.
"""

from __future__ import annotations

import argparse
import sys

from align.config import add_arguments, config_from_args


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["card"]:
        return card(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m align", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an error caused by the input (default: one line, exit code 2)")
    parser.add_argument("--dry-run", action="store_true",
                        help="show the reports (template) or the LLM prompts and the number of paid calls, "
                             "then stop without training")
    args = parser.parse_args(argv)
    from adapters._threads import configure_threads

    configure_threads()
    try:
        cfg = config_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    if args.dry_run:
        return dry_run(cfg)
    from adapters._cli import one_line
    from adapters._errors import UserError
    from align.train import train

    try:
        train(cfg)
    except UserError as exc:   # the input's fault: one line naming the file and the fix (--debug: traceback)
        if args.debug:
            raise
        print(f"python -m align: error: {one_line(exc)}", file=sys.stderr)
        return 2
    return 0


def card(argv: list[str]) -> int:
    """`python -m align card DIR [--records RUNS_DIR ...]`: (re)write DIR/README.md, the adapter's model card,
    with the results of the records under RUNS_DIR that belong to this adapter (align.model_card)."""
    from align.model_card import matching_records, records_under, write_model_card

    parser = argparse.ArgumentParser(prog="python -m align card", description=card.__doc__)
    parser.add_argument("dir", help="an aligned-adapter folder written by python -m align")
    parser.add_argument("--records", action="append", default=[], metavar="RUNS_DIR",
                        help="evaluate.py --out folder (or a folder of them) whose records hold this adapter's "
                             "results; repeatable")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an input error")
    args = parser.parse_args(argv)
    from pathlib import Path

    from align.aligned import read_align_config

    missing = [d for d in args.records if not Path(d).is_dir()]
    if missing:
        parser.error(f"--records {missing[0]}: no such folder; give an evaluate.py --out folder")

    records = records_under(args.records)
    path = write_model_card(args.dir, records)
    found = len(matching_records(read_align_config(args.dir), records))
    print(f"model card written to {path} ({found} result(s) of this adapter from {len(records)} record(s))")
    return 0


def dry_run(cfg) -> int:
    """Collect the alignment items (leakage guard included) and show what report writing would do."""
    from pathlib import Path

    from align.data import collect_for

    data = collect_for(cfg)
    items = data.train + data.val
    print(f"{len(data.train)} training and {len(data.val)} held-out recordings; {len(data.excluded)} excluded as "
          f"test items or test subjects of some task")
    if cfg.reports == "llm":
        from align.llm_reports import LLMReportWriter

        writer = LLMReportWriter(cfg.llm_base_url, cfg.llm_model, cache_dir=Path(cfg.cache_root()) / "llm_reports")
        plan = writer.dry_run([i.metadata for i in items], [i.modality for i in items], show=True,
                              declarations=[i.declaration for i in items])
        print(f"{plan['calls']} LLM call(s) to make, {plan['cached']} prompt(s) already cached, "
              f"for {plan['items']} recordings")
    else:
        from align.reports import template_report

        for i in items[:5]:
            print(f"- {template_report(i.metadata, i.modality, cfg.report_seed, declaration=i.declaration)}")
        print(f"template reports for {len(items)} recordings (offline; no calls)")
    return 0


if __name__ == "__main__":
    from adapters._cli import run_cli

    sys.exit(run_cli(main, prog="python -m align"))
