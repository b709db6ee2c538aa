"""Clinical reports from item metadata: the offline template writer, the LLM prompt, zero-shot class prompts.

AcuLa (arXiv 2512.04847, github janine714/AcuLA @781a96b) turns each recording's metadata into a short clinical
report with GPT-4o and aligns the audio encoder with a language model's reading of that report. What a metadata
key means is declared per dataset (benchmark_tasks/clinical.py: CLINICAL_FIELDS, IDENTIFIER_COLUMNS,
IGNORED_COLUMNS on each dataset module); `benchmark_tasks.clinical.read_facts` turns an item's metadata into
normalised statements (`Reading`s) and this module renders every one of them:

- `template_report`: the offline default, 1-3 sentences (recording and person; findings; clinical status), with
  synonymous phrasings chosen by a seeded RNG (same metadata, modality and seed -> same text);
- `describe_metadata`: the same statements as 'Label: value' lines, the LLM writer's prompt (align.llm_reports);
- `class_prompts`: zero-shot prompts, one template with only the class's finding changing.

Absent findings read as absent ("no murmur"), values stated as unknown are not reported, placeholders (None,
NaN, '', 'NA') never are, and identifiers (subject ids, uids, paths) and bookkeeping (split, difficulty) are
never used. Without a `declaration` the dataset is recognised from the metadata keys
(`benchmark_tasks.clinical.infer_declaration`); unknown keys are read by name or reported as "<column>: <value>".
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from dataclasses import dataclass

from benchmark_tasks.clinical import (
    FACTS,
    Declaration,
    Reading,
    is_missing,
    join_items,
    read_facts,
)

__all__ = ["class_prompts", "describe_metadata", "finding_phrasings", "is_missing", "prompt_wordings",
           "readings", "template_report"]

_MODALITY = {"cough": ("cough recording", "recorded cough"),
             "breath": ("breathing sound recording", "breath recording"),
             "exhalation": ("exhalation recording", "breath recording"),
             "deep breath": ("deep-breathing recording", "breath recording"),
             "lung": ("lung sound recording", "lung auscultation recording"),
             "heart": ("heart sound recording", "cardiac auscultation recording"),
             "snore": ("snoring recording",), "snoring": ("snoring recording",),
             "vowel": ("sustained vowel recording",), "nasal": ("nasal breathing recording",),
             "nasal breathing": ("nasal breathing recording",)}
_HEALTHY = {"healthy", "normal", "control"}
_SPIROMETRY = ("fvc", "fev1", "fev1_fvc")


@dataclass(frozen=True)
class Phrases:
    """How a report states one fact. `{value}` is the normalised value (with the rater, if any).

    present: a finding that is there (no value to add); described: a present finding with a value ("fine"
    crackles, crackles in "2" cycles); absent: a finding that is not there; value: any other value.
    """

    present: tuple[str, ...] = ()
    described: tuple[str, ...] = ()
    absent: tuple[str, ...] = ()
    value: tuple[str, ...] = ()


_PHRASES = {
    "crackles": Phrases(("crackles are heard", "crackles are present", "there are crackles"),
                        ("there are {value} crackles", "auscultation reveals {value} crackles",
                         "the recording has {value} crackles"),
                        ("no crackles are heard", "crackles are absent", "there are no crackles")),
    "wheeze": Phrases(("wheezes are heard", "wheezing is present", "there is wheezing"), ("{value} wheezes are heard",),
                      ("no wheezes are heard", "wheezes are absent", "there is no wheezing")),
    "respiratory_cycles": Phrases(value=("annotated respiratory cycles: {value}",
                                         "the number of annotated respiratory cycles is {value}")),
    "crackle_cycles": Phrases(described=("crackles are annotated in {value} respiratory cycles",),
                              absent=("no crackles are annotated in any cycle",
                                      "no annotated respiratory cycle has crackles")),
    "wheeze_cycles": Phrases(described=("wheezes are annotated in {value} respiratory cycles",),
                             absent=("no wheezes are annotated in any cycle",
                                     "no annotated respiratory cycle has wheezes")),
    "both_cycles": Phrases(described=("crackles and wheezes occur together in {value} cycles",),
                           absent=("crackles and wheezes never occur together in one cycle",)),
    "fever_muscle_pain": Phrases(("fever or muscle pain is reported",),
                                 absent=("no fever or muscle pain is reported",)),
    "audible_signs": Phrases(absent=("no audible respiratory signs are noted",)),
    "cough_type": Phrases(value=("the cough is {value}", "the cough sounds {value}")),
    "record_annotation": Phrases(value=("the recording is annotated as {value}",)),
    "adventitious_events": Phrases(("annotated sound events are {value}", "sound events annotated: {value}"),
                                   absent=("no sound events are annotated",)),
    "sound_type": Phrases(value=("the lung sound type is {value}", "lung sounds are annotated as {value}")),
    "respiratory_rate": Phrases(value=("the respiratory rate is {value}", "breathing is at {value}")),
    "findings": Phrases(value=("the findings are {value}", "noted findings are {value}"),
                        absent=("no abnormal findings are noted",)),
    "symptoms": Phrases(("reported symptoms are {value}", "symptoms include {value}"),
                        absent=("no symptoms are reported", "the subject reports no symptoms")),
    "comorbidities": Phrases(("pre-existing conditions are {value}", "pre-existing conditions include {value}"),
                             absent=("no pre-existing conditions are reported",)),
    "respiratory_conditions": Phrases(("respiratory conditions include {value}",),
                                      absent=("no respiratory conditions are reported",)),
    "respiratory_condition": Phrases(("a pre-existing respiratory condition is reported",),
                                     absent=("no pre-existing respiratory condition is reported",)),
    "diagnosis": Phrases(value=("the diagnosis is {value}", "the patient is diagnosed with {value}",
                                "the clinical diagnosis is {value}")),
    "copd_severity": Phrases(value=("COPD severity is level {value}", "COPD severity level {value} is recorded")),
    "outcome": Phrases(value=("the clinical outcome is {value}", "the outcome was assessed as {value}")),
    "covid_status": Phrases(("COVID-19 status is positive", "the subject is COVID-19 positive"),
                            ("COVID-19 status is {value}", "the reported COVID-19 status is {value}"),
                            ("COVID-19 status is negative", "the subject is COVID-19 negative"),
                            ("COVID-19 status is {value}", "the reported COVID-19 status is {value}")),
    "covid_test": Phrases(value=("the COVID-19 test is {value}",)),
    "covid_test_method": Phrases(value=("the COVID-19 test method is {value}",)),
    "covid_vaccination": Phrases(value=("the subject is {value}",)),
    "hospitalized": Phrases(("the subject was hospitalised",), absent=("the subject was not hospitalised",)),
    "ct_scan": Phrases(("a chest CT scan was taken",), absent=("no CT scan was taken",)),
    "ct_score": Phrases(value=("the CT score is {value}",)),
    "pregnancy": Phrases(("the patient is pregnant",), absent=("the patient is not pregnant",)),
    "smoker": Phrases(("the subject smokes", "the subject is a smoker"), ("smoking status: {value}",),
                      ("the subject does not smoke", "the subject is a non-smoker"), ("smoking status: {value}",)),
}

# How a report states a patient's murmur without details (absent / present); also the phrasings zero-shot
# prompts average over (`finding_phrasings`).
_NO_MURMUR = ("no murmur", "no murmur is heard", "there is no murmur")
_A_MURMUR = ("a murmur is present", "a murmur is heard")


def _phrases(name: str) -> Phrases:
    """The fact's phrases; facts without their own get "<noun> is present" / "no <noun>" / "<label> is <value>"."""
    fact = FACTS[name]
    own = _PHRASES.get(name, Phrases())
    label = fact.label if fact.label[:2].isupper() else fact.label.lower()
    noun = fact.noun
    return Phrases(own.present or ((f"{noun} is present",) if noun else ()),
                   own.described or own.value or (f"{label} is {{value}}",),
                   own.absent or ((f"no {noun}",) if noun else ()),
                   own.value or (f"{label} is {{value}}",))


