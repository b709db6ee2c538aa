"""OPERA's published results (the paper's table), for the leaderboard's "published" row group.

Source: github.com/evelyn0414/OPERA, commit 3622310e667afb8aa40169050b4dd45de75946a2, file
`res_analysis/calculate_rank.py` (the `data` string: one line per task T1..T19, one "mean ± std" per model).
T1–T12 are classification tasks scored by AUROC (higher is better), T13–T19 regression tasks scored by MAE
(lower is better). "CLAP" there is Microsoft CLAP (2022). These numbers were run by OPERA's authors on OPERA's
splits; the leaderboard shows them beside ours and never averages them into our rows.
"""

from __future__ import annotations

from dataclasses import dataclass

SOURCE_REPO = "evelyn0414/OPERA"
SOURCE_COMMIT = "3622310e667afb8aa40169050b4dd45de75946a2"
SOURCE_FILE = "res_analysis/calculate_rank.py"
SOURCE = f"github.com/{SOURCE_REPO} @ {SOURCE_COMMIT[:7]}, {SOURCE_FILE}"

MODELS = ("Opensmile", "VGGish", "AudioMAE", "CLAP", "OPERA-CT", "OPERA-CE", "OPERA-GT")
TASKS = tuple(f"T{k}" for k in range(1, 20))
REGRESSION_TASKS = frozenset(f"T{k}" for k in range(13, 20))

# task -> per-model (mean, std), models in MODELS order, as printed in calculate_rank.py's `data`.
_TABLE: dict[str, tuple[tuple[float, float], ...]] = {
    "T1": ((0.550, 0.015), (0.580, 0.001), (0.549, 0.001), (0.565, 0.001), (0.586, 0.008), (0.551, 0.010),
           (0.605, 0.001)),
    "T2": ((0.649, 0.006), (0.557, 0.005), (0.616, 0.001), (0.648, 0.003), (0.701, 0.002), (0.629, 0.006),
           (0.677, 0.001)),
    "T3": ((0.571, 0.006), (0.571, 0.003), (0.583, 0.003), (0.611, 0.006), (0.603, 0.005), (0.610, 0.004),
           (0.613, 0.002)),
    "T4": ((0.633, 0.012), (0.605, 0.004), (0.659, 0.001), (0.669, 0.002), (0.680, 0.006), (0.665, 0.001),
           (0.673, 0.001)),
    "T5": ((0.537, 0.011), (0.538, 0.028), (0.554, 0.004), (0.599, 0.007), (0.578, 0.001), (0.566, 0.008),
           (0.552, 0.003)),
    "T6": ((0.677, 0.005), (0.600, 0.001), (0.628, 0.001), (0.665, 0.001), (0.795, 0.001), (0.721, 0.001),
           (0.735, 0.000)),
    "T7": ((0.579, 0.043), (0.605, 0.077), (0.886, 0.017), (0.933, 0.005), (0.855, 0.012), (0.872, 0.011),
           (0.741, 0.011)),
    "T8": ((0.534, 0.060), (0.507, 0.027), (0.549, 0.022), (0.680, 0.009), (0.685, 0.012), (0.674, 0.013),
           (0.650, 0.005)),
    "T9": ((0.753, 0.008), (0.606, 0.003), (0.724, 0.001), (0.742, 0.001), (0.874, 0.000), (0.801, 0.002),
           (0.825, 0.001)),
    "T10": ((0.636, 0.082), (0.605, 0.036), (0.616, 0.041), (0.697, 0.004), (0.722, 0.016), (0.741, 0.014),
            (0.703, 0.016)),
    "T11": ((0.494, 0.054), (0.590, 0.034), (0.510, 0.021), (0.635, 0.040), (0.625, 0.038), (0.683, 0.007),
            (0.615, 0.019)),
    "T12": ((0.772, 0.005), (0.657, 0.002), (0.649, 0.001), (0.702, 0.001), (0.781, 0.000), (0.769, 0.000),
            (0.742, 0.001)),
    "T13": ((0.985, 0.743), (0.904, 0.568), (0.900, 0.551), (0.896, 0.542), (0.924, 0.583), (0.848, 0.607),
            (0.892, 0.618)),
    "T14": ((0.756, 0.721), (0.839, 0.563), (0.821, 0.590), (0.840, 0.547), (0.837, 0.563), (0.834, 0.581),
            (0.825, 0.560)),
    "T15": ((0.141, 0.185), (0.131, 0.146), (0.129, 0.146), (0.134, 0.146), (0.128, 0.140), (0.132, 0.141),
            (0.128, 0.141)),
    "T16": ((0.850, 0.592), (0.895, 0.559), (0.833, 0.588), (0.883, 0.560), (0.885, 0.553), (0.761, 0.544),
            (0.878, 0.550)),
    "T17": ((0.730, 0.497), (0.842, 0.559), (0.876, 0.561), (0.859, 0.541), (0.780, 0.542), (0.830, 0.561),
            (0.774, 0.554)),
    "T18": ((0.138, 0.166), (0.130, 0.145), (0.131, 0.141), (0.137, 0.147), (0.132, 0.140), (0.136, 0.150),
            (0.130, 0.138)),
    "T19": ((2.714, 0.902), (2.605, 0.759), (2.641, 0.813), (2.650, 0.947), (2.636, 0.858), (2.525, 0.782),
            (2.416, 0.885)),
}


@dataclass(frozen=True)
class PublishedResult:
    """One published cell: a model's mean ± std on one OPERA task."""

    model: str
    task: str
    metric: str
    mean: float
    std: float


def metric_of(task: str) -> str:
    """'auroc' for T1–T12, 'mae' for T13–T19."""
    if task not in _TABLE:
        raise KeyError(f"OPERA published no result for task {task!r}; it covers {TASKS[0]}–{TASKS[-1]}")
    return "mae" if task in REGRESSION_TASKS else "auroc"


def published(task: str, model: str) -> PublishedResult:
    """The published result of `model` (one of MODELS) on `task` (T1..T19)."""
    mean, std = _TABLE[task][MODELS.index(model)]
    return PublishedResult(model, task, metric_of(task), mean, std)


def covers(task: str) -> bool:
    """True when OPERA published results for this task id."""
    return task in _TABLE
