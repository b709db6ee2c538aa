"""Every clinical fact a dataset reader emits reaches the reports; identifiers and placeholders never do.

For every registered dataset the reader's own test fixture (tests/unit/test_ds_<name>.py, the publisher's
layout) is built and read, and each item's metadata goes through the declaration (benchmark_tasks/clinical.py),
the template writer and the LLM prompt builder (no network): every key must be declared, every present clinical
value must be stated (in its normalised form), absent findings must read as absent, and no identifier value and
no placeholder (None, nan, NA) may appear. csv manifests are checked with and without recognised columns.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
from pathlib import Path

import pytest

from align.llm_reports import LLMReportWriter, _mentions, unsupported_findings
from align.reports import _phrases, describe_metadata, template_report
from benchmark_tasks import DataContext, all_tasks, load_items, select_tasks
from benchmark_tasks._registry import _READERS
from benchmark_tasks.clinical import (
    FACTS,
    GENERIC,
    declaration,
    infer_declaration,
    is_missing,
    read_facts,
    task_declaration,
)

FIXTURE_DATASETS = ("bmdhs", "circor", "coswara", "coughvid", "covid19sounds", "icbhi", "kauh", "mmlung", "nosemic",
                    "resp_tr", "sprsound", "ssbpr", "ukcovid", "zchsound")
PLACEHOLDER = re.compile(r"\b(?:None|nan|NaN|NA|N/A|null|NULL)\b|<NA>|\(\s*\)|:\s*[.;,]|:\s*$|\s{2,}", re.M)
SEEDS = (0, 1)


def _context(built) -> DataContext:
    """The DataContext out of whatever a test_ds_<name>._make returns (a context, a data root, or a tuple)."""
    if isinstance(built, DataContext):
        return built
    if isinstance(built, Path):
        return DataContext(data_root=built)
    return next(b for b in built if isinstance(b, DataContext))


def _demo_items(tmp_path) -> list:
    demo_tests = importlib.import_module("test_demo")
    ctx = DataContext(cache_dir=tmp_path / "cache")
    items = []
    for task in (t for t in all_tasks() if t.dataset == "demo"):
        small = demo_tests._small(task.id)
        items += [(small, it) for it in load_items(small, ctx)[:12]]
    return items


@pytest.fixture(scope="module")
def dataset_items(tmp_path_factory) -> dict[str, list]:
    """dataset -> [(task, item)] read from each reader's own test fixture, for every task of the dataset."""
    out = {}
    for name in FIXTURE_DATASETS:
        builder = importlib.import_module(f"test_ds_{name}")
        ctx = _context(builder._make(tmp_path_factory.mktemp(name)))
        out[name] = [(task, it) for task in all_tasks() if task.dataset == name for it in load_items(task, ctx)]
    out["demo"] = _demo_items(tmp_path_factory.mktemp("demo"))
    return out


def test_every_registered_dataset_is_covered_here():
    all_tasks()  # registers every dataset module
    shipped = {name for name, reader in _READERS.items() if reader.__module__.startswith("benchmark_tasks.")}
    assert shipped - {"csv"} == set(FIXTURE_DATASETS) | {"demo"}


def _identifier_values(metadata: dict, decl) -> list[str]:
    return [str(v).strip() for k, v in metadata.items() if decl.classify(k)[0] == "identifier"
            and isinstance(v, (str, int)) and len(str(v).strip()) >= 3]


def _check_text(text: str, metadata: dict, decl, prompt: bool) -> None:
    """`text` (a report or a prompt) states every reading of `metadata` and nothing it must not."""
    low = text.lower()
    items = read_facts(metadata, decl)
    by_fact = {}
    for r in items:
        by_fact.setdefault(r.fact.name, []).append(r)
    for r in items:
        if r.state == "unknown":
            continue
        if r.fact.name == "other":
            assert f"{r.label}: {r.text}".lower() in low, (r, text)
        elif r.state == "absent":
            if r.fact.many and any(o.state in ("present", "value") for o in by_fact[r.fact.name]):
                continue  # a list with items states those; its absent members are not listed
            assert r.fact.noun, r
            assert False in _mentions(text, r.fact.regex), (r, text)  # stated, and negated
        elif r.state == "present" and r.text == "present":
            assert True in _mentions(text, r.fact.regex), (r, text)  # stated, and affirmed
        else:
            assert r.text.lower() in low, (r, text)
        if r.rater:
            assert r.rater in text, (r, text)
    assert not PLACEHOLDER.search(text if not prompt else text.replace("\n", " ")), text
    for value in _identifier_values(metadata, decl):
        assert not re.search(rf"(?<![\w.]){re.escape(value.lower())}(?![\w])", low), (value, text)


