"""Clinical facts of item metadata, declared per dataset: what each metadata column means for a report.

Every dataset module declares, next to its reader, what the metadata keys its reader emits stand for:

    CLINICAL_FIELDS: tuple[ClinicalField, ...]   keys that carry a clinical fact (age, murmur, wheezing, ...)
    IDENTIFIER_COLUMNS: tuple[str, ...]          keys that identify a person, a recording or a file: never reported
    IGNORED_COLUMNS: tuple[str, ...]             bookkeeping and derived duplicates (split, sample rate, codes)

A name may be an fnmatch pattern ("symptom_*"); exact names win over patterns. `declaration(dataset)` collects the
three, `read_facts(metadata, decl)` turns one item's metadata into `Reading`s: the normalised statements (value in
the fact's unit and vocabulary, present / absent / unknown) that both report writers render (align.reports).

Keys that no declaration names (a csv manifest's own columns, a column a new release adds) are never dropped:
common names are recognised (`RECOGNISED`: age, sex, site, wheeze, ...), identifiers are caught by name rules
(`looks_like_identifier`: id, uuid, patient, subject, file, path, ...) or an explicit list (a manifest's
--id-columns), and any other column becomes a generic "<column>: <value>" statement.
"""

from __future__ import annotations

import fnmatch
import math
import re
from dataclasses import dataclass, field
from functools import cache, cached_property

SECTIONS = ("person", "recording", "findings", "clinical")
FIELD_KINDS = ("number", "category", "flag", "count", "list", "member", "text")
STATES = ("present", "absent", "unknown", "value")
MISSING = frozenset({"", "nan", "na", "n/a", "null", "nat", "<na>"})
YES = frozenset({"yes", "y", "true", "t", "1", "1.0", "present", "positive", "p"})
NO = frozenset({"no", "n", "false", "f", "0", "0.0", "absent", "negative", "none"})
NONE_ITEMS = frozenset({"none", "no", "nothing", "none of the above"})
UNSAID_ITEMS = frozenset({"prefer not to say", "pnts", "prefer not say", "unknown"})


@dataclass(frozen=True)
class Fact:
    """A canonical clinical fact that reports state.

    name: key ("age", "wheeze", "murmur_grade"). label: how the LLM prompt names it ("Age", "Wheezing").
    section: where a report states it: person, recording (context sentence), findings, clinical.
    unit: unit numbers are reported in ("years", "cm", "kg", "kg/m2", "L", "breaths per minute").
    noun: for findings that can be present or absent: what is present or absent ("wheezing").
    pattern: regex (lower-case) that finds the fact in a report; default the noun.
    finding: the finding group an LLM report is checked against (align.llm_reports.FINDING_PATTERNS), if any.
    many: the fact is a list (symptoms): several columns or list values add items to it.
    """

    name: str
    label: str
    section: str
    unit: str = ""
    noun: str = ""
    pattern: str = ""
    finding: str = ""
    many: bool = False

    @property
    def regex(self) -> str:
        return self.pattern or re.escape(self.noun)


def _facts(*facts: Fact) -> dict[str, Fact]:
    return {f.name: f for f in facts}


