"""Template clinical reports from item metadata: the offline, deterministic report writer for alignment.

AcuLa (arXiv 2512.04847, github janine714/AcuLA @781a96b) turns each recording's metadata into a short clinical
report with GPT-4o and aligns the audio encoder with a language model's reading of that report. This module is
the offline default: `template_report` writes a 1-3 sentence report (context; findings; clinical status) from the
fields listed in `REPORT_FIELDS`, choosing among synonymous sentence templates with a seeded RNG. It only states
what a field says: a missing field (None, NaN, "", "nan", "n/a") is skipped, never guessed, and direct
identifiers (subject ids, uids, paths) and benchmark bookkeeping (split, difficulty) are never used.

`normalize_metadata` maps the datasets' own column names (ICBHI `Chest_Location`, CirCor `Systolic murmur
grading`, Coswara `g`, ...) onto the canonical fields; `describe_metadata` gives the same facts as labelled lines
for the LLM writer (align.llm_reports).
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re

REPORT_FIELDS: dict[str, str] = {
    "age": "age in years (number) or an age group ('Child', 'Adolescent', ...)",
    "sex": "male / female (also m / f)",
    "site": "recording site: chest location, auscultation point; ICBHI (Tc, Al, ...) and CirCor (AV, MV, PV, "
            "TV, Phc) codes are spelled out",
    "device": "recording device or stethoscope; ICBHI equipment codes are spelled out",
    "body_position": "body position during the recording (e.g. SSBPR sleep position)",
    "symptoms": "reported symptoms: a string or a list",
    "crackles": "none | fine | coarse, or yes/no, present/absent, 1/0 (ICBHI per cycle)",
    "wheeze": "yes | no, present/absent, 1/0",
    "cough_type": "wet | dry",
    "sound_type": "lung sound type as annotated (KAUH), free text",
    "respiratory_rate": "breaths per minute (NoseMic)",
    "fvc": "forced vital capacity, litres (MMlung)",
    "fev1": "forced expiratory volume in 1 s, litres (MMlung)",
    "fev1_fvc": "FEV1/FVC as a ratio in [0, 1] (a value > 1.5 is read as percent)",
    "murmur": "absent | present | unknown (CirCor); implied present when a murmur detail is given",
    "murmur_locations": "where the murmur is audible, CirCor style 'AV+PV+TV'",
    "murmur_most_audible": "where the murmur is loudest",
    "murmur_timing": "systolic (or only) murmur timing: holosystolic, early-systolic, ...",
    "murmur_shape": "crescendo, decrescendo, diamond, plateau",
    "murmur_grade": "Levine grade: 'III/VI', roman 'II', or an integer 1-6",
    "murmur_pitch": "low, medium, high",
    "murmur_quality": "blowing, harsh, musical",
    "diastolic_murmur_timing": "CirCor diastolic murmur timing (and _shape, _grade, _pitch, _quality below)",
    "diastolic_murmur_shape": "diastolic murmur shape",
    "diastolic_murmur_grade": "diastolic murmur grade ('II/IV')",
    "diastolic_murmur_pitch": "diastolic murmur pitch",
    "diastolic_murmur_quality": "diastolic murmur quality",
    "findings": "free-text findings: a string or a list",
    "diagnosis": "diagnosis, free text ('COPD', 'healthy', ...)",
    "copd_severity": "Respiratory@TR COPD severity (COPD0-COPD4 or 0-4)",
    "outcome": "CirCor clinical outcome: normal | abnormal",
    "smoker": "yes/no, true/false, 1/0",
    "covid_status": "positive / negative, or the dataset's status string ('healthy', 'positive_mild', ...)",
}

_ALIASES = {
    "age_years": "age", "patient_age": "age", "gender": "sex", "g": "sex", "location": "site",
    "chest_location": "site", "recording_location": "site", "auscultation_site": "site", "equipment": "device",
    "stethoscope": "device", "recording_device": "device", "position": "body_position",
    "sleep_position": "body_position", "symptom": "symptoms", "crackle": "crackles", "wheezes": "wheeze",
    "wheezing": "wheeze", "rr": "respiratory_rate", "breathing_rate": "respiratory_rate", "fev1fvc": "fev1_fvc",
    "fev1_fvc_ratio": "fev1_fvc", "most_audible_location": "murmur_most_audible",
    "murmur_grading": "murmur_grade", "systolic_murmur_timing": "murmur_timing",
    "systolic_murmur_shape": "murmur_shape", "systolic_murmur_grading": "murmur_grade",
    "systolic_murmur_grade": "murmur_grade", "systolic_murmur_pitch": "murmur_pitch",
    "systolic_murmur_quality": "murmur_quality", "diastolic_murmur_grading": "diastolic_murmur_grade",
    "finding": "findings", "disease": "diagnosis", "smoking": "smoker", "smoking_status": "smoker",
    "covid": "covid_status", "covid19": "covid_status", "covid_19": "covid_status",
    "covid_test_result": "covid_status",
}
# Values of these keys are removed from any free text we emit (they are never rendered as fields anyway).
IDENTIFIER_FIELDS = ("subject", "subject_id", "patient_id", "patient", "id", "uid", "uuid", "path", "file",
                     "filename", "file_name", "audio_path", "group", "recording_id", "recording_index")

_MISSING = {"", "nan", "na", "n/a", "null", "nat", "<na>"}
_YES = {"yes", "y", "true", "t", "1", "present", "positive", "p"}
_NO = {"no", "n", "false", "0", "absent", "none", "negative"}
_SITES = {"tc": "trachea", "al": "anterior left chest", "ar": "anterior right chest",
          "pl": "posterior left chest", "pr": "posterior right chest", "ll": "left lateral chest",
          "lr": "right lateral chest", "av": "aortic valve area", "pv": "pulmonary valve area",
          "tv": "tricuspid valve area", "mv": "mitral valve area", "phc": "other auscultation point"}
_DEVICES = {"akgc417l": "an AKG C417L microphone", "littc2se": "a 3M Littmann Classic II SE stethoscope",
            "litt3200": "a 3M Littmann 3200 electronic stethoscope",
            "meditron": "a WelchAllyn Meditron electronic stethoscope"}
_MODALITY = {"cough": ("cough recording", "recorded cough"),
             "breath": ("breathing sound recording", "breath recording"),
             "exhalation": ("exhalation recording", "breath recording"),
             "deep breath": ("deep-breathing recording", "breath recording"),
             "lung": ("lung sound recording", "lung auscultation recording"),
             "heart": ("heart sound recording", "cardiac auscultation recording"),
             "snore": ("snoring recording",), "snoring": ("snoring recording",),
             "vowel": ("sustained vowel recording",), "nasal": ("nasal breathing recording",),
             "nasal breathing": ("nasal breathing recording",)}
_AGE_GROUPS = {"neonate", "infant", "child", "adolescent", "young adult", "adult", "older adult", "elderly"}
_HEALTHY = {"healthy", "normal", "none", "control"}


def is_missing(value) -> bool:
    """True for None, NaN (float, numpy, pandas NA) and empty/'nan'/'n/a' strings."""
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return True
    if isinstance(value, (list, tuple, set)):
        return all(is_missing(v) for v in value)
    if isinstance(value, str):
        return value.strip(" ;,\t\n").lower() in _MISSING
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(name).lower()).strip("_")


def normalize_metadata(metadata: dict) -> dict:
    """Canonical `REPORT_FIELDS` keys -> value, missing values and every other key (identifiers) dropped."""
    out: dict = {}
    for name, value in (metadata or {}).items():
        key = _key(name)
        key = _ALIASES.get(key, key)
        if key in REPORT_FIELDS and key not in out and not is_missing(value):
            out[key] = value
    return out


def scrub_identifiers(text: str, metadata: dict) -> str:
    """Replace any identifier value of `metadata` (>= 3 characters) found in `text` by '[redacted]'."""
    for name, value in (metadata or {}).items():
        if _key(name) in IDENTIFIER_FIELDS and not is_missing(value) and len(str(value).strip()) >= 3:
            pattern = rf"(?<![\w.]){re.escape(str(value).strip())}(?!\w|\.\d)"
            text = re.sub(pattern, "[redacted]", text, flags=re.IGNORECASE)
    return text


def value_text(value) -> str:
    """Readable string of a value: numbers without '.0', lists joined with 'and', underscores as spaces."""
    if isinstance(value, str) and ";" in value:  # 'fever;cough' style lists
        value = [v.strip() for v in value.split(";")]
    if isinstance(value, (list, tuple, set)):
        parts = [value_text(v) for v in value if not is_missing(v)]
        if len(parts) < 2:
            return parts[0] if parts else ""
        return ", ".join(parts[:-1]) + " and " + parts[-1]
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)) or type(value).__name__.startswith(("float", "int")):
        return f"{float(value):g}"  # 63.0 -> '63', numpy scalars included
    return re.sub(r"\s+", " ", str(value).replace("_", " ")).strip()


def yes_no(value) -> str:
    """'yes', 'no' or the value's own text for a yes/no style field."""
    t = value_text(value).lower()
    try:
        return "yes" if float(t) != 0 else "no"
    except ValueError:
        return "yes" if t in _YES else "no" if t in _NO else t


