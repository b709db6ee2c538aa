#!/usr/bin/env python
"""acula-zoo command line: score encoders on benchmark tasks, validate encoders, list what is registered.

Examples:
    python evaluate.py --demo                                    # the embedded demo benchmark, end to end
    python evaluate.py --encoder opera-gt --tiny --tasks demo --out runs/gt
    python evaluate.py --encoder opera-gt --weights encoder-operaGT.ckpt --tasks T5,T7 --data-root /data
    python evaluate.py --validate --encoder beats --tiny
    python evaluate.py --list-encoders | --list-tasks
    python evaluate.py --leaderboard runs/gt [--out site/]            # md, csv, one self-contained html, png
    python evaluate.py --check-data --data-root /data --opera-root ~/OPERA
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

DEMO_BASELINES = ("opensmile-egemaps", "logmel-stats")


def build_parser() -> argparse.ArgumentParser:
    from benchmark_tasks._registry import default_cache_dir

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    what = p.add_argument_group("what to run")
    what.add_argument("--encoder", help="encoder name(s), comma-separated (see --list-encoders)")
    what.add_argument("--tasks", default="demo",
                      help="'demo', 'opera', 'cardiac', 'all', a modality, or task ids 'T5,T7' (default: demo)")
    what.add_argument("--demo", action="store_true",
                      help="the demo job: align the tiny OPERA-GT on the demo benchmark, then score base vs aligned "
                           "(and openSMILE, log-mel statistics) on every demo task")
    what.add_argument("--validate", action="store_true", help="run the encoder contract checks and exit")
    what.add_argument("--list-encoders", action="store_true", help="list registered encoders and exit")
    what.add_argument("--list-tasks", action="store_true", help="list registered tasks and exit")
    what.add_argument("--check-data", action="store_true",
                      help="report which datasets are found under --data-root, item counts per split, bad files")
    what.add_argument("--leaderboard", metavar="DIR",
                      help="rebuild the leaderboard (md, csv, html, png) from DIR's records alone into --out "
                           "(default: DIR) and exit")
    enc = p.add_argument_group("encoder")
    enc.add_argument("--tiny", action="store_true", help="random-weight toy-width model of the same architecture")
    enc.add_argument("--weights", help="local checkpoint file or directory in the encoder's published format, or a "
                                       "Hugging Face id ORG/NAME[:FILE] read offline from the local Hub cache")
    enc.add_argument("--trust-checkpoint", action="store_true",
                     help="allow checkpoints holding pickled Python objects (only for files you trust)")
    enc.add_argument("--aligned", nargs="?", const="", metavar="DIR",
                     help="score the LoRA-aligned encoder in DIR (`python -m align` output, or a Hub id ORG/NAME "
                          "in the local Hub cache); without DIR: runs/align/<encoder>[-tiny]/")
    enc.add_argument("--zero-shot", action="store_true",
                     help="with --aligned: score without a probe, by similarity to one report-style prompt per class")
    enc.add_argument("--allow-aligned-overlap", action="store_true",
                     help="with --aligned: score a task even if some of its test recordings were alignment training "
                          "items (refused by default); the record carries the count and the leaderboard marks it ‡")
    enc.add_argument("--device", default="cpu")
    data = p.add_argument_group("data")
    data.add_argument("--data-root", type=Path, help="folder with one sub-folder per dataset")
    data.add_argument("--allow-manifest-overlap", action="store_true",
                      help="csv manifests: use duplicate rows, files with two labels and files/groups in both "
                           "training and test as given (refused by default; flagged in records)")
    data.add_argument("--allow-outside-root", action="store_true",
                      help="csv manifests: allow audio paths outside the manifest's folder (refused by default)")
    data.add_argument("--opera-root", type=Path, default=os.environ.get("OPERA_ROOT"),
                      help="OPERA checkout holding its published split files (default: $OPERA_ROOT)")
    data.add_argument("--cache-dir", type=Path, default=default_cache_dir(),
                      help="demo data and embedding cache (default: $ACULA_ZOO_CACHE or ~/.cache/acula_zoo)")
    run = p.add_argument_group("protocol and output")
    run.add_argument("--out", type=Path,
                     help="output folder (records, leaderboard, configs/); default runs/eval (--demo: runs/demo; "
                          "--leaderboard DIR: DIR)")
    run.add_argument("--seeds", type=int, help="probe seeds (default: the task's, OPERA uses 5)")
    run.add_argument("--probe", choices=("default", "opera", "linear", "logreg"), default="default",
                     help="'default': each task's own (OPERA's protocol on T1-T19, logreg elsewhere; see "
                          "--list-tasks); 'opera' (old name 'linear'): OPERA's linear probe, 5 seeds; 'logreg': "
                          "standardised logistic (ridge) regression, regularisation by group-aware k-fold CV, refit")
    run.add_argument("--native-rate", choices=("auto", "on", "off"), default="auto",
                     help="weight-free baselines (openSMILE, log-mel statistics) at each file's own sample rate: "
                          "'auto' (default) on csv tasks only, where recordings are often 2-8 kHz; OPERA's and the "
                          "cardiac tasks keep OPERA's 16 kHz; the label gets '@native-rate' when it is on")
    run.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                     help="encoder compute precision: bf16 = bfloat16 autocast (fast only on CPUs with AVX-512 BF16 / "
                          "AMX, and on GPUs); its embeddings are cached and recorded apart from fp32's")
    run.add_argument("--batch-size", type=int, default=16)
    run.add_argument("--on-error", choices=("fail", "skip"), default="fail",
                     help="unreadable audio: stop (default) or leave the file out; a report is written either way")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    run.add_argument("--no-probe-cache", action="store_true",
                     help="fit every probe again instead of reading results cached under --cache-dir/probes (a "
                          "cached result is keyed by the embeddings, labels, splits, probe settings and code)")
    run.add_argument("--debug", action="store_true",
                     help="show the traceback of an error caused by the input (default: one line, exit code 2)")
    return p


def list_encoders() -> int:
    from adapters._listing import static_encoder_cards

    cards = static_encoder_cards()
    print(f"{'name':<20} {'rate':>6} {'dim':>5}  {'input':<10} weights")
    for c in cards:
        clip = f"{c.get('clip_seconds')} s" if c.get("clip_seconds") else "any"
        print(f"{c['name']:<20} {c.get('sample_rate', '?'):>6} {c.get('embed_dim', '?'):>5}  {clip:<10} "
              f"{c.get('weights', '')}")
    return 0


def list_tasks() -> int:
    from benchmark_tasks import all_tasks

    print(f"{'id':<22} {'dataset':<14} {'modality':<10} {'kind':<10} {'metric':<6} {'split':<16} {'probe':<7} labels")
    def order(t):  # demo first, then T1..T19, then C1..C13, numbers in numeric order
        suite = {"demo": 0, "opera": 1, "cardiac": 2}.get(t.options.get("suite"), 3)
        digits = "".join(ch for ch in t.id if ch.isdigit())
        return suite, int(digits) if digits else 0, t.id

    for t in sorted(all_tasks(), key=order):
        labels = ",".join(t.labels) if t.labels else "(continuous)"
        print(f"{t.id:<22} {t.dataset:<14} {t.modality:<10} {t.kind:<10} {t.metric:<6} {t.split:<16} "
              f"{t.default_probe:<7} {labels}")
    return 0


def manifest_policy(args):
    """What csv manifests may do that is refused by default (--allow-manifest-overlap, --allow-outside-root)."""
    from benchmark_tasks.datasets.manifest_checks import ManifestPolicy

    return ManifestPolicy(bool(getattr(args, "allow_manifest_overlap", False)),
                          bool(getattr(args, "allow_outside_root", False)))


def data_context(args):
    """The DataContext of the --data-root, --opera-root and --cache-dir flags."""
    from benchmark_tasks import DataContext

    return DataContext(data_root=args.data_root, opera_root=args.opera_root, cache_dir=args.cache_dir)


def check_data(args) -> int:
    from benchmark_tasks import select_tasks
    from benchmark_tasks.check_data import check_task, render

    selector = args.tasks if args.tasks != "demo" else "opera,cardiac"
    checks = [check_task(t, data_context(args)) for t in select_tasks(selector)]
    print(render(checks))
    found = sum(c.found for c in checks)
    print(f"{found} of {len(checks)} tasks have their data; "
          f"{sum(len(c.unreadable) for c in checks)} unreadable or missing audio files")
    return 0 if all(c.found and not c.unreadable for c in checks) else 1


def validate(args) -> int:
    from adapters import build_encoder
    from adapters._validate import validate_encoder

    failed = 0
    for name in args.encoder.split(","):
        enc = build_encoder(name, weights=args.weights, config="tiny" if args.tiny else "official",
                            trust_checkpoint=args.trust_checkpoint, device=args.device)
        print(f"{name} ({'tiny' if args.tiny else 'official'}):")
        for r in validate_encoder(enc):
            print(f"  [{'ok' if r.ok else 'FAIL'}] {r.name}: {r.detail}")
            failed += not r.ok
    print("all checks passed" if not failed else f"{failed} check(s) failed")
    return 1 if failed else 0


def rank_device(device: str) -> str:
    """Under torchrun with a CUDA device, each process takes its own GPU (cuda:LOCAL_RANK), as align does."""
    if int(os.environ.get("WORLD_SIZE", 1)) <= 1 or not device.startswith("cuda"):
        return device
    import torch

    device = f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}"
    torch.cuda.set_device(device)
    return device


def init_distributed(device: str) -> int:
    """Under torchrun (WORLD_SIZE > 1) join the process group (gloo on CPU, nccl on GPU); returns this rank."""
    if int(os.environ.get("WORLD_SIZE", 1)) <= 1:
        return 0
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return dist.get_rank()


def encoder_entry(name: str, config: str, args, aligned: str | None = None):
    """(label, builder) for one encoder: base (official/tiny) or aligned (`--aligned [DIR]`)."""
    from adapters import build_encoder

    label = name + ("-tiny" if config == "tiny" else "")
    if aligned is None:
        return label, lambda: build_encoder(name, weights=args.weights, config=config,
                                            trust_checkpoint=args.trust_checkpoint, device=args.device)

    def build_aligned_encoder():
        from align.aligned import AlignedError, read_align_config, resolve_aligned_dir

        folder = resolve_aligned_dir(aligned or None, name, config == "tiny")
        base = read_align_config(folder)["base"]
        if base["encoder"] != name or bool(base.get("tiny")) != (config == "tiny"):
            trained = base["encoder"] + (" --tiny" if base.get("tiny") else "")
            raise AlignedError(f"{folder}: the adapter was trained on {trained}, not on {name}"
                               f"{' --tiny' if config == 'tiny' else ''}; use --encoder {trained}")
        return aligned_encoder(folder, weights=args.weights, device=args.device,
                               trust_checkpoint=args.trust_checkpoint)

    return f"{label}+aligned", build_aligned_encoder


def aligned_encoder(folder, **build_args):
    """align.aligned.build_aligned(folder, ...) with the alignment summary its records carry attached."""
    from align.aligned import build_aligned, trained_items

    enc = build_aligned(folder, **build_args)
    enc.alignment = alignment_summary(folder)
    enc.trained_sha256 = trained_items(folder)   # sha256 of the training recordings (None: not recorded)
    return enc


def alignment_summary(folder) -> dict:
    """What a record says about an aligned encoder: where the adapter is and what data trained it."""
    from align.aligned import read_align_config

    info = read_align_config(folder)
    data = info.get("data", {})
    keep = ("tasks", "items", "splits", "split_policy", "allow_test_items", "test_items_used", "allow_unguarded",
            "unguarded_tasks")
    return {"dir": str(folder), "teacher": info.get("teacher", {}).get("path"), "loss": info.get("loss"),
            "reports": info.get("reports", {}).get("writer"), **{k: data.get(k) for k in keep}}


def aligned_overlap(enc, tasks: list, ctx, allow: bool = False) -> dict[str, int | None]:
    """Per task: how many of its test recordings (by sha256 of the audio bytes) an aligned encoder trained on.

    Empty for an encoder without an adapter; None per task for an adapter that did not record its training items.
    Raises:
        AlignedError: some task's test split overlaps the training items and `allow` is False.
    """
    from align.aligned import TRAINED_ITEMS, AlignedError
    from align.guard import file_sha  # memoised: the same recordings are hashed once per run
    from benchmark_tasks import load_items
    from benchmark_tasks.embeddings import sha256_or_none

    if not hasattr(enc, "trained_sha256"):
        return {}
    if enc.trained_sha256 is None:
        print(f"note: {enc.alignment['dir']} has no {TRAINED_ITEMS} (older run): test/training overlap not checked",
              flush=True)
        return {t.id: None for t in tasks}
    counts, totals = {}, {}
    for task in tasks:
        test = [it.path for it in load_items(task, ctx) if it.split == "test"]
        trained = sum(sha256_or_none(p, file_sha) in enc.trained_sha256 for p in test)
        counts[task.id], totals[task.id] = trained, len(test)
    hit = {t: n for t, n in counts.items() if n}
    if hit and not allow:
        listed = ", ".join(f"{t} ({n} of {totals[t]} test recordings)" for t, n in hit.items())
        raise AlignedError(f"{enc.alignment['dir']}/{TRAINED_ITEMS}: the adapter was trained on test recordings of "
                           f"{listed}; its scores would be leaked: pass --allow-aligned-overlap to score anyway "
                           f"(marked ‡)")
    return counts


def write_run_config(out: Path, config: dict) -> Path:
    """Write this run's config to OUT/configs/config-<UTC time>-<pid>.json, a new file per run (created exclusively,
    a counter added on a clash, so no run's config is ever overwritten), and copy it to OUT/config.json, which
    always holds the latest run's. Returns the per-run file."""
    import datetime as dt
    import json

    from adapters._io import write_json

    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    folder = out / "configs"
    folder.mkdir(parents=True, exist_ok=True)
    for n in range(1000):
        path = folder / f"config-{stamp}-{os.getpid()}{f'-{n}' if n else ''}.json"
        try:
            with open(path, "x") as fh:
                json.dump({**config, "config_file": str(path)}, fh, indent=2)
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(f"{folder}: could not create a new config file for {stamp}")
    write_json(out / "config.json", {**config, "config_file": str(path)})
    return path