# The order is the order reports state facts in (and the order of the LLM prompt's lines).
FACTS = _facts(
    Fact("age", "Age", "person", unit="years"),
    Fact("age_group", "Age group", "person"),
    Fact("sex", "Sex", "person"),
    Fact("height", "Height", "person", unit="cm"),
    Fact("weight", "Weight", "person", unit="kg"),
    Fact("bmi", "BMI", "person", unit="kg/m2"),
    Fact("residence", "Residence", "person"),
    Fact("site", "Recording site", "recording"),
    Fact("channel", "Recording channel", "recording"),
    Fact("device", "Device", "recording"),
    Fact("stethoscope_filter", "Stethoscope filter", "recording"),
    Fact("body_position", "Body position", "recording"),
    Fact("recording_task", "Recorded task", "recording"),
    Fact("recording_quality", "Recording quality", "recording"),
    Fact("record_annotation", "Record annotation", "findings"),
    Fact("adventitious_events", "Annotated sound events", "findings", many=True),
    Fact("sound_type", "Lung sound type", "findings"),
    Fact("crackles", "Crackles", "findings", noun="crackles", pattern=r"crackl|crepitat|\bcreps?\b|\brales?\b",
         finding="crackles"),
    Fact("wheeze", "Wheezing", "findings", noun="wheezing", pattern=r"wheez|rhonch", finding="wheeze"),
    Fact("respiratory_cycles", "Annotated respiratory cycles", "findings"),
    Fact("crackle_cycles", "Cycles with crackles", "findings", noun="crackles", pattern=r"crackl",
         finding="crackles"),
    Fact("wheeze_cycles", "Cycles with wheezes", "findings", noun="wheezes", pattern=r"wheez", finding="wheeze"),
    Fact("both_cycles", "Cycles with both crackles and wheezes", "findings", noun="crackles and wheezes together",
         pattern=r"crackles and wheezes"),
    Fact("stridor", "Stridor", "findings", noun="stridor"),
    Fact("dyspnea", "Dyspnea", "findings", noun="dyspnea", pattern=r"dyspn"),
    Fact("choking", "Choking", "findings", noun="choking"),
    Fact("congestion", "Nasal congestion", "findings", noun="nasal congestion", pattern=r"congest"),
    Fact("audible_signs", "Audible respiratory signs", "findings", noun="audible respiratory signs"),
    Fact("cough_type", "Cough type", "findings"),
    Fact("cough_severity", "Cough severity", "findings"),
    Fact("murmur", "Murmur", "findings", noun="murmur", finding="murmur"),
    Fact("murmur_at_site", "Murmur at this recording site", "findings", noun="murmur", finding="murmur"),
    Fact("murmur_locations", "Murmur locations", "findings"),
    Fact("murmur_most_audible", "Murmur most audible at", "findings"),
    Fact("murmur_timing", "Systolic murmur timing", "findings"),
    Fact("murmur_shape", "Systolic murmur shape", "findings"),
    Fact("murmur_grade", "Systolic murmur grade", "findings"),
    Fact("murmur_pitch", "Systolic murmur pitch", "findings"),
    Fact("murmur_quality", "Systolic murmur quality", "findings"),
    Fact("diastolic_murmur_timing", "Diastolic murmur timing", "findings"),
    Fact("diastolic_murmur_shape", "Diastolic murmur shape", "findings"),
    Fact("diastolic_murmur_grade", "Diastolic murmur grade", "findings"),
    Fact("diastolic_murmur_pitch", "Diastolic murmur pitch", "findings"),
    Fact("diastolic_murmur_quality", "Diastolic murmur quality", "findings"),
    Fact("respiratory_rate", "Respiratory rate", "findings", unit="breaths per minute"),
    Fact("fvc", "FVC", "findings", unit="L"),
    Fact("fev1", "FEV1", "findings", unit="L"),
    Fact("fev1_fvc", "FEV1/FVC", "findings"),
    Fact("findings", "Findings", "findings", noun="abnormal findings", pattern=r"finding"),
    Fact("symptoms", "Symptoms", "findings", noun="symptoms", pattern=r"symptom", many=True),
    Fact("fever_muscle_pain", "Fever or muscle pain", "findings", noun="fever or muscle pain"),
    Fact("diagnosis", "Diagnosis", "clinical"),
    Fact("valvular_disease", "Valvular heart disease", "clinical", noun="valvular heart disease"),
    Fact("aortic_stenosis", "Aortic stenosis", "clinical", noun="aortic stenosis"),
    Fact("aortic_regurgitation", "Aortic regurgitation", "clinical", noun="aortic regurgitation"),
    Fact("mitral_regurgitation", "Mitral regurgitation", "clinical", noun="mitral regurgitation"),
    Fact("mitral_stenosis", "Mitral stenosis", "clinical", noun="mitral stenosis"),
    Fact("copd_severity", "COPD severity", "clinical"),
    Fact("outcome", "Clinical outcome", "clinical"),
    # a COVID-19 *test* or *vaccination* named in passing is no statement of the status
    Fact("covid_status", "COVID-19 status", "clinical", noun="COVID-19",
         pattern=r"(?:covid|sars[- ]?cov|coronavirus)(?![\w-]*\s+(?:test|vaccin))", finding="covid"),
    Fact("covid_test", "COVID-19 test", "clinical"),
    Fact("covid_test_method", "COVID-19 test method", "clinical"),
    Fact("covid_vaccination", "COVID-19 vaccination", "clinical"),
    Fact("hospitalized", "Hospitalised", "clinical", noun="hospitalised", pattern=r"hospitali"),
    Fact("ct_scan", "Chest CT scan", "clinical", noun="CT scan", pattern=r"\bct scan"),
    Fact("ct_score", "CT score", "clinical"),
    Fact("respiratory_condition", "Pre-existing respiratory condition", "clinical",
         noun="pre-existing respiratory condition", pattern=r"respiratory condition"),
    Fact("respiratory_conditions", "Respiratory conditions", "clinical", noun="respiratory conditions",
         pattern=r"respiratory condition", many=True),
    Fact("comorbidities", "Pre-existing conditions", "clinical", noun="pre-existing conditions",
         pattern=r"pre-existing condition", many=True),
    Fact("pregnancy", "Pregnant", "clinical", noun="pregnant", pattern=r"pregnan"),
    Fact("smoker", "Smoking", "clinical", noun="smoking", pattern=r"smok|tobacco|cigarette", finding="smoking"),
    Fact("other", "Other", "clinical"),
)


