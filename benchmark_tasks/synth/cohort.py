"""The demo cohort: subjects, their ground truth, recordings and subject-disjoint splits (no audio here).

Six pools (lung/heart/cough x easy/hard). Inside a pool every label combination (stratum) gets a fixed share of
subjects, at least three, so every split of every task holds both classes; subjects of a stratum are dealt to
train/val/test in the repeating order train, val, test, train, train (60/20/20). Each subject has 1-3
recordings at different sites with one device, and shares one ground truth across them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmark_tasks.synth import clinical
from benchmark_tasks.synth.channel import DEVICES
from benchmark_tasks.synth.difficulty import knobs_for

COLUMNS = ("uid", "path", "subject", "age", "sex", "site", "device", "sample_rate", "duration_s", "modality",
           "difficulty", "split", "crackles", "wheeze", "murmur", "murmur_grade", "murmur_shape", "murmur_timing",
           "murmur_pitch", "cough_type", "findings", "diagnosis", "symptoms")
SPLIT_ORDER = ("train", "val", "test", "train", "train")
SITES = {
    "lung": ("trachea", "anterior left upper", "anterior right upper", "lateral left", "lateral right",
             "posterior left base", "posterior right base"),
    "heart": ("aortic", "pulmonic", "tricuspid", "mitral"),
    "cough": ("mouth",),
}
MODALITY_DEVICES = {
    "lung": ("Littmann 3200", "Eko CORE", "Thinklabs One", "AKG C417L"),
    "heart": ("Littmann 3200", "Eko CORE", "Thinklabs One"),
    "cough": ("smartphone", "smartphone", "smartphone", "AKG C417L"),
}
CLIP_SECONDS = {"lung": (5.0, 5.0), "heart": (5.0, 5.0), "cough": (1.0, 2.0)}


@dataclass(frozen=True)
class Pool:
    """One modality at one difficulty with `subjects` subjects at scale 1 and its strata weights."""

    modality: str
    difficulty: str
    subjects: int
    strata: tuple[tuple[dict, float], ...]


_LUNG = tuple(({"crackles": c, "wheeze": w}, wc * ww)
              for c, wc in (("none", 0.5), ("fine", 0.25), ("coarse", 0.25)) for w, ww in (("no", 0.55), ("yes", 0.45)))
_HEART = (({"murmur": "absent"}, 0.5), ({"murmur": "present"}, 0.5))
_COUGH = (({"cough_type": "dry"}, 0.5), ({"cough_type": "wet"}, 0.5))
# Hard pools get more subjects: their AUROCs sit nearer 0.5, where small test sets are noisiest.
POOLS = (Pool("lung", "easy", 70, _LUNG), Pool("lung", "hard", 105, _LUNG), Pool("heart", "easy", 55, _HEART),
         Pool("heart", "hard", 85, _HEART), Pool("cough", "easy", 50, _COUGH), Pool("cough", "hard", 70, _COUGH))


def _age(child: bool, rng: np.random.Generator) -> int:
    return int(rng.integers(2, 12)) if child else int(rng.integers(18, 91))


def _subject_truth(pool: Pool, stratum: dict, rng: np.random.Generator) -> dict:
    """Age, sex, ground truth, diagnosis, findings and symptoms of one subject of `pool` in `stratum`."""
    child = bool(rng.random() < 0.2)
    truth = dict.fromkeys(("crackles", "wheeze", "murmur", "murmur_grade", "murmur_shape", "murmur_timing",
                           "murmur_pitch", "cough_type"))
    truth.update(stratum)
    if pool.modality == "lung":
        adult_dx, child_dx = clinical.LUNG_DIAGNOSES[(stratum["crackles"], stratum["wheeze"])]
        options = child_dx if child else adult_dx
        diagnosis = options[int(rng.integers(len(options)))]
        findings = clinical.lung_findings(stratum["crackles"], stratum["wheeze"])
    elif pool.modality == "heart":
        diagnosis, findings = "healthy", "none"
        if stratum["murmur"] == "present":
            grades = knobs_for(pool.difficulty).murmur_grades
            names = [d for d, p in clinical.MURMUR_PROFILES.items() if p[4] >= min(grades)]
            diagnosis = names[int(rng.integers(len(names)))]
            shape, timing, pitch, group, top = clinical.MURMUR_PROFILES[diagnosis]
            child = group == "child"
            grade = int(rng.choice([g for g in grades if g <= top]))
            truth.update(murmur_grade=grade, murmur_shape=shape, murmur_timing=timing, murmur_pitch=pitch)
            findings = clinical.heart_findings(grade, shape, timing, pitch)
    else:
        adult_dx, child_dx = clinical.COUGH_DIAGNOSES[stratum["cough_type"]]
        options = child_dx if child else adult_dx
        diagnosis = options[int(rng.integers(len(options)))]
        findings = clinical.cough_findings(stratum["cough_type"])
    age = _age(child, rng)
    if diagnosis == "aortic stenosis":
        age = int(rng.integers(55, 91))
    return {"age": age, "sex": "female" if rng.random() < 0.5 else "male", **truth, "findings": findings,
            "diagnosis": diagnosis, "symptoms": clinical.symptoms_text(diagnosis, rng)}


def plan_cohort(seed: int = 0, scale: float = 1.0) -> list[dict]:
    """Metadata rows (COLUMNS, audio not yet rendered) of the whole demo, deterministic in (seed, scale).

    Args:
        seed: cohort seed.
        scale: multiplies the number of subjects per pool (each stratum keeps at least three subjects).
    Returns:
        one dict per recording with every COLUMNS key; None where a field does not apply.
    """
    if scale <= 0:
        raise ValueError(f"scale must be > 0, got {scale}")
    rng = np.random.default_rng([seed, 0x5EED])
    subjects = []
    for pool in POOLS:
        for stratum, weight in pool.strata:
            count = max(3, int(round(pool.subjects * scale * weight)))
            order = rng.permutation(count)  # which subject of the stratum gets which split slot
            for i in order:
                truth = _subject_truth(pool, stratum, rng)
                subjects.append((pool, SPLIT_ORDER[i % len(SPLIT_ORDER)], truth))
    rows = []
    for number, s in enumerate(rng.permutation(len(subjects)), start=1):  # ids carry no label order
        pool, split, truth = subjects[s]
        device = MODALITY_DEVICES[pool.modality][int(rng.integers(len(MODALITY_DEVICES[pool.modality])))]
        sites = SITES[pool.modality]
        count = int(rng.choice([1, 2, 3], p=[0.3, 0.4, 0.3]))
        # distinct auscultation sites; coughs are all recorded at the mouth
        site_indices = sorted(rng.choice(len(sites), size=count, replace=False)) if len(sites) > 1 else [0] * count
        for site_index in site_indices:
            uid = f"demo-{len(rows) + 1:05d}"
            low, high = CLIP_SECONDS[pool.modality]
            rows.append({"uid": uid, "path": f"audio/{uid}.wav", "subject": f"S{number:04d}", **truth,
                         "site": sites[site_index], "device": device, "sample_rate": DEVICES[device].sample_rate,
                         "duration_s": round(float(rng.uniform(low, high)), 2), "modality": pool.modality,
                         "difficulty": pool.difficulty, "split": split})
    return [{k: r.get(k) for k in COLUMNS} for r in rows]