def write_run_leaderboard(out: Path, labels: list[str], cache_dir: Path | None = None) -> dict[str, Path]:
    """Rebuild OUT's leaderboard from every record in OUT (rows of `labels` first, in that order); its PNGs are kept
    by content under cache_dir/figures (None: always drawn)."""
    from benchmark_tasks.leaderboard import load_leaderboard_records, write_leaderboard

    order = {label: i for i, label in enumerate(labels)}
    records = sorted(load_leaderboard_records(out), key=lambda r: order.get(r["encoder_label"], len(order)))
    return write_leaderboard(out, records, figure_cache=None if cache_dir is None else cache_dir / "figures")


def run_evaluation(entries: list, task_selector: str, args, aligned_dir: Path | None = None,
                   leaderboard: bool = True) -> list[dict]:
    """entries: (label, builder) pairs, builder() -> AudioEncoder. Returns the records written.

    Under torchrun every rank embeds its shard of the missing clips into the shared cache; rank 0 alone runs the
    probes and writes records and (unless `leaderboard` is False) the leaderboard.
    """
    from benchmark_tasks import select_tasks
    from benchmark_tasks.runner import RunConfig, evaluate_task

    args.device = rank_device(args.device)   # the encoder builders below read it when they run
    rank = init_distributed(args.device)
    tasks = select_tasks(task_selector, manifest_policy=manifest_policy(args))
    ctx = data_context(args)
    probe = "zero-shot" if getattr(args, "zero_shot", False) else args.probe
    cfg = RunConfig(out_dir=args.out, cache_dir=args.cache_dir / "embeddings", seeds=args.seeds, probe=probe,
                    batch_size=args.batch_size, on_error=args.on_error,
                    progress=not args.no_progress and rank == 0, aligned_dir=aligned_dir,
                    native_rate=getattr(args, "native_rate", "auto"), precision=getattr(args, "precision", "fp32"),
                    probe_cache_dir=None if getattr(args, "no_probe_cache", False) else args.cache_dir / "probes")
    if rank == 0:
        write_run_config(args.out, {"encoders": [label for label, _ in entries], "tasks": [t.id for t in tasks],
                                    "run": {k: str(v) for k, v in asdict(cfg).items()},
                                    "data": {k: str(v) for k, v in asdict(ctx).items()}})
    records = []
    for label, build in entries:
        enc = build()
        overlap = aligned_overlap(enc, tasks, ctx, getattr(args, "allow_aligned_overlap", False))
        summary = getattr(enc, "alignment", None)
        for task in tasks:
            t0 = time.perf_counter()
            if task.id in overlap:   # this (adapter, task)'s record says how many test items it trained on
                enc.alignment = {**summary, "test_items_overlap": overlap[task.id]}
            rec = evaluate_task(enc, label, task, ctx, cfg, extract_only=rank != 0)
            if rec is None:
                continue
            records.append(rec)
            print(f"  {rec['encoder_label']:<22} {task.id:<22} {rec['metric']} {rec['mean']:.3f} ± {rec['std']:.3f}"
                  f"  ({time.perf_counter() - t0:.1f} s, {rec['timings']['computed']} clips encoded)", flush=True)
            if rec["n_errors"] or rec["n_warnings"]:
                print(f"  {'':<22} {'':<22} skipped {rec['n_errors']} file(s), {rec['n_warnings']} warning(s) "
                      f"(see {rec['error_report']})", flush=True)
    if rank != 0 or not leaderboard:
        return records
    paths = write_run_leaderboard(args.out, [label for label, _ in entries], args.cache_dir)
    print()
    print(paths["md"].read_text())
    print(f"records in {args.out / 'records'}; leaderboard: {paths['md']}, {paths['html']}, {paths['png']}")
    return records