@pytest.mark.parametrize("name", FIXTURE_DATASETS + ("demo",))
def test_every_metadata_key_is_declared(dataset_items, name):
    decl = declaration(name)
    assert decl.fields, f"{name}: no CLINICAL_FIELDS declared"
    keys = {k for _, it in dataset_items[name] for k in it.metadata}
    assert keys and not [k for k in sorted(keys) if not decl.declares(k)]
    # the writers find the declaration from the keys alone (align.data hands them only metadata)
    assert {infer_declaration(it.metadata).dataset for _, it in dataset_items[name]} == {name}


@pytest.mark.parametrize("name", FIXTURE_DATASETS + ("demo",))
def test_every_present_clinical_value_is_read(dataset_items, name):
    decl = declaration(name)
    for _, it in dataset_items[name]:
        sources = {r.source for r in read_facts(it.metadata, decl)}
        for key, value in it.metadata.items():
            kind, field = decl.classify(key)
            if kind == "clinical" and not is_missing(value) and not field.fallback:
                assert key in sources, (name, key, value)


@pytest.mark.parametrize("name", FIXTURE_DATASETS + ("demo",))
def test_reports_and_prompts_state_every_fact(dataset_items, name, tmp_path):
    decl = declaration(name)
    writer = LLMReportWriter("http://127.0.0.1:9/v1", "unit", cache_dir=tmp_path, progress=False)
    for task, it in dataset_items[name]:
        for seed in SEEDS:
            report = template_report(it.metadata, task.modality, seed)
            assert report == template_report(it.metadata, task.modality, seed, declaration=decl)
            _check_text(report, it.metadata, decl, prompt=False)
            assert unsupported_findings(report, it.metadata) == [], report
        _, system, user = writer.prompt(it.metadata, task.modality, decl)
        assert user == describe_metadata(it.metadata, task.modality)
        _check_text(user, it.metadata, decl, prompt=True)


def _report_of(dataset_items, name, uid_start, modality=None):
    task, it = next((t, i) for t, i in dataset_items[name] if i.uid.startswith(uid_start))
    return template_report(it.metadata, modality or task.modality, 0), it.metadata


def test_measured_defects_are_gone(dataset_items):
    report, _ = _report_of(dataset_items, "coughvid", "00000002")  # the experts' labels are reported
    assert "dry (expert 1)" in report and "good (expert 1)" in report and "COVID-19 positive" in report.replace(
        "status is positive", "positive").replace("the subject is COVID-19 positive", "COVID-19 positive")
    for _, it in dataset_items["circor"]:
        report = template_report(it.metadata, "heart", 0).lower()
        at_site = it.metadata["murmur_at_location"]
        if at_site == "Absent":
            assert re.search(r"no murmur (?:is heard )?at this site", report), report
        elif at_site == "Present":
            assert "murmur is present at this site" in report or "murmur is heard at this site" in report
        else:
            assert "murmur" not in report  # Unknown: not stated
    rates = {it.metadata["respiratory_rate_bpm"]: template_report(it.metadata, "breath", 0)
             for _, it in dataset_items["nosemic"]}
    assert len(set(rates.values())) == len(rates) and all(f"{r:g} breaths per minute" in t for r, t in rates.items())
    for _, it in dataset_items["covid19sounds"]:
        report = template_report(it.metadata, "cough", 0)
        assert "None" not in report
        if it.metadata["Symptoms"] == "None":
            assert "no symptoms" in report.lower()
    report, md = _report_of(dataset_items, "icbhi", "104_1b1")
    assert md["n_crackle_cycles"] == 2 and "crackles are annotated in 2 respiratory cycles" in report
    spr = [template_report(it.metadata, "lung", 0) for _, it in dataset_items["sprsound"]]
    assert any("continuous adventitious sounds (CAS)" in t for t in spr) and any("wheezes" in t for t in spr)
    cos = [template_report(it.metadata, "cough", 0) for _, it in dataset_items["coswara"]]
    assert all("aged" in t for t in cos) and any("symptoms are cough" in t or "include cough" in t for t in cos)
    uk = [template_report(it.metadata, "cough", 0) for _, it in dataset_items["ukcovid"]]
    assert all("smok" in t for t in uk) and any("symptoms are cough" in t or "include cough" in t for t in uk)