def readings(metadata: dict, declaration: Declaration | None = None) -> list[Reading]:
    """The statements of `metadata` a report makes (unknown values left out), in report order."""
    return [r for r in read_facts(metadata, declaration) if r.state != "unknown"]


def _by_fact(items: list[Reading]) -> dict[str, list[Reading]]:
    out: dict[str, list[Reading]] = {}
    for r in items:
        out.setdefault(r.fact.name, []).append(r)
    return out


def _an(phrase: str) -> str:
    """Prefix 'a'/'an' by sound: 'an 8-day-old', 'an 11-year-old', 'a 63-year-old', 'an adult'."""
    low = phrase.lower()
    digits = re.match(r"\d+", low)
    if digits:
        vowel = digits.group().startswith("8") or digits.group() in ("11", "18")
    else:
        vowel = low[:1] in "aeio" or (low[:1] == "u" and not low.startswith(("uni", "use", "usu")))
    return ("an " if vowel else "a ") + phrase


def _raters(group: list[Reading]) -> str:
    raters = [r.rater for r in group]
    return f" ({join_items(list(dict.fromkeys(raters)))})" if all(raters) else ""


def _groups(items: list[Reading]) -> list[list[Reading]]:
    """Readings of one fact grouped by (state, rater, present without a value): each group is one clause."""
    out: dict[tuple, list[Reading]] = {}
    for r in items:
        plain = r.state == "absent" or (r.state == "present" and r.text == "present")
        out.setdefault((r.state, r.rater, plain), []).append(r)
    return list(out.values())