def _number(value) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _site(value) -> str:
    """Spelled-out site: ICBHI/CirCor codes expanded, other names lower-cased unless an acronym."""
    t = value_text(value)
    return _SITES.get(t.lower(), t if t.isupper() else t.lower())


def _sex(value) -> str:
    return {"m": "male", "f": "female"}.get(value_text(value).lower(), value_text(value))


def _device(value) -> str:
    t = value_text(value)
    return _DEVICES.get(t.lower(), _an(t) if t[:1].islower() else t)


def _an(phrase: str) -> str:
    """Prefix 'a'/'an' by sound: 'an 8-year-old', 'an 11-year-old', 'a 63-year-old', 'an adult'."""
    low = phrase.lower()
    digits = re.match(r"\d+", low)
    if digits:
        vowel = digits.group().startswith("8") or digits.group() in ("11", "18")
    else:
        vowel = low[:1] in "aeio" or (low[:1] == "u" and not low.startswith(("uni", "use", "usu")))
    return ("an " if vowel else "a ") + phrase


class _Writer:
    """Builds the three sentences of one report with one seeded RNG."""

    def __init__(self, facts: dict, modality: str, rng: random.Random):
        self.f, self.m, self.rng = facts, modality.strip().lower(), rng

    def pick(self, *options: str) -> str:
        return self.rng.choice(options)

    def person(self) -> str:
        age, sex = self.f.get("age"), self.f.get("sex")
        sex_t = _sex(sex).lower() if sex is not None else ""
        years = _number(age) if age is not None else None
        if years is not None:
            noun = sex_t or self.pick("subject", "patient")
            return _an(f"{years:g}-year-old {noun}")
        if age is not None:
            group = value_text(age).lower()
            if group in _AGE_GROUPS:
                return _an(f"{sex_t} {group}".strip())
            return _an(f"{sex_t or 'subject'} in the '{group}' age group")
        return _an(f"{sex_t} {self.pick('subject', 'patient')}") if sex_t else ""

    def context(self) -> str:
        names = _MODALITY.get(self.m, (f"{self.m} recording",))
        rec = self.pick(*names)
        where = ""
        if "site" in self.f:
            where += f" at the {_site(self.f['site'])}"
        if "device" in self.f:
            where += f" with {_device(self.f['device'])}"
        if "body_position" in self.f:
            where += f" in the {value_text(self.f['body_position']).lower()} position"
        who = self.person()
        if not who:
            return self.pick(f"{rec[0].upper()}{rec[1:]}{where}.", f"This is {_an(rec)}{where}.")
        return self.pick(f"{rec[0].upper()}{rec[1:]}{where} from {who}.",
                         f"{who[0].upper()}{who[1:]}: {rec}{where}.",
                         f"This {rec} was obtained{where} from {who}.")

    def murmur(self, prefix: str = "") -> str:
        """The systolic (prefix '') or diastolic (prefix 'diastolic_') murmur clause, '' when not described."""
        g = {k: self.f.get(f"{prefix}murmur_{k}") for k in ("timing", "shape", "grade", "pitch", "quality")}
        if not prefix:
            state = yes_no(self.f["murmur"]) if "murmur" in self.f else ""
            if state == "no":
                return self.pick("no murmur is heard", "there is no murmur", "a murmur is absent")
            if state == "unknown":
                return self.pick("the presence of a murmur could not be determined", "murmur status is unknown")
            if state not in ("", "yes"):
                return f"murmur status is {state}"
            located = "murmur_locations" in self.f or "murmur_most_audible" in self.f
            diastolic_only = any(k.startswith("diastolic_murmur_") for k in self.f)
            if all(v is None for v in g.values()) and not located and (state == "" or diastolic_only):
                return ""  # nothing to say, or the diastolic clause says it
        elif all(v is None for v in g.values()):
            return ""
        adj = []
        if g["grade"] is not None:
            grade = value_text(g["grade"])
            num = _number(grade)
            grade = ("I", "II", "III", "IV", "V", "VI")[int(num) - 1] if num and 1 <= num <= 6 else grade
            adj.append(f"grade {grade}")
        if g["shape"] is not None:
            shape = value_text(g["shape"]).lower()
            adj.append(f"{shape}-shaped" if shape in ("diamond", "plateau") else shape)
        timing = value_text(g["timing"]).lower() if g["timing"] is not None else ("diastolic" if prefix else "")
        adj.append(f"{timing} murmur".strip())
        tail = [f"{value_text(g[k]).lower()} {k}" for k in ("pitch", "quality") if g[k] is not None]
        body = " ".join(adj) + (" of " + " and ".join(tail) if tail else "")
        where = ""
        if not prefix and "murmur_locations" in self.f:
            locs = [_site(x) for x in re.split(r"[+,;/]\s*", value_text(self.f["murmur_locations"])) if x]
            where += f", audible at the {value_text(locs)}"
        if not prefix and "murmur_most_audible" in self.f:
            where += f", loudest at the {_site(self.f['murmur_most_audible'])}"
        return self.pick(f"{_an(body)} is heard{where}", f"there is {_an(body)}{where}",
                         f"{_an(body)} is present{where}")

    def findings(self) -> list[str]:
        f, out = self.f, []
        if "crackles" in f:
            c = yes_no(f["crackles"])
            if c == "no":
                out.append(self.pick("no crackles are heard", "crackles are absent", "there are no crackles"))
            else:
                kind = "" if c == "yes" else f"{c} "
                out.append(self.pick(f"{kind}crackles are heard", f"{kind}crackles are present",
                                     f"there are {kind}crackles"))
        if "wheeze" in f:
            w = yes_no(f["wheeze"])
            out.append({"no": self.pick("no wheezes are heard", "wheezes are absent", "there is no wheezing"),
                        "yes": self.pick("wheezes are heard", "wheezing is present", "there is wheezing")
                        }.get(w, f"wheeze is noted as {w}"))
        if "cough_type" in f:
            t = value_text(f["cough_type"]).lower()
            out.append(self.pick(f"the cough is {t}", f"the cough sounds {t}", f"it is {_an(t)} cough"))
        if "sound_type" in f:
            out.append(self.pick(f"the lung sound type is {value_text(f['sound_type'])}",
                                 f"lung sounds are annotated as {value_text(f['sound_type'])}"))
        for part in (self.murmur(), self.murmur("diastolic_")):
            if part:
                out.append(part)
        if "respiratory_rate" in f:
            out.append(self.pick(f"the respiratory rate is {value_text(f['respiratory_rate'])} breaths per minute",
                                 f"breathing is at {value_text(f['respiratory_rate'])} breaths per minute"))
        spiro = []
        for key, name in (("fvc", "FVC"), ("fev1", "FEV1")):
            if key in f:
                spiro.append(f"{name} {value_text(f[key])}" + (" L" if _number(f[key]) is not None else ""))
        if "fev1_fvc" in f:
            r = _number(f["fev1_fvc"])
            ratio = value_text(f["fev1_fvc"]) if r is None else f"{r:g}%" if r > 1.5 else f"{r:.2f}"
            spiro.append(f"FEV1/FVC {ratio}")
        if spiro:
            out.append(self.pick("spirometry shows ", "spirometry gives ") + value_text(spiro))
        if "findings" in f:
            t = value_text(f["findings"])
            out.append(self.pick(f"the findings are {t}", f"noted findings are {t}"))
        if "symptoms" in f:
            s = value_text(f["symptoms"])
            out.append(self.pick(f"reported symptoms are {s}", f"symptoms include {s}"))
        return out

    def clinical(self) -> list[str]:
        f, out = self.f, []
        if "diagnosis" in f:
            d = value_text(f["diagnosis"])
            out.append(self.pick("the subject is recorded as healthy", "the diagnosis is healthy")
                       if d.lower() in _HEALTHY else
                       self.pick(f"the diagnosis is {d}", f"the patient is diagnosed with {d}",
                                 f"the clinical diagnosis is {d}"))
        if "copd_severity" in f:
            level = re.sub(r"(?i)^copd\s*", "", value_text(f["copd_severity"]))
            out.append(self.pick(f"COPD severity is level {level}", f"COPD severity level {level} is recorded"))
        if "outcome" in f:
            o = value_text(f["outcome"]).lower()
            out.append(self.pick(f"the clinical outcome is {o}", f"the outcome was assessed as {o}"))
        if "covid_status" in f:
            v = yes_no(f["covid_status"])
            out.append({"yes": self.pick("COVID-19 status is positive", "the subject is COVID-19 positive"),
                        "no": self.pick("COVID-19 status is negative", "the subject is COVID-19 negative")
                        }.get(v, self.pick(f"COVID-19 status is reported as {v}",
                                           f"the reported COVID-19 status is {v}")))
        if "smoker" in f:
            s = yes_no(f["smoker"])
            out.append({"yes": self.pick("the subject is a smoker", "the subject smokes"),
                        "no": self.pick("the subject is a non-smoker", "the subject does not smoke")
                        }.get(s, f"smoking status is {s}"))
        return out

    def sentence(self, clauses: list[str]) -> str:
        if not clauses:
            return ""
        if len(clauses) > 1 and self.rng.random() < 0.5:
            text = ", ".join(clauses[:-1]) + " and " + clauses[-1]
        else:
            text = "; ".join(clauses)
        return text[0].upper() + text[1:] + "."