@dataclass(frozen=True)
class ClinicalField:
    """How one metadata key of a dataset reader maps onto a canonical clinical fact.

    source: the key as the reader puts it into Item.metadata ("Systolic murmur grading", "a"), or an fnmatch
        pattern ("symptom_*").
    fact: a key of FACTS.
    kind: how the raw value is read:
        number  a number in `unit` (converted to the fact's unit; ages are shown in days, months or years);
                a non-numeric value (an age band "45-54") is kept as text with the unit
        category one value of a vocabulary (`values`); others are kept as written
        flag    present / absent (`positive`, `negative`; default yes/true/1/present vs no/false/0/absent)
        count   a number of annotated events; 0 reads as absent
        list    several values in one cell, split at `separator` (a list value is taken as is)
        member  one column of a family that together lists the fact's items (symptom_cough = 1 adds `item`)
        text    free text, identifiers scrubbed
    unit: unit of a number as the source gives it, when it is not the fact's ("days", "percent").
    values: vocabulary, raw value (case-insensitive) -> normalised text ("AV" -> "aortic valve area").
    negative / positive: raw values that mean absent / present (flags: replace the defaults; categories and
        lists: mark those values absent / present, e.g. CirCor Murmur "Absent", a symptom list "None").
    unknown: raw values that mean "not stated" (CirCor "Unknown"): the writers skip them.
    item: member: the item this column adds (default: the column name after the pattern's prefix).
    rater: who gave the value when several columns give the same fact ("expert 1").
    separator: list: the item separator(s), a regex character class body (",;").
    fallback: only used when no other column gives the fact (KAUH's raw location code).
    """

    source: str
    fact: str
    kind: str
    unit: str = ""
    values: dict = field(default_factory=dict)
    negative: tuple[str, ...] = ()
    positive: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    item: str = ""
    rater: str = ""
    separator: str = ",;"
    fallback: bool = False

    def __post_init__(self) -> None:
        if self.fact not in FACTS:
            raise ValueError(f"ClinicalField {self.source!r}: unknown fact {self.fact!r}; see clinical.FACTS")
        if self.kind not in FIELD_KINDS:
            raise ValueError(f"ClinicalField {self.source!r}: kind {self.kind!r} not in {FIELD_KINDS}")

    @property
    def is_pattern(self) -> bool:
        return any(c in self.source for c in "*?[")


@dataclass(frozen=True)
class Reading:
    """One normalised statement of an item's metadata.

    state: present / absent (a finding), unknown (stated as not known: not reported), value (anything else).
    text: the normalised value as both writers print it ("22 years", "female", "dry", "aortic valve area");
        for a present flag "present", an absent one "absent" (or the vocabulary's negative text, "negative").
    label: the fact's label, or the column name for a generic statement.
    """

    fact: Fact
    kind: str
    state: str
    text: str
    source: str
    label: str
    rater: str = ""


@dataclass(frozen=True)
class Declaration:
    """The clinical, identifier and ignored metadata keys of one dataset (see the module docstring)."""

    dataset: str
    fields: tuple[ClinicalField, ...] = ()
    identifiers: tuple[str, ...] = ()
    ignored: tuple[str, ...] = ()

    @cached_property
    def _exact(self) -> dict[str, tuple[str, ClinicalField | None]]:
        out: dict[str, tuple[str, ClinicalField | None]] = {}
        for name in self.ignored:
            out[name] = ("ignored", None)
        for name in self.identifiers:
            out[name] = ("identifier", None)
        for f in self.fields:
            if not f.is_pattern:
                out[f.source] = ("clinical", f)
        return out

    def classify(self, key: str) -> tuple[str, ClinicalField | None]:
        """("clinical", field) | ("identifier", None) | ("ignored", None) | ("undeclared", None) for `key`."""
        if key in self._exact:
            return self._exact[key]
        for name in self.identifiers:
            if fnmatch.fnmatchcase(key, name):
                return "identifier", None
        for name in self.ignored:
            if fnmatch.fnmatchcase(key, name):
                return "ignored", None
        for f in self.fields:
            if f.is_pattern and fnmatch.fnmatchcase(key, f.source):
                return "clinical", f
        return "undeclared", None

    def declares(self, key: str) -> bool:
        return self.classify(key)[0] != "undeclared"


