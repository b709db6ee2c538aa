"""Template reports: deterministic, varied, faithful to the metadata, free of identifiers."""

from __future__ import annotations

import re

import numpy as np
import pytest

from align.llm_reports import unsupported_findings
from align.reports import REPORT_FIELDS, class_prompts, describe_metadata, normalize_metadata, template_report

IDENTIFIERS = {"subject": "SUBJ-0042", "uid": "uid-9f1c2e", "path": "/data/demo/lung/SUBJ-0042_rec3.wav",
               "split": "test", "difficulty": "hard"}
DEMO_LUNG = {**IDENTIFIERS, "age": 63, "sex": "male", "site": "posterior left chest", "device": "digital stethoscope",
             "modality": "lung", "crackles": "fine", "wheeze": "no", "murmur": None, "murmur_grade": None,
             "cough_type": None, "findings": None, "diagnosis": "pneumonia", "symptoms": ["fever", "dyspnoea"]}
DEMO_HEART = {**IDENTIFIERS, "age": 8, "sex": "female", "site": "MV", "modality": "heart", "crackles": None,
              "wheeze": None, "murmur": "present", "murmur_grade": 3, "murmur_shape": "diamond",
              "murmur_timing": "holosystolic", "diagnosis": "", "symptoms": float("nan")}
DEMO_COUGH = {**IDENTIFIERS, "age": 41, "sex": "female", "modality": "cough", "cough_type": "wet",
              "crackles": "", "wheeze": "nan", "murmur": np.nan}
ICBHI = {"Patient_ID": "101", "Chest_Location": "Tc", "Equipment": "Meditron", "Crackles": 0, "Wheezes": 1,
         "Diagnosis": "URTI", "Age": 3, "Sex": "F"}
CIRCOR = {"Patient ID": 50001, "Age": "Child", "Sex": "Female", "Murmur": "Present", "Murmur locations": "AV+PV+TV",
          "Most audible location": "TV", "Systolic murmur timing": "Holosystolic", "Systolic murmur shape": "Plateau",
          "Systolic murmur grading": "III/VI", "Systolic murmur pitch": "High", "Systolic murmur quality": "Blowing",
          "Diastolic murmur timing": float("nan"), "Outcome": "Abnormal"}
CASES = [(DEMO_LUNG, "lung"), (DEMO_HEART, "heart"), (DEMO_COUGH, "cough"), (ICBHI, "lung"), (CIRCOR, "heart"),
         ({"covid_status": "positive", "smoker": "no", "g": "male", "a": 30}, "cough"), ({}, "breath")]


def _sentences(text: str) -> int:
    return len([s for s in re.split(r"(?<=\.)\s+", text) if s])


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
        assert not re.search(r"\b(split|difficulty|train|hard)\b", text, re.I)
        assert unsupported_findings(text, metadata) == []
        low = text.lower()
        facts = normalize_metadata(metadata)
        if "murmur" not in facts and not any(k.startswith("murmur_") for k in facts):
            assert "murmur" not in low
        if "crackles" not in facts:
            assert "crackle" not in low
        if "wheeze" not in facts:
            assert "wheez" not in low
        if "covid_status" not in facts:
            assert "covid" not in low
        if "smoker" not in facts:
            assert "smok" not in low


def test_identifier_in_free_text_is_scrubbed():
    md = {**IDENTIFIERS, "findings": "SUBJ-0042 has coarse crackles (see uid-9f1c2e)"}
    text = template_report(md, "lung", 0)
    assert "SUBJ-0042" not in text and "uid-9f1c2e" not in text and "coarse crackles" in text
    prompt = describe_metadata(md, "lung")
    assert "SUBJ-0042" not in prompt and "/data/" not in prompt and "test" not in prompt


def test_missing_values_are_skipped():
    missing = {"age": None, "sex": float("nan"), "site": "", "device": "N/A", "crackles": np.float64("nan"),
               "wheeze": "nan", "murmur_grade": None, "diagnosis": "  "}
    try:
        import pandas as pd

        missing["symptoms"] = pd.NA
    except ImportError:
        pass
    assert normalize_metadata(missing) == {}
    assert template_report(missing, "lung", 5) == template_report({}, "lung", 5)


