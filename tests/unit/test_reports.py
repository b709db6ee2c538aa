"""Template reports: deterministic, varied, faithful to the metadata, free of identifiers and placeholders."""

from __future__ import annotations

import re

import numpy as np
import pytest

from align.llm_reports import _mentions, unsupported_findings
from align.reports import class_prompts, describe_metadata, readings, template_report
from benchmark_tasks.clinical import FACTS, GENERIC, RECOGNISED, declaration, infer_declaration

IDENTIFIERS = {"subject": "SUBJ-0042", "uid": "uid-9f1c2e", "path": "/data/demo/lung/SUBJ-0042_rec3.wav",
               "split": "test", "difficulty": "hard"}
DEMO_LUNG = {**IDENTIFIERS, "age": 63, "sex": "male", "site": "posterior left base", "device": "Littmann 3200",
             "modality": "lung", "crackles": "fine", "wheeze": "no", "murmur": None, "murmur_grade": None,
             "cough_type": None, "findings": None, "diagnosis": "pneumonia", "symptoms": "fever; dyspnoea"}
DEMO_HEART = {**IDENTIFIERS, "age": 8, "sex": "female", "site": "mitral", "modality": "heart", "crackles": None,
              "wheeze": None, "murmur": "present", "murmur_grade": 3, "murmur_shape": "diamond",
              "murmur_timing": "holosystolic", "diagnosis": "", "symptoms": float("nan")}
DEMO_COUGH = {**IDENTIFIERS, "age": 41, "sex": "female", "modality": "cough", "cough_type": "wet",
              "crackles": "", "wheeze": "nan", "murmur": np.nan}
GENERIC_LUNG = {"Patient_ID": "101", "Chest_Location": "Tc", "Equipment": "Meditron", "Crackles": 0, "Wheezes": 1,
                "Diagnosis": "URTI", "Age": 3, "Sex": "F"}
CIRCOR = {"Patient ID": 50001, "Age": "Child", "Sex": "Female", "Murmur": "Present", "Murmur locations": "AV+PV+TV",
          "Most audible location": "TV", "Systolic murmur timing": "Holosystolic", "Systolic murmur shape": "Plateau",
          "Systolic murmur grading": "III/VI", "Systolic murmur pitch": "High", "Systolic murmur quality": "Blowing",
          "Diastolic murmur timing": float("nan"), "Outcome": "Abnormal"}
CASES = [(DEMO_LUNG, "lung"), (DEMO_HEART, "heart"), (DEMO_COUGH, "cough"), (GENERIC_LUNG, "lung"),
         (CIRCOR, "heart"), ({"covid_status": "positive", "smoker": "no", "gender": "male", "age": 30}, "cough"),
         ({}, "breath")]


def _sentences(text: str) -> int:
    return len([s for s in re.split(r"(?<=\.)\s+(?=[A-Z])", text) if s])


@pytest.mark.parametrize("metadata, modality", CASES)
def test_deterministic_for_a_seed_and_key_order(metadata, modality):
    a = template_report(metadata, modality, seed=3)
    assert a == template_report(metadata, modality, seed=3)
    assert a == template_report(dict(reversed(list(metadata.items()))), modality, seed=3)
    assert 1 <= _sentences(a) <= 3 and a.endswith(".")


@pytest.mark.parametrize("metadata, modality", CASES[:5])
def test_phrasing_varies_across_seeds(metadata, modality):
    assert len({template_report(metadata, modality, seed=s) for s in range(10)}) >= 3


@pytest.mark.parametrize("metadata, modality", CASES)
def test_no_identifiers_and_no_unsupported_findings(metadata, modality):
    for seed in range(12):
        text = template_report(metadata, modality, seed)
        for value in IDENTIFIERS.values():
            assert value not in text
        assert "50001" not in text and "101" not in text
        assert not re.search(r"\b(split|difficulty|train|hard|None|nan|NaN)\b", text)
        assert unsupported_findings(text, metadata) == []
        low = text.lower()
        named = {r.fact.finding for r in readings(metadata)} | {r.fact.name for r in readings(metadata)}
        for group, pattern in (("murmur", "murmur"), ("crackles", "crackl"), ("wheeze", "wheez"), ("covid", "covid"),
                               ("smoking", "smok")):
            if group not in named and not any(n.startswith("murmur") for n in named if group == "murmur"):
                assert pattern not in low, (group, text)


def test_identifier_in_free_text_is_scrubbed():
    md = {**IDENTIFIERS, "findings": "SUBJ-0042 has coarse crackles (see uid-9f1c2e)"}
    text = template_report(md, "lung", 0)
    assert "SUBJ-0042" not in text and "uid-9f1c2e" not in text and "coarse crackles" in text
    prompt = describe_metadata(md, "lung")
    assert "SUBJ-0042" not in prompt and "/data/" not in prompt and "test" not in prompt


def test_missing_values_are_skipped():
    missing = {"age": None, "sex": float("nan"), "site": "", "device": "N/A", "crackles": np.float64("nan"),
               "wheeze": "nan", "murmur_grade": None, "diagnosis": "  ", "bmi": "None"}
    try:
        import pandas as pd

        missing["symptoms"] = pd.NA
    except ImportError:
        pass
    assert readings(missing) == []
    assert template_report(missing, "lung", 5) == template_report({}, "lung", 5)