# ---------------------------------------------------------------------------------------------------------
# Missing values, identifiers by name, recognised column names
# ---------------------------------------------------------------------------------------------------------
def is_missing(value) -> bool:
    """True for None, NaN (float, numpy, pandas NA), empty containers and ''/'nan'/'NA'/'n/a'/'null' strings.

    The string 'None' is not missing here: a symptom list or a findings cell 'None' says "none" (absent);
    `read_facts` drops it only where a field has no negative reading of it.
    """
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return True
    if isinstance(value, (list, tuple, set)):
        return all(is_missing(v) for v in value)
    if isinstance(value, dict):
        return not value
    if isinstance(value, str):
        return value.strip(" ;,\t\n").lower() in MISSING
    try:
        return math.isnan(float(value))
    except (TypeError, ValueError):
        return False


def key_of(name: str) -> str:
    """A column name lower-cased with every run of other characters as '_' ('Patient ID' -> 'patient_id')."""
    return re.sub(r"[^a-z0-9]+", "_", str(name).lower()).strip("_")


IDENTIFIER_NAMES = frozenset({
    "id", "uid", "uuid", "guid", "patient", "patient_id", "patient_num", "patient_number", "subject", "subject_id",
    "participant", "participant_id", "participant_identifier", "user", "user_id", "person", "person_id", "record",
    "record_id", "recording", "recording_id", "file", "filename", "file_name", "path", "audio_path", "audio", "wav",
    "group", "mrn"})
IDENTIFIER_SUFFIXES = ("_id", "_uid", "_uuid", "_path", "_file", "_filename", "_file_name", "_identifier")
BOOKKEEPING_NAMES = frozenset({"split", "fold", "official_split", "difficulty"})


def looks_like_identifier(name: str) -> bool:
    """Name rule: id, uid, uuid, patient, subject, participant, file, path, ... or *_id / *_path / *_file ..."""
    key = key_of(name)
    return key in IDENTIFIER_NAMES or key.endswith(IDENTIFIER_SUFFIXES) or key.startswith("id_") or "uuid" in key


# ICBHI chest and CirCor valve codes, as a generic site column may hold them
SITE_CODES = {"tc": "trachea", "al": "anterior left chest", "ar": "anterior right chest", "pl": "posterior left chest",
              "pr": "posterior right chest", "ll": "left lateral chest", "lr": "right lateral chest",
              "av": "aortic valve area", "pv": "pulmonary valve area", "tv": "tricuspid valve area",
              "mv": "mitral valve area", "phc": "other auscultation point"}


