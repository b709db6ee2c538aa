"""What a csv manifest must not do: leak test items into training, label one file twice, reach outside its folder.

Each check raises ManifestError naming the manifest, the lines (1-based, the header is line 1) and the fix, unless
the user allowed it (`--allow-manifest-overlap`, `--allow-outside-root`), in which case the run says what it let
through and the records carry the flag (the leaderboard marks them).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from adapters._errors import UserError


class ManifestError(UserError, ValueError):
    """The manifest CSV is malformed or leaks; the message names the file, the rows and the fix."""


@dataclass(frozen=True)
class ManifestPolicy:
    """What a manifest may do that is refused by default.

    allow_overlap: duplicate rows, one file under two labels, and the same file, audio content or group in the
        training (train/val) and test splits are used as given (recorded, flagged on the leaderboard).
    allow_outside_root: audio paths may resolve outside the manifest's folder.
    """

    allow_overlap: bool = False
    allow_outside_root: bool = False


def _lines(rows: list[int]) -> str:
    shown = ", ".join(str(i + 2) for i in rows[:6])
    return f"lines {shown}{' ...' if len(rows) > 6 else ''}"


def resolve_audio(manifest: Path, raw_paths: list[str], policy: ManifestPolicy) -> list[Path]:
    """Audio paths of the rows (relative ones against the manifest's folder); refuses any outside that folder."""
    root = manifest.parent.resolve()
    out = []
    outside = []
    for i, raw in enumerate(raw_paths):
        audio = Path(raw).expanduser()
        audio = (audio if audio.is_absolute() else root / audio).resolve()
        if not audio.is_relative_to(root):
            outside.append(i)
        out.append(audio)
    if outside and not policy.allow_outside_root:
        i = outside[0]
        raise ManifestError(f"{manifest}: {len(outside)} path(s) lead outside the manifest's folder {root} "
                            f"({_lines(outside)}: {raw_paths[i]!r}); move the audio under that folder, or pass "
                            f"--allow-outside-root if that is intended")
    return out


def find_overlaps(manifest: Path, audio: list[Path], labels: list[str], splits: list[str],
                  groups: list[str], explicit_groups: bool) -> list[str]:
    """One sentence per problem: duplicate rows, a file with two labels, the same file / audio content / group in
    training (train or val) and test. Group overlap is checked only for groups the manifest names."""
    from benchmark_tasks.embeddings import sha256_or_none  # the embedding cache's key: contents compared as cached
    problems = []
    by_path: dict[Path, list[int]] = defaultdict(list)
    for i, p in enumerate(audio):
        by_path[p].append(i)
    for p, rows in by_path.items():
        if len(rows) < 2:
            continue
        if len({labels[i] for i in rows}) > 1:
            problems.append(f"{p.name} has two labels ({_lines(rows)}: "
                            f"{', '.join(sorted({labels[i] for i in rows}))})")
        elif len({splits[i] for i in rows}) > 1:
            problems.append(f"{p.name} is in {' and '.join(sorted({splits[i] for i in rows}))} ({_lines(rows)})")
        else:
            problems.append(f"{p.name} is listed {len(rows)} times ({_lines(rows)})")
    by_sha: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(audio):
        if len(by_path[p]) == 1 and (sha := sha256_or_none(p)) is not None:
            by_sha[sha].append(i)
    for rows in by_sha.values():
        sides = {"test" if splits[i] == "test" else "training" for i in rows}
        if len(rows) > 1 and len(sides) > 1:
            problems.append(f"the same audio is in training and test under different names "
                            f"({', '.join(audio[i].name for i in rows)}; {_lines(rows)})")
    if explicit_groups:
        side: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        for i, (g, s) in enumerate(zip(groups, splits)):
            side[g]["test" if s == "test" else "training"].append(i)
        for g, where in side.items():
            if len(where) > 1:
                problems.append(f"group {g!r} is in training ({_lines(where['training'])}) and test "
                                f"({_lines(where['test'])})")
    return problems


def check_overlaps(manifest: Path, problems: list[str], policy: ManifestPolicy) -> None:
    """Raise on overlap problems unless allowed (then print what is let through)."""
    if not problems:
        return
    if policy.allow_overlap:
        print(f"{manifest}: --allow-manifest-overlap: using {len(problems)} overlap(s) as given "
              f"(first: {problems[0]})", flush=True)
        return
    more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
    raise ManifestError(f"{manifest}: {len(problems)} row problem(s) that leak or contradict labels: "
                        f"{'; '.join(problems[:3])}{more}; fix the manifest, or pass --allow-manifest-overlap "
                        f"to use it as given (flagged on the leaderboard)")


def check_label_coverage(manifest: Path, labels: list[str], splits: list[str]) -> None:
    """Every class must be in train: a class seen only in val/test cannot be learnt or scored fairly."""
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for label, split in zip(labels, splits):
        counts[label][split] += 1
    for label, by_split in counts.items():
        if not by_split.get("train"):
            shown = ", ".join(f"{s} {by_split.get(s, 0)}" for s in ("train", "val", "test"))
            raise ManifestError(f"{manifest}: label {label!r} has no training rows ({shown}); add training "
                                f"recordings of it, or drop its rows")