FIELD_EXAMPLES = {
    "age": (72, "72-year-old"), "sex": ("F", "female"), "site": ("Tc", "trachea"),
    "device": ("Litt3200", "Littmann 3200"), "body_position": ("supine", "supine position"),
    "symptoms": (["fever", "sore throat"], "fever and sore throat"), "crackles": ("coarse", "coarse crackles"),
    "wheeze": ("yes", "wheez"), "cough_type": ("dry", "dry"), "sound_type": ("Crep", "Crep"),
    "respiratory_rate": (16, "16 breaths per minute"), "fvc": (3.2, "FVC 3.2 L"), "fev1": (2.5, "FEV1 2.5 L"),
    "fev1_fvc": (0.781, "FEV1/FVC 0.78"), "murmur": ("Absent", "murmur"), "murmur_locations": ("AV+MV",
    "aortic valve area and mitral valve area"), "murmur_most_audible": ("PV", "loudest at the pulmonary valve"),
    "murmur_timing": ("Early-systolic", "early-systolic murmur"), "murmur_shape": ("Crescendo", "crescendo"),
    "murmur_grade": (2, "grade II"), "murmur_pitch": ("Low", "low pitch"), "murmur_quality": ("Harsh", "harsh quality"),
    "diastolic_murmur_timing": ("Early-diastolic", "early-diastolic murmur"),
    "diastolic_murmur_shape": ("Decrescendo", "decrescendo diastolic"),
    "diastolic_murmur_grade": ("I/IV", "grade I/IV"), "diastolic_murmur_pitch": ("High", "high pitch"),
    "diastolic_murmur_quality": ("Blowing", "blowing quality"), "findings": ("basal crackles", "basal crackles"),
    "diagnosis": ("COPD", "COPD"), "copd_severity": ("COPD3", "level 3"), "outcome": ("Abnormal", "abnormal"),
    "smoker": (True, "smok"), "covid_status": ("positive", "COVID-19"),
}


def test_every_report_field_has_an_example():
    assert set(FIELD_EXAMPLES) == set(REPORT_FIELDS)


@pytest.mark.parametrize("field", sorted(FIELD_EXAMPLES))
def test_each_field_is_stated(field):
    value, expected = FIELD_EXAMPLES[field]
    for seed in range(4):
        text = template_report({field: value}, "lung", seed)
        assert expected.lower() in text.lower(), text


def test_dataset_column_names_are_understood():
    text = template_report(ICBHI, "lung", 0).lower()
    assert "trachea" in text and "meditron" in text and "urti" in text and "3-year-old female" in text
    assert "101" not in text
    heart = template_report(CIRCOR, "heart", 0)
    assert "grade III/VI plateau-shaped holosystolic murmur of high pitch and blowing quality" in heart
    assert "loudest at the tricuspid valve area" in heart and "50001" not in heart


def test_describe_metadata_is_stable_and_readable():
    a = describe_metadata(DEMO_LUNG, "lung")
    assert a == describe_metadata(dict(reversed(list(DEMO_LUNG.items()))), "lung")
    assert a.splitlines()[0] == "Recording: lung" and "Age: 63 years" in a and "Crackles: fine" in a
    assert "Wheeze: no" in a and "Symptoms: fever and dyspnoea" in a and "Murmur" not in a


def test_class_prompts():
    prompts = class_prompts(["none", "fine", "coarse"], "lung", field="crackles")
    assert prompts == [template_report({"crackles": c}, "lung") for c in ("none", "fine", "coarse")]
    assert "no crackles" in prompts[0].lower() or "crackles are absent" in prompts[0].lower()
    guessed = class_prompts(["healthy", "covid"], "cough")
    assert len(guessed) == 2 and "healthy" in guessed[0] and "COVID-19" in guessed[1]
    assert len(set(class_prompts(["asthma", "COPD", "healthy"], "lung"))) == 3
    assert class_prompts([], "lung") == []
