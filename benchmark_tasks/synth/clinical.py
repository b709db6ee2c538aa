"""Clinical-style text for the demo cohort: diagnoses consistent with the findings, symptoms, findings text.

The findings are drawn first (they are the ground truth); the diagnosis and symptoms are then picked to agree
with them, the way a clinician's note would, so alignment has plausible text to learn from.
"""

from __future__ import annotations

import numpy as np

# (crackles, wheeze) -> (adult diagnoses, child diagnoses)
LUNG_DIAGNOSES = {
    ("none", "no"): (("healthy",), ("healthy",)),
    ("fine", "no"): (("interstitial lung disease", "heart failure"), ("pneumonia",)),
    ("coarse", "no"): (("pneumonia", "bronchiectasis"), ("pneumonia",)),
    ("none", "yes"): (("asthma",), ("asthma", "viral-induced wheeze")),
    ("fine", "yes"): (("heart failure",), ("bronchiolitis",)),
    ("coarse", "yes"): (("COPD", "bronchiectasis"), ("cystic fibrosis",)),
}

# diagnosis -> (shape, timing, pitch, age group, highest grade it is plausible at)
MURMUR_PROFILES = {
    "aortic stenosis": ("diamond", "mid-systolic", "medium", "adult", 4),
    "mitral regurgitation": ("plateau", "holosystolic", "high", "adult", 4),
    "mitral valve prolapse": ("crescendo", "late-systolic", "high", "adult", 3),
    "ventricular septal defect": ("plateau", "holosystolic", "high", "child", 4),
    "small muscular VSD": ("decrescendo", "early-systolic", "high", "child", 3),
    "pulmonary stenosis": ("diamond", "mid-systolic", "medium", "child", 4),
    "innocent murmur": ("diamond", "early-systolic", "low", "child", 2),
}

# cough type -> (adult diagnoses, child diagnoses); a healthy subject's voluntary cough is dry
COUGH_DIAGNOSES = {
    "wet": (("acute bronchitis", "pneumonia", "bronchiectasis", "COPD exacerbation"),
            ("acute bronchitis", "pneumonia")),
    "dry": (("asthma", "COVID-19", "upper respiratory infection", "post-viral cough", "healthy"),
            ("asthma", "upper respiratory infection", "post-viral cough", "healthy")),
}

SYMPTOMS = {
    "healthy": (),
    "interstitial lung disease": ("exertional dyspnoea", "dry cough", "fatigue"),
    "heart failure": ("orthopnoea", "ankle swelling", "exertional dyspnoea", "fatigue"),
    "pneumonia": ("fever", "productive cough", "pleuritic chest pain", "dyspnoea"),
    "bronchiectasis": ("chronic productive cough", "recurrent chest infections", "haemoptysis"),
    "asthma": ("episodic wheeze", "chest tightness", "night-time cough", "dyspnoea"),
    "viral-induced wheeze": ("coryza", "wheeze", "cough"),
    "bronchiolitis": ("coryza", "poor feeding", "tachypnoea", "cough"),
    "COPD": ("chronic cough", "sputum", "exertional dyspnoea"),
    "cystic fibrosis": ("chronic productive cough", "poor weight gain", "recurrent chest infections"),
    "aortic stenosis": ("exertional dyspnoea", "angina", "syncope"),
    "mitral regurgitation": ("fatigue", "exertional dyspnoea", "palpitations"),
    "mitral valve prolapse": ("palpitations", "atypical chest pain"),
    "ventricular septal defect": ("poor feeding", "failure to thrive", "sweating with feeds"),
    "small muscular VSD": (),
    "pulmonary stenosis": ("exertional dyspnoea", "fatigue"),
    "innocent murmur": (),
    "acute bronchitis": ("productive cough", "low-grade fever", "sore throat"),
    "COPD exacerbation": ("increased sputum", "purulent sputum", "dyspnoea"),
    "COVID-19": ("fever", "dry cough", "loss of smell", "fatigue"),
    "upper respiratory infection": ("sore throat", "coryza", "dry cough"),
    "post-viral cough": ("persistent dry cough", "throat irritation"),
}

ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}


def symptoms_text(diagnosis: str, rng: np.random.Generator) -> str:
    """1-3 symptoms typical of `diagnosis`, '; '-separated, or "none"."""
    options = SYMPTOMS[diagnosis]
    if not options:
        return "none"
    k = int(rng.integers(1, min(3, len(options)) + 1))
    picks = rng.choice(len(options), size=k, replace=False)
    return "; ".join(options[i] for i in sorted(picks))


def lung_findings(crackles: str, wheeze: str) -> str:
    """Auscultation findings of a lung recording, e.g. "fine inspiratory crackles; expiratory wheeze"."""
    parts = []
    if crackles == "fine":
        parts.append("fine late-inspiratory crackles")
    elif crackles == "coarse":
        parts.append("coarse early-inspiratory crackles")
    if wheeze == "yes":
        parts.append("expiratory wheeze")
    return "; ".join(parts) or "none"


def heart_findings(grade: int | None, shape: str | None, timing: str | None, pitch: str | None) -> str:
    """e.g. "grade III mid-systolic diamond-shaped murmur, medium pitch", or "none" without a murmur."""
    if grade is None:
        return "none"
    return f"grade {ROMAN[grade]} {timing} {shape}-shaped murmur, {pitch} pitch"


def cough_findings(cough_type: str) -> str:
    """"wet (productive) cough" or "dry cough"."""
    return "wet (productive) cough" if cough_type == "wet" else "dry cough"