# one example per fact, through a recognised column name (the generic rules of csv manifests)
FACT_EXAMPLES = {
    "age": ({"age": 72}, "72 years"), "sex": ({"sex": "F"}, "female"), "site": ({"site": "Tc"}, "trachea"),
    "device": ({"device": "Littmann 3200"}, "Littmann 3200"), "body_position": ({"position": "supine"}, "supine"),
    "symptoms": ({"symptoms": "fever, sore throat"}, "fever and sore throat"),
    "crackles": ({"crackles": "coarse"}, "coarse crackles"), "wheeze": ({"wheeze": "yes"}, "wheez"),
    "cough_type": ({"cough_type": "dry"}, "dry"), "sound_type": ({"sound_type": "Crep"}, "Crep"),
    "respiratory_rate": ({"rr": 16}, "16 breaths per minute"), "fvc": ({"fvc": 3.2}, "FVC 3.2 L"),
    "fev1": ({"fev1": 2.5}, "FEV1 2.5 L"), "fev1_fvc": ({"fev1_fvc": 0.781}, "FEV1/FVC 0.781"),
    "murmur": ({"murmur": "Absent"}, "no murmur"),
    "murmur_locations": ({"murmur_locations": "AV+MV"}, "aortic valve area and mitral valve area"),
    "murmur_most_audible": ({"most_audible_location": "PV"}, "loudest at the pulmonary valve area"),
    "murmur_timing": ({"murmur_timing": "Early-systolic"}, "early-systolic murmur"),
    "murmur_shape": ({"murmur_shape": "Crescendo"}, "crescendo"), "murmur_grade": ({"murmur_grade": "II/VI"}, "II/VI"),
    "murmur_pitch": ({"murmur_pitch": "Low"}, "low pitch"),
    "murmur_quality": ({"murmur_quality": "Harsh"}, "harsh quality"),
    "diastolic_murmur_timing": ({"diastolic_murmur_timing": "Early-diastolic"}, "early-diastolic murmur"),
    "findings": ({"findings": "basal crackles"}, "basal crackles"), "diagnosis": ({"diagnosis": "COPD"}, "COPD"),
    "copd_severity": ({"copd_severity": "COPD3"}, "level 3"), "outcome": ({"outcome": "Abnormal"}, "abnormal"),
    "smoker": ({"smoker": True}, "smok"), "covid_status": ({"covid_status": "positive"}, "COVID-19"),
    "height": ({"height": 150}, "height 150 cm"), "weight": ({"weight_kg": 40.5}, "weight 40.5 kg"),
    "bmi": ({"bmi": 21.4}, "BMI 21.4 kg/m2"), "age_group": ({"age_group": "Child"}, "child"),
}


def test_every_recognised_fact_has_an_example():
    assert {f.fact for f in RECOGNISED.values()} <= set(FACT_EXAMPLES) | {
        "diastolic_murmur_shape", "diastolic_murmur_grade", "diastolic_murmur_pitch", "diastolic_murmur_quality"}


@pytest.mark.parametrize("fact", sorted(FACT_EXAMPLES))
def test_each_fact_is_stated(fact):
    metadata, expected = FACT_EXAMPLES[fact]
    assert infer_declaration(metadata) is GENERIC and {r.fact.name for r in readings(metadata)} == {fact}
    for seed in range(4):
        text = template_report(metadata, "lung", seed)
        assert expected.lower() in text.lower(), text


def test_dataset_keys_are_read_with_the_dataset_declaration():
    generic = template_report(GENERIC_LUNG, "lung", 0).lower()
    assert "trachea" in generic and "meditron" in generic and "urti" in generic and "3 years" in generic
    assert "female" in generic and "101" not in generic and False in _mentions(generic, FACTS["crackles"].regex)
    assert infer_declaration(CIRCOR) == declaration("circor")
    heart = template_report(CIRCOR, "heart", 0)
    assert "grade III/VI plateau-shaped holosystolic murmur of high pitch and blowing quality" in heart
    assert "loudest at the tricuspid valve area" in heart and "50001" not in heart and "female child" in heart


def test_describe_metadata_is_stable_and_readable():
    a = describe_metadata(DEMO_LUNG, "lung")
    assert a == describe_metadata(dict(reversed(list(DEMO_LUNG.items()))), "lung")
    assert a.splitlines()[0] == "Recording: lung" and "Age: 63 years" in a and "Crackles: fine" in a
    assert "Wheezing: no" in a and "Symptoms: fever and dyspnoea" in a and "Murmur" not in a
    assert "Recording site: posterior left base chest" in a and "Device: Littmann 3200" in a


def test_class_prompts_share_one_template():
    prompts = class_prompts(["no crackles are heard", "fine crackles are heard", "coarse crackles are heard"], "lung")
    assert prompts == ["Lung sound recording. No crackles are heard.", "Lung sound recording. Fine crackles are heard.",
                       "Lung sound recording. Coarse crackles are heard."]
    assert len({p.split(". ")[0] for p in class_prompts(["a", "b"], "heart", seed=5)}) == 1
    assert class_prompts([], "lung") == []