def _recognised() -> dict[str, ClinicalField]:
    flag_murmur = dict(negative=("absent", "no", "0", "false"), positive=("present", "yes", "1", "true"),
                       unknown=("unknown",))
    out: dict[str, ClinicalField] = {}

    def add(names: str, fact: str, kind: str, **kw) -> None:
        for name in names.split():
            out[name] = ClinicalField(name, fact, kind, **kw)

    add("age age_years patient_age", "age", "number")
    add("age_group", "age_group", "category")
    add("sex gender", "sex", "category", values={"m": "male", "f": "female"})
    add("height height_cm", "height", "number")
    add("weight weight_kg", "weight", "number")
    add("bmi", "bmi", "number")
    add("site location chest_location recording_location auscultation_site auscultation_location", "site",
        "category", values=SITE_CODES)
    add("device equipment stethoscope recording_device", "device", "text")
    add("position body_position sleep_position posture", "body_position", "category")
    add("symptoms symptom", "symptoms", "list")
    add("crackles crackle", "crackles", "category", negative=("none", "no", "absent", "0", "false"),
        positive=("yes", "present", "1", "true"))
    add("wheeze wheezes wheezing", "wheeze", "flag")
    add("cough_type", "cough_type", "category", unknown=("unknown",))
    add("sound_type", "sound_type", "category")
    add("murmur", "murmur", "flag", **flag_murmur)
    add("murmur_locations", "murmur_locations", "list", separator="+,;", values=SITE_CODES)
    add("most_audible_location murmur_most_audible", "murmur_most_audible", "category", values=SITE_CODES)
    for part in ("timing", "shape", "grade", "pitch", "quality"):
        src = "grading" if part == "grade" else part
        add(f"murmur_{part} systolic_murmur_{part} systolic_murmur_{src}", f"murmur_{part}", "category")
        add(f"diastolic_murmur_{part} diastolic_murmur_{src}", f"diastolic_murmur_{part}", "category")
    add("respiratory_rate rr breathing_rate respiratory_rate_bpm", "respiratory_rate", "number")
    add("fvc", "fvc", "number")
    add("fev1", "fev1", "number")
    add("fev1_fvc fev1fvc fev1_fvc_ratio", "fev1_fvc", "number")
    add("findings finding", "findings", "text", negative=("none",))
    add("diagnosis disease", "diagnosis", "category")
    add("copd_severity", "copd_severity", "category")
    add("outcome", "outcome", "category")
    add("smoker smoking smoking_status", "smoker", "flag")
    add("covid covid19 covid_19 covid_status covid_test_result", "covid_status", "category",
        negative=("negative", "no", "0", "false"), positive=("positive", "yes", "1", "true"))
    return out


RECOGNISED: dict[str, ClinicalField] = _recognised()
GENERIC = Declaration("generic")


# ---------------------------------------------------------------------------------------------------------
# Declarations of the registered datasets
# ---------------------------------------------------------------------------------------------------------
def declaration_of_module(dataset: str, module) -> Declaration:
    """The Declaration a dataset module spells out in CLINICAL_FIELDS, IDENTIFIER_COLUMNS, IGNORED_COLUMNS."""
    return Declaration(dataset, tuple(getattr(module, "CLINICAL_FIELDS", ())),
                       tuple(getattr(module, "IDENTIFIER_COLUMNS", ())), tuple(getattr(module, "IGNORED_COLUMNS", ())))


@cache
def declaration(dataset: str) -> Declaration:
    """The Declaration of a registered dataset (its reader's module); the generic rules for an unknown one."""
    import sys

    from benchmark_tasks._registry import _READERS, _discover

    _discover()
    reader = _READERS.get(dataset)
    if reader is None:
        return GENERIC
    return declaration_of_module(dataset, sys.modules[reader.__module__])


def task_declaration(task) -> Declaration:
    """The Declaration for items of `task`; a csv manifest's explicit identifier columns (options["id_columns"],
    from --id-columns) are added to the name rules."""
    decl = declaration(task.dataset)
    extra = tuple(task.options.get("id_columns") or ())
    return Declaration(decl.dataset, decl.fields, decl.identifiers + extra, decl.ignored) if extra else decl


@cache
def _all_declarations() -> tuple[Declaration, ...]:
    from benchmark_tasks._registry import _READERS, _discover

    _discover()
    return tuple(declaration(d) for d in _READERS if declaration(d).fields)


def infer_declaration(metadata: dict) -> Declaration:
    """The one registered dataset whose declaration names every key of `metadata` and that finds one of its own
    (exact) identifier columns there; else the generic rules.

    Lets a writer that is handed only (metadata, modality) apply the right dataset's vocabulary: a reader's items
    always carry its identifier keys, and only its declaration names all of their keys.
    """
    return _infer(tuple(sorted(metadata or {})))


@cache
def _infer(keys: tuple[str, ...]) -> Declaration:
    found = [d for d in _all_declarations()
             if any(k in d.identifiers for k in keys) and all(d.declares(k) for k in keys)]
    return found[0] if len(found) == 1 else GENERIC


