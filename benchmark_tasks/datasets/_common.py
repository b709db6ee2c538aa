"""Helpers every dataset reader shares: where a dataset lives, required files, clear errors."""

from __future__ import annotations

from pathlib import Path

from adapters._errors import UserError
from benchmark_tasks._registry import DataContext


class DatasetError(UserError, FileNotFoundError):
    """A dataset file or folder is missing or malformed; the message names it and says how to fix it."""


def dataset_dir(ctx: DataContext, folder: str, source: str) -> Path:
    """ctx.data_root / folder, or a DatasetError saying where the dataset is published.

    Args:
        folder: the sub-folder name this reader expects under --data-root (documented in the module).
        source: where to download the dataset (shown in the error).
    """
    if ctx.data_root is None:
        raise DatasetError(f"no --data-root given; put the dataset in DATA_ROOT/{folder} (download: {source})")
    path = Path(ctx.data_root) / folder
    if not path.is_dir():
        raise DatasetError(f"{path}: dataset folder not found. Download it from {source} and unpack it there "
                           f"(or pass the right --data-root)")
    return path


def require_file(path: Path, what: str, fix: str) -> Path:
    """`path` if it exists, else a DatasetError naming the file, what it is, and the fix."""
    if not path.exists():
        raise DatasetError(f"{path}: {what} not found; {fix}")
    return path


def opera_file(ctx: DataContext, relpath: str) -> Path:
    """A split/label file that OPERA publishes in its repository (checkout given by --opera-root / OPERA_ROOT)."""
    if ctx.opera_root is None:
        raise DatasetError(f"this task uses OPERA's published split file {relpath}; pass --opera-root (or set "
                           f"OPERA_ROOT) to a checkout of github.com/evelyn0414/OPERA")
    return require_file(Path(ctx.opera_root) / relpath, "OPERA split file",
                        "check that --opera-root points at an OPERA checkout (commit 3622310 or later)")


def opera_names_and_splits(ctx: DataContext, list_file: str, split_file: str) -> tuple[list[str], list[str]]:
    """File names (basename) of an OPERA `sound_dir_loc*.npy` and the matching split array, checked to align."""
    import numpy as np

    names = [Path(str(p)).name for p in np.load(opera_file(ctx, list_file), allow_pickle=False).ravel()]
    splits = [str(s) for s in np.load(opera_file(ctx, split_file), allow_pickle=False).ravel()]
    if len(splits) != len(names):
        raise DatasetError(f"{split_file} has {len(splits)} entries but {list_file} has {len(names)}; use both "
                           f"files from one OPERA checkout")
    return names, splits


def require_listed_audio(folder: Path, names: list[str], fix: str) -> None:
    """DatasetError naming the first recordings of OPERA's list that are not files in `folder`."""
    absent = [n for n in names if not (folder / n).is_file()]
    if absent:
        raise DatasetError(f"{len(absent)} recordings of OPERA's list are missing from {folder}: "
                           f"{', '.join(absent[:5])}; {fix}")