def test_phrases_of_every_finding_read_as_stated():
    for name, fact in FACTS.items():
        if not fact.noun:
            continue
        ph = _phrases(name)
        for text in ph.absent:
            assert False in _mentions(text, fact.regex) and True not in _mentions(text, fact.regex), (name, text)
        for text in ph.present:
            assert True in _mentions(text.format(value="cough"), fact.regex), (name, text)


# ---------------------------------------------------------------------------------------------------------
# csv manifests
# ---------------------------------------------------------------------------------------------------------
def _manifest(tmp_path, text: str, id_columns=None):
    path = tmp_path / "manifest.csv"
    path.write_text(text)
    (task,) = select_tasks(f"csv:{path}")
    if id_columns:
        from benchmark_tasks.datasets.manifest import manifest_task

        task = manifest_task(path, id_columns=id_columns)
    return task, load_items(task, DataContext())


def test_manifest_recognised_generic_and_identifier_columns(tmp_path):
    task, items = _manifest(tmp_path, "path,label,age,sex,site,wheeze,diagnosis,colour,subject_id,notes\n"
                                      "a.wav,1,40,F,trachea,yes,asthma,red,SUBJ-0042,\n"
                                      "b.wav,0,61,M,,no,None,blue,SUBJ-0043,seen twice\n")
    decl = task_declaration(task)
    assert decl.dataset == "csv" and infer_declaration(items[0].metadata) is GENERIC
    first, second = (template_report(i.metadata, "lung", 0, decl) for i in items)
    assert "40 years" in first and "female" in first and "trachea" in first and "asthma" in first
    assert True in _mentions(first, FACTS["wheeze"].regex) and "colour: red" in first.lower() and "SUBJ" not in first
    assert False in _mentions(second, FACTS["wheeze"].regex) and "notes: seen twice" in second.lower()
    assert "None" not in second and "diagnosis" not in second.lower()  # 'None' in a plain category: not stated
    for it in items:
        _check_text(template_report(it.metadata, "lung", 1, decl), it.metadata, decl, prompt=False)
        _check_text(describe_metadata(it.metadata, "lung", decl), it.metadata, decl, prompt=True)


def test_manifest_without_recognised_columns_is_reported_generically(tmp_path):
    task, items = _manifest(tmp_path, "path,label,score,ward\na.wav,x,5,B2\nb.wav,y,7,C1\n")
    reports = [template_report(i.metadata, "custom", 0, task_declaration(task)).lower() for i in items]
    assert "score: 5" in reports[0] and "ward: b2" in reports[0] and "score: 7" in reports[1]
    assert "score: 5" in describe_metadata(items[0].metadata, "custom", task_declaration(task))


def test_manifest_id_columns_are_never_reported(tmp_path):
    text = "path,label,code,mood\na.wav,x,X123,calm\nb.wav,y,X124,tense\n"
    task, items = _manifest(tmp_path, text)
    assert "code: x123" in template_report(items[0].metadata, "custom", 0, task_declaration(task)).lower()
    task, items = _manifest(tmp_path, text, id_columns="code")
    assert task.options["id_columns"] == ["code"]
    decl = task_declaration(task)
    for it in items:
        for text_ in (template_report(it.metadata, "custom", 0, decl), describe_metadata(it.metadata, "custom", decl)):
            assert "X12" not in text_ and "mood: " in text_.lower()
    from benchmark_tasks.datasets.manifest import ManifestError, manifest_task

    with pytest.raises(ManifestError, match="not columns of the manifest"):
        manifest_task(tmp_path / "manifest.csv", id_columns=["nope"])


def test_placeholders_never_appear(tmp_path):
    md = {"subject": "S-001", "age": "nan", "sex": None, "symptoms": "none", "crackles": "none", "wheeze": "",
          "findings": "None", "diagnosis": "NA"}
    report = template_report(md, "lung", 0)
    assert not PLACEHOLDER.search(report) and "no symptoms" in report.lower() and "S-001" not in report
    assert not PLACEHOLDER.search(describe_metadata(md, "lung").replace("\n", " "))
    assert dataclasses.is_dataclass(FACTS["age"])