class _Writer:
    """Builds the three sentences of one report with one seeded RNG."""

    def __init__(self, items: list[Reading], modality: str, rng: random.Random):
        self.f, self.m, self.rng = _by_fact(items), modality.strip().lower(), rng

    def pick(self, *options: str) -> str:
        return self.rng.choice(options)

    def text(self, name: str) -> str:
        return join_items([r.text for r in self.f.get(name, [])])

    def clauses(self, name: str) -> list[str]:
        """The clauses stating fact `name` (generic: its Phrases)."""
        items = self.f.get(name, [])
        if not items:
            return []
        fact = FACTS[name]
        if name == "other":
            return [f"{r.label}: {r.text}" for r in items]
        ph = _phrases(name)
        if fact.many:
            present = [r.text for r in items if r.state in ("present", "value")]
            if present:
                return [self.pick(*ph.present).format(value=join_items(list(dict.fromkeys(present))))]
            return [self.pick(*ph.absent)] if ph.absent else []
        out = []
        for group in _groups(items):
            r = group[0]
            value = join_items([g.text for g in group])
            if r.state == "absent":
                options = ph.absent or ph.value
            elif r.state == "present" and r.text == "present":
                options = ph.present or ph.value
            elif r.state == "present":
                options = ph.described
            else:
                options = ph.value
            if name == "diagnosis" and value.lower() in _HEALTHY:
                options = ("the subject is recorded as healthy", "the diagnosis is healthy")
            if name == "copd_severity":
                value = re.sub(r"(?i)^copd\s*", "", value)
            out.append(self.pick(*options).format(value=value) + _raters(group))
        return out

    def person(self) -> str:
        """'a female subject aged 22 years (height 98 cm, weight 15.9 kg)', or ''."""
        sex = self.text("sex")
        noun = self.text("age_group") or self.pick("subject", "patient")
        known = "sex" in self.f or "age_group" in self.f or "age" in self.f
        adjective = sex if sex.lower() in ("male", "female") else ""
        who = f"{adjective} {noun}".strip()
        if sex and not adjective:
            who += f" (sex: {sex})"
        if "age" in self.f:
            who += f" aged {self.text('age')}"
        extra = [c for name in ("height", "weight", "bmi", "residence") for c in self._bare(name)]
        if not known and not extra:
            return ""
        return _an(who) + (f" ({', '.join(extra)})" if extra else "")

    def _bare(self, name: str, sep: str = " ") -> list[str]:
        """'<label><sep><value>' items for the person's parentheses and the recording's tail."""
        fact = FACTS[name]
        label = fact.label if fact.label[:2].isupper() else fact.label.lower()
        return [f"{label}{sep}{join_items([r.text for r in g])}{_raters(g)}" for g in _groups(self.f.get(name, []))]

    def context(self) -> str:
        names = _MODALITY.get(self.m, (f"{self.m} recording",))
        rec = self.pick(*names)
        where = ""
        if "site" in self.f:
            where += f" at the {self.text('site')}"
        if "channel" in self.f:
            where += f" (channel {self.text('channel')})"
        if "device" in self.f:
            where += f" with {_an(self.text('device'))}"
        if "stethoscope_filter" in self.f:
            where += f" using the {self.text('stethoscope_filter')} filter"
        extras = [c for name in ("body_position", "recording_task", "recording_quality")
                  for c in self._bare(name, ": ")]
        tail = ("; " + "; ".join(extras)) if extras else ""
        who = self.person()
        if not who:
            return self.pick(f"{rec[0].upper()}{rec[1:]}{where}{tail}.", f"This is {_an(rec)}{where}{tail}.")
        return self.pick(f"{rec[0].upper()}{rec[1:]}{where} from {who}{tail}.",
                         f"{who[0].upper()}{who[1:]}: {rec}{where}{tail}.",
                         f"This {rec} was obtained{where} from {who}{tail}.")

    def murmur_body(self, prefix: str) -> str:
        """'grade III/VI diamond-shaped holosystolic murmur of high pitch and harsh quality', '' without details."""
        g = {k: self.text(f"{prefix}murmur_{k}") for k in ("timing", "shape", "grade", "pitch", "quality")}
        if not any(g.values()):
            return ""
        adj = [f"grade {g['grade']}"] if g["grade"] else []
        if g["shape"]:
            adj.append(f"{g['shape']}-shaped" if g["shape"].lower() in ("diamond", "plateau") else g["shape"])
        adj.append(f"{g['timing'] or ('diastolic' if prefix else '')} murmur".strip())
        tail = [f"{g[k]} {k}" for k in ("pitch", "quality") if g[k]]
        return " ".join(adj) + (" of " + " and ".join(tail) if tail else "")

    def murmur(self) -> list[str]:
        """The murmur clauses: at this recording site, the patient's murmur and its description, diastolic."""
        where = ""
        if "murmur_locations" in self.f:
            where += f", audible at the {self.text('murmur_locations')}"
        if "murmur_most_audible" in self.f:
            where += f", loudest at the {self.text('murmur_most_audible')}"
        body = self.murmur_body("")
        patient = {r.state for r in self.f.get("murmur", [])}
        described = _an(body) if body else "a murmur"
        out = []
        site = {r.state for r in self.f.get("murmur_at_site", [])}
        if site == {"present"}:
            head = self.pick("a murmur is present at this site", "a murmur is heard at this site")
            out.append(f"{head}: {described}{where}" if body or where else head)
        elif site == {"absent"}:
            out.append(self.pick("no murmur at this site", "no murmur is heard at this site"))
            if "present" in patient or body or where:
                out.append(self.pick(f"the patient has {described}{where}",
                                     f"elsewhere the patient has {described}{where}"))
        elif "absent" in patient and not body:
            out.append(self.pick(*_NO_MURMUR))
        elif "present" in patient or body or where:
            if body or where:
                out.append(self.pick(f"{described} is heard{where}", f"there is {described}{where}",
                                     f"{described} is present{where}"))
            else:
                out.append(self.pick(*_A_MURMUR))
        out += [f"{r.fact.label.lower()}: {r.text}{_raters([r])}" for name in ("murmur", "murmur_at_site")
                for r in self.f.get(name, []) if r.state == "value"]
        diastolic = self.murmur_body("diastolic_")
        if diastolic:
            out.append(self.pick(f"{_an(diastolic)} is heard", f"there is {_an(diastolic)}"))
        return out

    def spirometry(self) -> list[str]:
        parts = [f"{FACTS[k].label} {self.text(k)}" for k in _SPIROMETRY if k in self.f]
        return [self.pick("spirometry shows ", "spirometry gives ") + join_items(parts)] if parts else []

    def section(self, section: str) -> list[str]:
        out, done = [], set()
        for name, fact in FACTS.items():
            if fact.section != section or name not in self.f or name in done:
                continue
            if name.startswith(("murmur", "diastolic_murmur")):
                done.update(n for n in FACTS if n.startswith(("murmur", "diastolic_murmur")))
                out += self.murmur()
            elif name in _SPIROMETRY:
                done.update(_SPIROMETRY)
                out += self.spirometry()
            else:
                out += self.clauses(name)
        return out

    def sentence(self, clauses: list[str]) -> str:
        if not clauses:
            return ""
        if len(clauses) > 1 and self.rng.random() < 0.5:
            text = ", ".join(clauses[:-1]) + " and " + clauses[-1]
        else:
            text = "; ".join(clauses)
        return text[0].upper() + text[1:] + "."