def run_demo(args) -> int:
    """The main job on the embedded default: align the tiny OPERA-GT on the demo benchmark's train split (and,
    as a control, on the same reports shuffled across recordings), then score base, aligned, control and the
    weight-free baselines on every demo task and print the paired differences."""
    from adapters import build_encoder
    from align.aligned import build_base
    from align.train import align_for_demo

    if args.out is None:
        args.out = Path("runs/demo")
    t0 = time.perf_counter()
    progress = not args.no_progress
    print("[1/3] aligning the tiny OPERA-GT with the MiniLM text teacher on the demo train split", flush=True)
    folder = align_for_demo("opera-gt", "tiny", out_dir=args.out / "align" / "opera-gt-tiny",
                            cache_dir=args.cache_dir, progress=progress)
    print(f"      adapter: {folder} ({time.perf_counter() - t0:.0f} s)", flush=True)
    print("[2/3] control: the same alignment with each recording's report swapped for another's", flush=True)
    control = align_for_demo("opera-gt", "tiny", out_dir=args.out / "align" / "opera-gt-tiny-shuffled",
                             cache_dir=args.cache_dir, progress=progress, reports="shuffled")
    print(f"      adapter: {control} ({time.perf_counter() - t0:.0f} s)", flush=True)
    print("[3/3] scoring base, aligned and control encoders on the demo tasks (the demo tasks' default probe: "
          "standardised logistic regression, C by group-aware CV)",
          flush=True)
    labels = {"base": "opera-gt-tiny", "aligned": "opera-gt-tiny+aligned", "control": "opera-gt-tiny+shuffled"}
    entries = [(labels["base"], lambda: build_base(folder)),
               (labels["aligned"], lambda: aligned_encoder(folder)),
               (labels["control"], lambda: aligned_encoder(control))]
    entries += [(n, lambda n=n: build_encoder(n)) for n in DEMO_BASELINES]
    records = run_evaluation(entries, "demo", args, leaderboard=False)
    print()
    print(render_comparison(records, labels["base"], labels["aligned"], labels["control"]))
    paths = write_run_leaderboard(args.out, [label for label, _ in entries], args.cache_dir)
    print(f"demo finished in {time.perf_counter() - t0:.0f} s")
    print("demo leaderboard: " + ", ".join(str(paths[k]) for k in ("md", "html", "png", "heatmap") if k in paths))
    return 0