# ---------------------------------------------------------------------------------------------------------
# Reading values
# ---------------------------------------------------------------------------------------------------------
def clean_text(value) -> str:
    """A readable string: numbers without '.0', underscores as spaces, whitespace collapsed."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)) or type(value).__name__.startswith(("float", "int")):
        return f"{float(value):g}"
    return re.sub(r"\s+", " ", str(value).replace("_", " ")).strip()


def soft_lower(text: str) -> str:
    """Lower-case Capitalised words ('Holosystolic' -> 'holosystolic'), keep acronyms and codes ('COPD', 'III/VI')."""
    return " ".join(w.lower() if w[:1].isupper() and w[1:].islower() and w[1:].isalpha() else w for w in text.split())


def join_items(items: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    items = [i for i in items if i]
    if len(items) < 2:
        return items[0] if items else ""
    return ", ".join(items[:-1]) + " and " + items[-1]


def number(value) -> float | None:
    try:
        x = float(str(value).strip().rstrip("*"))
    except (TypeError, ValueError):
        return None
    return None if math.isnan(x) else x


_DAYS = {"years": 365.25, "months": 30.4375, "days": 1.0, "weeks": 7.0}


def age_text(value, unit: str = "years") -> str:
    """An age in days under 60 days, months under two years, else years (one decimal): '3 days', '9 months'."""
    days = value * _DAYS.get(unit or "years", 365.25)
    if days < 60:
        n, name = round(days), "day"
    elif days < 730.5 - 15:
        n, name = round(days / _DAYS["months"]), "month"
    else:
        n, name = round(days / _DAYS["years"], 1), "year"
    return f"{n:g} {name}" + ("" if n == 1 else "s")


def _vocab(field_: ClinicalField, raw: str) -> str | None:
    low = raw.strip().lower()
    for key, text in field_.values.items():
        if str(key).strip().lower() == low:
            return text
    return None


def _in(raw: str, values) -> bool:
    low = raw.strip().lower()
    return any(low == str(v).strip().lower() for v in values)


def _category_text(field_: ClinicalField, raw: str) -> str:
    found = _vocab(field_, raw)
    return found if found is not None else soft_lower(clean_text(raw))


def _number_text(fact: Fact, field_: ClinicalField, raw) -> str:
    x = number(raw)
    unit = field_.unit or fact.unit
    if x is None:  # an age band "45-54", a code
        text = clean_text(raw)
        return f"{text} {unit}" if unit and re.search(r"\d", text) and not text.endswith(unit) else text
    if fact.name == "age":
        return age_text(x, unit)
    if fact.name == "fev1_fvc":
        return f"{x:g}%" if (field_.unit == "percent" or x > 1.5) else f"{x:g}"
    if field_.unit == "percent":
        return f"{x:g}%"
    return f"{x:g} {fact.unit}".strip() if fact.unit else f"{x:g}"


def read_field(field_: ClinicalField, value, source: str, scrub=lambda t: t) -> list[Reading]:
    """The Readings of one present metadata value (several for a list); [] when it states nothing."""
    fact = FACTS[field_.fact]
    label = fact.label

    def reading(state: str, text: str) -> Reading:
        return Reading(fact, field_.kind, state, text, source, label, field_.rater)

    if field_.kind == "list":
        parts = value if isinstance(value, (list, tuple, set)) else \
            re.split(f"[{re.escape(field_.separator)}]", str(value))
        parts = [p for p in (clean_text(x) for x in parts if not is_missing(x)) if p]
        present, absent = [], False
        for p in parts:
            if _in(p, field_.unknown) or p.lower() in UNSAID_ITEMS:
                continue
            if _in(p, field_.negative) or (not field_.negative and p.lower() in NONE_ITEMS):
                absent = True
                continue
            present.append(scrub(_category_text(field_, p)))
        if present:
            return [reading("present" if fact.many or fact.noun else "value", t) for t in present]
        return [reading("absent", "absent")] if absent else []
    raw = value if isinstance(value, str) else clean_text(value)
    if _in(raw, field_.unknown):
        return [reading("unknown", "unknown")]
    if field_.kind == "number":
        return [reading("value", _number_text(fact, field_, value))]
    if field_.kind == "count":
        n = number(raw)
        if n is None:
            return [reading("value", clean_text(raw))]
        if n == 0 and fact.noun:
            return [reading("absent", "0 (absent)")]
        return [reading("present" if fact.noun else "value", f"{n:g}")]
    if field_.kind in ("flag", "member"):
        negative = field_.negative or tuple(NO)
        positive = field_.positive or tuple(YES)
        item = field_.item or _member_item(field_, source)
        if field_.kind == "member" and item.lower() in UNSAID_ITEMS:
            return [reading("unknown", "unknown")] if _in(raw, positive) else []
        if field_.kind == "member" and item.lower() in NONE_ITEMS:
            return [reading("absent", "absent")] if _in(raw, positive) else []
        if _in(raw, negative):
            return [reading("absent", item if field_.kind == "member" else _vocab(field_, raw) or "absent")]
        if _in(raw, positive):
            return [reading("present", item if field_.kind == "member" else _vocab(field_, raw) or "present")]
        return [reading("value", scrub(_category_text(field_, raw)))]
    if field_.kind == "category":
        text = scrub(_category_text(field_, raw))
        if _in(raw, field_.negative):
            low = clean_text(raw).lower()
            return [reading("absent", _vocab(field_, raw) or ("absent" if low in NONE_ITEMS else low))]
        if _in(raw, field_.positive):
            return [reading("present", _vocab(field_, raw) or "present")]
        return [reading("present" if fact.noun else "value", text)]
    text = scrub(clean_text(raw))  # free text
    if _in(raw, field_.negative):
        return [reading("absent", "absent")]
    return [reading("value", text)] if text else []


def _member_item(field_: ClinicalField, source: str) -> str:
    prefix = field_.source.split("*")[0] if field_.is_pattern else ""
    name = source[len(prefix):] if source.startswith(prefix) else source
    return clean_text(name).lower()


def identifier_values(metadata: dict, decl: Declaration) -> list[str]:
    """Values (>= 3 characters) of the identifier keys of `metadata`, longest first."""
    out = set()
    for key, value in (metadata or {}).items():
        kind = decl.classify(key)[0]
        if (kind == "identifier" or (kind == "undeclared" and looks_like_identifier(key))) and not is_missing(value):
            if isinstance(value, (str, int)) and len(str(value).strip()) >= 3:
                out.add(str(value).strip())
    return sorted(out, key=len, reverse=True)


def scrubber(metadata: dict, decl: Declaration):
    """A function that replaces every identifier value of `metadata` found in a text by '[redacted]'."""
    patterns = [re.compile(rf"(?<![\w.]){re.escape(v)}(?!\w|\.\d)", re.IGNORECASE)
                for v in identifier_values(metadata, decl)]

    def scrub(text: str) -> str:
        for p in patterns:
            text = p.sub("[redacted]", text)
        return text

    return scrub


def read_facts(metadata: dict, decl: Declaration | None = None) -> list[Reading]:
    """Every statement `metadata` makes, in FACTS order (then rater, source): identifiers, ignored keys and
    missing values left out; an undeclared key is read by its recognised name, or generically."""
    decl = decl if decl is not None else infer_declaration(metadata)
    scrub = scrubber(metadata, decl)
    readings: list[Reading] = []
    for key, value in (metadata or {}).items():
        if is_missing(value):
            continue
        kind, field_ = decl.classify(key)
        if kind in ("identifier", "ignored"):
            continue
        if _says_none(value) and not _reads_none(field_ or RECOGNISED.get(key_of(key))):
            continue  # a 'None' placeholder where the column has no "none" reading
        if kind == "undeclared":
            if looks_like_identifier(key) or key_of(key) in BOOKKEEPING_NAMES:
                continue
            field_ = RECOGNISED.get(key_of(key))
            if field_ is None:
                text = scrub(clean_text(value if not isinstance(value, (list, tuple)) else
                                        join_items([clean_text(v) for v in value if not is_missing(v)])))
                if text:
                    readings.append(Reading(FACTS["other"], "text", "value", text, key, clean_text(key)))
                continue
        readings.extend(read_field(field_, value, key, scrub))
    readings = _drop_fallbacks(readings, decl)
    order = {name: i for i, name in enumerate(FACTS)}
    return sorted(readings, key=lambda r: (order[r.fact.name], r.rater, r.source))  # stable: a list keeps its order


def _says_none(value) -> bool:
    return isinstance(value, str) and value.strip().lower() == "none"


def _reads_none(field_: ClinicalField | None) -> bool:
    """Whether a field reads the value 'None' as a statement (absent), not as a placeholder."""
    if field_ is None:
        return False
    declared = field_.negative or field_.unknown or tuple(field_.values)
    if any(str(v).strip().lower() == "none" for v in declared):
        return True
    return field_.kind == "list" or (field_.kind in ("flag", "member") and not field_.negative)


def _drop_fallbacks(readings: list[Reading], decl: Declaration) -> list[Reading]:
    fallback = {f.source for f in decl.fields if f.fallback}
    given = {r.fact.name for r in readings if r.source not in fallback}
    return [r for r in readings if r.source not in fallback or r.fact.name not in given]