def _rng(*parts) -> random.Random:
    blob = json.dumps(parts, sort_keys=True, default=str)
    return random.Random(int(hashlib.sha256(blob.encode()).hexdigest()[:16], 16))


def template_report(metadata: dict, modality: str, seed: int = 0, declaration: Declaration | None = None) -> str:
    """A 1-3 sentence clinical report stating every clinical fact of `metadata` and nothing else.

    Args:
        metadata: an item's metadata (Item.metadata as its dataset reader emits it).
        modality: 'cough', 'breath', 'lung', 'heart', ... (names the recording).
        seed: chooses among synonymous phrasings; the same (metadata, modality, seed) always gives the same text.
        declaration: what the metadata keys mean (benchmark_tasks.clinical.declaration(dataset)); default: the
            registered dataset whose declaration names every key, else the generic rules.

    Returns:
        context sentence (recording, site, device, person), then findings, then clinical status, each only when
        its facts are present.
    """
    items = readings(metadata, declaration)
    rng = _rng(seed, modality, [(r.fact.name, r.state, r.text, r.rater, r.label) for r in items])
    w = _Writer(items, modality, rng)
    parts = (w.context(), w.sentence(w.section("findings")), w.sentence(w.section("clinical")))
    return " ".join(p for p in parts if p)