def render_comparison(records: list[dict], base: str, aligned: str, control: str | None = None) -> str:
    """Per task: base, aligned (and control) AUROC and aligned − base with its paired bootstrap 95% CI over test
    items; then the means over tasks with paired CIs and, with a control, whether the gain survives it."""
    from benchmark_tasks.paired import paired_difference

    by = {(r["task"], r["encoder_label"]): r for r in records if r["metric"] == "auroc"}
    wanted = [base, aligned] + ([control] if control else [])
    tasks = [t for t in dict.fromkeys(r["task"] for r in records) if all((t, w) in by for w in wanted)]
    head = f"{'task':<22} {'base':>6} {'aligned':>8}" + (f" {'control':>8}" if control else "")
    lines = [head + "   aligned - base [95% CI, paired]"]
    for t in tasks:
        b, a = by[(t, base)], by[(t, aligned)]
        row = f"{t:<22} {b['mean']:>6.3f} {a['mean']:>8.3f}"
        row += f" {by[(t, control)]['mean']:>8.3f}" if control else ""
        lines.append(f"{row}   {paired_difference([(b, a)]).text()}")
    if not tasks:
        return "\n".join(lines)
    mean = {w: sum(by[(t, w)]["mean"] for t in tasks) / len(tasks) for w in wanted}
    row = f"{'mean AUROC':<22} {mean[base]:>6.3f} {mean[aligned]:>8.3f}"
    row += f" {mean[control]:>8.3f}" if control else ""
    gain = paired_difference([(by[(t, base)], by[(t, aligned)]) for t in tasks])
    lines.append(f"{row}   {gain.text()}")
    if control:
        ctrl = paired_difference([(by[(t, base)], by[(t, control)]) for t in tasks])
        over = paired_difference([(by[(t, control)], by[(t, aligned)]) for t in tasks])
        verdict = ("the gain survives the control" if over.lo > 0 else
                   "the gain does NOT survive the control: the shuffled-report run explains it (or the test sets "
                   "are too small to tell)")
        lines.append(f"mean over {len(tasks)} tasks: control - base {ctrl.text()}; aligned - control {over.text()}: "
                     f"{verdict}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.list_encoders:
        return list_encoders()
    if args.list_tasks:
        return list_tasks()
    if args.check_data:
        return check_data(args)
    if args.leaderboard:
        from benchmark_tasks.leaderboard import load_leaderboard_records, write_leaderboard

        records = load_leaderboard_records(args.leaderboard)
        paths = write_leaderboard(args.out or Path(args.leaderboard), records)
        print(paths["md"].read_text())
        print("leaderboard: " + ", ".join(str(p) for p in paths.values()))
        return 0
    from adapters._threads import configure_threads  # only the commands that run models load torch

    configure_threads()
    if args.demo:
        return run_demo(args)
    if args.out is None:
        args.out = Path("runs/eval")
    if not args.encoder:
        build_parser().error("--encoder is required (or --demo, --list-encoders, --list-tasks, --leaderboard)")
    if args.validate:
        return validate(args)
    config = "tiny" if args.tiny else "official"
    names = args.encoder.split(",")
    if args.zero_shot:
        if args.aligned is None or len(names) != 1:
            build_parser().error("--zero-shot scores one aligned encoder: give one --encoder and --aligned [DIR]")
        from align.aligned import resolve_aligned_dir

        folder = resolve_aligned_dir(args.aligned or None, names[0], args.tiny)
        run_evaluation([encoder_entry(names[0], config, args, str(folder))], args.tasks, args, aligned_dir=folder)
        return 0
    run_evaluation([encoder_entry(n, config, args, args.aligned) for n in names], args.tasks, args)
    return 0


if __name__ == "__main__":
    from adapters._cli import run_cli

    sys.exit(run_cli(main, prog="evaluate.py"))