def template_report(metadata: dict, modality: str, seed: int = 0) -> str:
    """A 1-3 sentence clinical report stating only what `metadata` says.

    Args:
        metadata: an item's metadata; keys are matched to `REPORT_FIELDS` case- and punctuation-insensitively
            (ICBHI 'Chest_Location' -> site, CirCor 'Systolic murmur grading' -> murmur_grade, ...).
        modality: 'cough', 'breath', 'lung', 'heart', ... (names the recording).
        seed: chooses among synonymous templates; the same (metadata, modality, seed) always gives the same text.

    Returns:
        context sentence (recording, age, sex, site, device), then findings, then clinical status, each only
        when its fields are present.
    """
    facts = normalize_metadata(metadata)
    blob = json.dumps([seed, modality, facts], sort_keys=True, default=str)
    rng = random.Random(int(hashlib.sha256(blob.encode()).hexdigest()[:16], 16))
    w = _Writer(facts, modality, rng)
    text = " ".join(s for s in (w.context(), w.sentence(w.findings()), w.sentence(w.clinical())) if s)
    return scrub_identifiers(text, metadata)


def describe_metadata(metadata: dict, modality: str) -> str:
    """The facts of `metadata` as 'Field: value' lines (codes spelled out, identifiers removed): the LLM prompt."""
    lines = [f"Recording: {modality}"]
    facts = normalize_metadata(metadata)
    for key in (k for k in REPORT_FIELDS if k in facts):  # fixed order: the prompt (and its cache key) is stable
        value = facts[key]
        if key in ("site", "murmur_most_audible"):
            text = _site(value)
        elif key == "murmur_locations":
            text = value_text([_site(x) for x in re.split(r"[+,;/]\s*", value_text(value)) if x])
        elif key == "device":
            text = re.sub(r"^an? ", "", _DEVICES.get(value_text(value).lower(), value_text(value)))
        elif key == "sex":
            text = _sex(value)
        elif key in ("crackles", "wheeze", "smoker") or isinstance(value, bool):
            text = yes_no(value)
        elif key in _UNITS and _number(value) is not None:
            text = f"{value_text(value)} {_UNITS[key]}"
        else:
            text = value_text(value)
        lines.append(f"{_LABELS.get(key, key.replace('_', ' ').capitalize())}: {text}")
    return scrub_identifiers("\n".join(lines), metadata)