def _prompt_value(group: list[Reading]) -> str:
    """A group's value for the prompt; a plain present / absent flag reads 'yes' / 'no'."""
    texts = [{"present": "yes", "absent": "no"}.get(r.text, r.text) for r in group]
    return join_items(list(dict.fromkeys(texts))) + _raters(group)


def describe_metadata(metadata: dict, modality: str, declaration: Declaration | None = None) -> str:
    """The statements of `metadata` as 'Label: value' lines in a fixed order (codes spelled out, identifiers
    removed, a plain finding as 'yes' / 'no'): the LLM writer's prompt."""
    lines = [f"Recording: {modality}"]
    for name, items in _by_fact(readings(metadata, declaration)).items():
        fact = FACTS[name]
        if name == "other":
            lines += [f"{r.label}: {r.text}" for r in items]
        elif fact.many:
            present = [r.text for r in items if r.state in ("present", "value")]
            lines.append(f"{fact.label}: {join_items(list(dict.fromkeys(present))) if present else 'none reported'}")
        else:
            lines.append(f"{fact.label}: {'; '.join(_prompt_value(g) for g in _groups(items))}")
    return "\n".join(lines)


def class_prompts(findings, modality: str, seed: int = 0) -> list[str]:
    """One zero-shot prompt per class: the same recording sentence for every class, then the class's finding.

    Args:
        findings: per class, the finding as a report phrases it (TaskSpec.class_findings: "no murmur", "a murmur
            is present").
        modality: the task's modality (names the recording).
        seed: which synonym names the recording (the same for every class).
    """
    names = _MODALITY.get(modality.strip().lower(), (f"{modality.strip().lower()} recording",))
    rec = _rng(seed, modality).choice(names)
    head = f"{rec[0].upper()}{rec[1:]}."
    return [f"{head} {str(f)[0].upper()}{str(f)[1:]}." for f in findings]



def _phrase_sets() -> list[tuple[str, ...]]:
    """Every tuple of synonymous phrasings the template writer picks one of to state a finding."""
    sets = [_NO_MURMUR, _A_MURMUR]
    for ph in _PHRASES.values():
        sets += [t for t in (ph.present, ph.described, ph.absent, ph.value) if t]
    return sets


def finding_phrasings(finding: str) -> tuple[str, ...]:
    """The synonymous phrasings the template writer uses for `finding`, `finding` first; (finding,) when the
    writer has no synonyms for it.

    A finding with a value is matched through its phrasings' templates: "the cough is dry" matches
    ("the cough is {value}", "the cough sounds {value}") and gives ("the cough is dry", "the cough sounds dry").
    """
    text = str(finding).strip()
    low = text.lower()
    sets = _phrase_sets()
    for options in sets:   # a phrasing written out wins over a template ("no wheezes are heard", not "{value} wheezes")
        if any("{value}" not in o and o.lower() == low for o in options):
            return tuple(dict.fromkeys([text, *(o for o in options if "{value}" not in o and o.lower() != low)]))
    for options in sets:
        for option in options:
            head, found, tail = option.partition("{value}")
            if found and re.fullmatch(re.escape(head) + ".+" + re.escape(tail), low):
                value = text[len(head):len(text) - len(tail)]
                return tuple(dict.fromkeys([text, *(o.format(value=value) for o in options if "{value}" in o)]))
    return (text,)


def prompt_wordings(findings, modality: str) -> list[tuple[str, ...]]:
    """Every set of zero-shot prompts (one per class, in class order) the template writer could word: for each
    name of the recording (`_MODALITY`, shared by all classes as in `class_prompts`), binary tasks take every
    (class-0 phrasing, class-1 phrasing) pair of `finding_phrasings`, multiclass tasks phrasing k of every class
    (k modulo its count) for k up to the most phrasings. `class_prompts`' prompts are one of the sets.
    """
    names = _MODALITY.get(modality.strip().lower(), (f"{modality.strip().lower()} recording",))
    phrasings = [finding_phrasings(str(f)) for f in findings]
    if len(phrasings) == 2:
        choices = [(i, j) for i in range(len(phrasings[0])) for j in range(len(phrasings[1]))]
    else:
        choices = [tuple(k % len(p) for p in phrasings) for k in range(max(len(p) for p in phrasings))]
    return [tuple(f"{r[0].upper()}{r[1:]}. {p[k][0].upper()}{p[k][1:]}." for p, k in zip(phrasings, choice))
            for r in names for choice in choices]
