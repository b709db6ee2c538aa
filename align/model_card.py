"""The model card of an aligned-adapter folder: FOLDER/README.md with Hugging Face YAML front matter, so that
`huggingface_hub.upload_folder(folder_path=FOLDER, repo_id="ORG/NAME")` publishes the folder as is and
`evaluate.py --aligned ORG/NAME` loads it back from the local Hub cache.

Front matter (Hugging Face model card metadata, huggingface_hub v2.4.0 src/huggingface_hub/repocard_data.py:
`ModelCardData`, `eval_results_to_model_index`):
    base_model      the base encoder's Hub repository (the id it was loaded by, or the family's published
                    repository for pretrained weights given as a file); left out for random-weight bases
    library_name    peft (LoRA adapters; left out for full fine-tuning, whose encoder.safetensors is a state dict)
    tags            audio, medical, acula-zoo, lora | full-fine-tuning, <encoder>
    datasets        the datasets of the alignment tasks (an own manifest counts under its task name)
    model-index     one result per (task, probe, split) from the result records of this adapter (matched by
                    adapter sha256): task, dataset, metric and value (the mean over seeds), probe in metric args
The body states the base, report writer, teacher, loss, leakage-guard settings, trained item count, the results
and how to load the adapter.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import yaml

from adapters._io import write_text
from align.aligned import read_align_config

CARD = "README.md"
_TASK_TYPES = {"binary": "audio-classification", "multiclass": "audio-classification", "regression": "other"}
_METRIC_TYPES = {"auroc": "roc_auc"}   # Hugging Face metric ids (hf.co/metrics); other metrics keep their name


def matching_records(info: dict, records: Iterable[dict]) -> list[dict]:
    """The records of this adapter (same adapter sha256), the newest per (task, task version, probe, split)."""
    newest: dict[tuple, dict] = {}
    for rec in records:
        if rec.get("adapter_sha256") != info["adapter_sha256"] or not rec.get("alignment"):
            continue
        key = (rec["task"], rec.get("task_version"), rec["protocol"]["probe"], rec.get("split_fingerprint"))
        if key not in newest or str(rec.get("date", "")) > str(newest[key].get("date", "")):
            newest[key] = rec
    return [newest[k] for k in sorted(newest, key=lambda k: tuple(str(x) for x in k))]


def training_datasets(info: dict) -> list[str]:
    """Datasets of the alignment tasks, from the task registry; a task it does not know keeps its id."""
    from benchmark_tasks._registry import UnknownTaskError, get_task

    out = []
    for task_id in info.get("data", {}).get("tasks", []):
        try:
            name = get_task(task_id).dataset
        except UnknownTaskError:
            name = task_id
        out.append(task_id if name == "csv" else name)
    return list(dict.fromkeys(out))


def base_model(info: dict) -> str | None:
    """Hub repository of the base weights: the one they were loaded from, else the family's published one (only
    for pretrained weights); None for random-weight bases or families published outside the Hub."""
    from adapters import get_encoder_class
    from adapters._hub import published_hub_weights

    base = info["base"]
    if base.get("random_init"):
        return None
    source = base.get("weights_source") or ""
    if source.startswith("hub:"):
        return source[4:].split("@", 1)[0]
    return published_hub_weights(get_encoder_class(base["encoder"]).spec.weights)[0]


def model_name(info: dict) -> str:
    base = info["base"]
    return f"{base['encoder']}{'-tiny' if base.get('tiny') else ''}-acula-{info.get('kind', 'lora')}"


def model_index(info: dict, records: list[dict]) -> list[dict]:
    """`model-index` entries (Hugging Face's format) of the matching records."""
    results = []
    for rec in records:
        probe = rec["protocol"]["probe"]
        args = {"probe": probe, "seeds": rec["protocol"].get("seeds"), "std": rec.get("std")}
        if rec.get("ci95"):
            args["ci95"] = [float(x) for x in rec["ci95"]]
        results.append({
            "task": {"type": _TASK_TYPES.get(rec.get("kind"), "other"), "name": f"{rec['task']} {rec['task_name']}"},
            "dataset": {"type": rec["dataset"], "name": rec["task_name"], "split": "test",
                        "args": {"task": rec["task"], "task_version": rec.get("task_version"),
                                 "split_fingerprint": rec.get("split_fingerprint"), "n_items": rec.get("n_items")}},
            "metrics": [{"type": _METRIC_TYPES.get(rec["metric"], rec["metric"]), "value": float(rec["mean"]),
                         "name": f"{rec['metric']} ({probe} probe)", "args": args}],
        })
    return [{"name": model_name(info), "results": results}] if results else []


def card_metadata(info: dict, records: list[dict]) -> dict:
    """The YAML front matter as a dict (keys in the order they are written)."""
    lora = info.get("kind", "lora") == "lora"
    meta: dict = {}
    base = base_model(info)
    if base:
        meta["base_model"] = base
    if lora:
        meta["library_name"] = "peft"
    meta["tags"] = ["audio", "medical", "acula-zoo", "lora" if lora else "full-fine-tuning", info["base"]["encoder"]]
    datasets = training_datasets(info)
    if datasets:
        meta["datasets"] = datasets
    index = model_index(info, records)
    if index:
        meta["model-index"] = index
    return meta


def _weights_id(source: str | None) -> str | None:
    """"hub:ORG/NAME@<commit>[:FILE]" -> "ORG/NAME[:FILE]" (what --weights takes); None for other sources."""
    if not source or not source.startswith("hub:"):
        return None
    repo, _, rest = source[4:].partition("@")
    file = rest.partition(":")[2]
    return repo + (f":{file}" if file else "")


def _load_command(info: dict) -> str:
    base = info["base"]
    flags = " --tiny" if base.get("tiny") else ""
    if not base.get("random_init"):
        flags += " --weights " + (_weights_id(base.get("weights_source")) or "BASE_CHECKPOINT")
    return f"python evaluate.py --encoder {base['encoder']}{flags} --aligned ORG/NAME --tasks TASKS"


def card_body(info: dict, records: list[dict]) -> str:
    """The markdown body: what was trained, on what, with which guard, what it scores, and how to load it."""
    base, data, teacher = info["base"], info.get("data", {}), info.get("teacher", {})
    reports, adapter, opt = info.get("reports", {}), info.get("adapter", {}), info.get("optimisation", {})
    trained = (info.get("trained_items") or {}).get("count")
    if base.get("random_init"):
        weights = "random weights (build_encoder's fixed seed; exact copy in base_weights.safetensors)"
    else:
        weights = f"weights sha256 {base.get('weights_sha256')}" + (
            f" ({base['weights_source']})" if base.get("weights_source") else "")
    llm = f" ({reports.get('llm_model')} at {reports.get('llm_base_url')})" if reports.get("writer") == "llm" else ""
    guard_tasks = data.get("leakage_guard_tasks") or []
    lines = [
        f"# {model_name(info)}", "",
        f"An AcuLa-style alignment of the audio encoder `{base['encoder']}` with a text teacher, trained by "
        f"acula-zoo: {'a LoRA adapter' if info.get('kind', 'lora') == 'lora' else 'fully fine-tuned weights'} "
        f"plus audio and text projection heads.", "",
        "## Training", "",
        f"- base: `{base['encoder']}` ({'tiny' if base.get('tiny') else 'official'} config), {weights}",
        f"- report writer: {reports.get('writer')}{llm}, seed {reports.get('seed')}",
        f"- teacher: `{teacher.get('path')}` (sha256 {teacher.get('sha256')}), pooling {teacher.get('pooling')}, "
        f"dtype {teacher.get('dtype')}, max length {teacher.get('max_length')}, prefix {teacher.get('prefix')!r}",
        f"- loss: {info.get('loss')} (variant {info.get('cka_variant')}), self-supervised term {info.get('ssl')}, "
        f"lambda_align {info.get('lambda_align')}, lambda_ssl {info.get('lambda_ssl')}",
        f"- adapter: {adapter.get('method')}, rank {adapter.get('rank')}, alpha {adapter.get('alpha')}, targets "
        f"{', '.join(adapter.get('targets', []))}",
        f"- optimisation: {opt.get('steps')} steps, batch {opt.get('batch_size')} x {opt.get('grad_accum')}, lr "
        f"{opt.get('lr')}, seed {info.get('seed')}, recipe {info.get('recipe')}",
        f"- alignment tasks: {', '.join(data.get('tasks', []))}; {data.get('items')} training and "
        f"{data.get('val_items')} held-out recordings; trained items: {trained} (sha256 of each in trained_items.txt)",
        "", "## Leakage guard", "",
        f"- split policy: {data.get('split_policy')}",
        f"- test items allowed: {data.get('allow_test_items')}; test items used: {data.get('test_items_used')}",
        f"- excluded: {data.get('excluded_test_items')} test items, {data.get('excluded_by_group')} of them as "
        f"recordings of test subjects",
        f"- guarded tasks ({len(guard_tasks)}): {', '.join(guard_tasks) or 'none'}; manifests: "
        f"{', '.join(data.get('guard_manifests') or []) or 'none'}",
        f"- unguarded allowed: {data.get('allow_unguarded')}; unguarded tasks: "
        f"{', '.join(data.get('unguarded_tasks') or []) or 'none'}",
        "", "## Results", "",
    ]
    if records:
        lines += ["| task | dataset | metric | mean ± std | 95% CI | probe | split |", "|---|---|---|---|---|---|---|"]
        for r in records:
            ci = "[{:.3f}, {:.3f}]".format(*r["ci95"]) if r.get("ci95") else "-"
            lines.append(f"| {r['task']} | {r['dataset']} | {r['metric']} | {r['mean']:.3f} ± {r.get('std', 0):.3f} "
                         f"| {ci} | {r['protocol']['probe']} | {r.get('split_fingerprint')} |")
    else:
        lines.append("No result records yet: score it with evaluate.py, then `python -m align card DIR --records "
                     "RUNS_DIR`.")
    lines += ["", "## How to use", "", "```bash", "hf download ORG/NAME", _load_command(info), "```", "",
              "`evaluate.py --aligned ORG/NAME` reads the adapter offline from the local Hugging Face cache. "
              f"The adapter sha256 is {info['adapter_sha256']}.", ""]
    return "\n".join(lines)


def render_model_card(folder: str | Path, records: Iterable[dict] | None = None) -> str:
    """README.md text of an aligned folder: YAML front matter, then the body."""
    info = read_align_config(folder)
    mine = matching_records(info, records or [])
    front = yaml.safe_dump(card_metadata(info, mine), sort_keys=False, allow_unicode=True, width=1000)
    return f"---\n{front}---\n\n{card_body(info, mine)}"


def write_model_card(folder: str | Path, records: Iterable[dict] | None = None) -> Path:
    """Write FOLDER/README.md atomically (records: result records; those of this adapter become its results)."""
    path = Path(folder) / CARD
    write_text(path, render_model_card(folder, records))
    return path


def records_under(folders: Iterable[str | Path]) -> list[dict]:
    """Every result record in the given folders and in any `records/` folder below them (each read once)."""
    from benchmark_tasks.records import load_records

    seen, out = set(), []
    for folder in folders:
        root = Path(folder)
        roots = [root, *(p.parent for p in sorted(root.rglob("records")) if p.is_dir())]
        for r in roots:
            for rec in load_records(r):
                if rec["record_path"] not in seen:
                    seen.add(rec["record_path"])
                    out.append(rec)
    return out