_UNITS = {"age": "years", "fvc": "L", "fev1": "L", "respiratory_rate": "breaths per minute"}
_LABELS = {"fvc": "FVC", "fev1": "FEV1", "fev1_fvc": "FEV1/FVC", "covid_status": "COVID-19 status",
           "copd_severity": "COPD severity", "murmur_most_audible": "Murmur most audible at"}


_LABEL_GUESS = {
    "healthy": ("diagnosis", "healthy"), "normal": ("diagnosis", "healthy"), "covid": ("covid_status", "positive"),
    "covid-19": ("covid_status", "positive"), "positive": ("covid_status", "positive"),
    "negative": ("covid_status", "negative"), "male": ("sex", "male"), "female": ("sex", "female"),
    "smoker": ("smoker", "yes"), "non-smoker": ("smoker", "no"), "nonsmoker": ("smoker", "no"),
    "crackles": ("crackles", "yes"), "fine": ("crackles", "fine"), "coarse": ("crackles", "coarse"),
    "wheeze": ("wheeze", "yes"), "wheezes": ("wheeze", "yes"), "murmur": ("murmur", "present"),
    "present": ("murmur", "present"), "absent": ("murmur", "absent"), "wet": ("cough_type", "wet"),
    "dry": ("cough_type", "dry"), "abnormal": ("outcome", "abnormal"),
}


def class_prompts(task_labels, modality: str, field: str | None = None, seed: int = 0) -> list[str]:
    """One report-style prompt per class, in label order, for zero-shot scoring with the text teacher.

    Args:
        task_labels: the task's class names (TaskSpec.labels).
        modality: the task's modality.
        field: the metadata field the labels are values of (e.g. 'crackles' for labels none/fine/coarse): each
            prompt is then exactly the template report of {field: label}. Without it a label is looked up in a
            small vocabulary (healthy, covid, male, smoker, fine, wet, ...) and otherwise used as the diagnosis.
        seed: template choice, as in `template_report`.
    """
    prompts = []
    for label in task_labels:
        if field is not None:
            md = {field: label}
        else:
            key, value = _LABEL_GUESS.get(str(label).strip().lower(), ("diagnosis", label))
            md = {key: value}
        prompts.append(template_report(md, modality, seed))
    return prompts
