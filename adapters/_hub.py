"""Weights and adapters named by a Hugging Face Hub id (`ORG/NAME` or `ORG/NAME:FILE`), found OFFLINE in the local
Hugging Face cache. Nothing here touches the network: a repository that is not cached is an error that prints the
`hf download` command to run once.

Upstream facts used (huggingface_hub v2.4.0):
- repo id grammar, src/huggingface_hub/utils/_validators.py (`validate_repo_id`): "namespace/name", each part 1-96
  characters of [A-Za-z0-9._-], not starting or ending with "-" or ".", no "--" or "..", not ending in ".git";
- cache folder, src/huggingface_hub/constants.py: $HF_HUB_CACHE, else $HUGGINGFACE_HUB_CACHE, else
  $HF_HOME/hub, where HF_HOME defaults to $XDG_CACHE_HOME/huggingface, else ~/.cache/huggingface (each expanded);
- cache layout, src/huggingface_hub/file_download.py (`repo_folder_name`, `_cache_commit_hash_for_specific_revision`):
  <cache>/models--ORG--NAME/refs/main holds the commit hash of the cached main revision, and
  <cache>/models--ORG--NAME/snapshots/<commit>/<file> the files of that revision (links into blobs/).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from adapters._errors import UserError

_PART = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?"
_HUB_ID = re.compile(rf"(?P<repo>{_PART}/{_PART})(?::(?P<file>[^:]+))?")
_PUBLISHED = re.compile(rf"HF\s+(?P<repo>{_PART}/{_PART})(?:\s+(?P<file>\S+\.(?:ckpt|pt|pth|bin|safetensors)))?\b")
_COMMIT = re.compile(r"[0-9a-f]{40}")


class HubError(UserError):
    """A Hub id that cannot be resolved to local weights (base of the two errors below)."""


class HubNotCachedError(HubError, FileNotFoundError):
    """A Hub id that is neither a local path nor (completely) in the local Hugging Face cache."""


class HubAmbiguousError(HubError, ValueError):
    """A cached repository without one obvious weight file: `ORG/NAME:FILE` must name it."""


@dataclass(frozen=True)
class HubRef:
    """A parsed `ORG/NAME[:FILE]`: repo "ORG/NAME", file a path inside the repository or None."""

    repo: str
    file: str | None = None

    def __str__(self) -> str:
        return self.repo + (f":{self.file}" if self.file else "")


@dataclass(frozen=True)
class HubSnapshot:
    """The cached main revision of a repository: commit hash and its snapshot folder."""

    repo: str
    commit: str
    folder: Path


@dataclass(frozen=True)
class ResolvedWeights:
    """A Hub id resolved to a local file or folder; source = "hub:ORG/NAME@<commit>[:FILE]" (what was used)."""

    path: Path
    source: str


def parse_hub_id(value) -> HubRef | None:
    """HubRef when `value` is a string `ORG/NAME` or `ORG/NAME:FILE` in the Hub's grammar and no local file or folder
    of that name exists (a local path always wins); None otherwise (Path objects are always local paths)."""
    if not isinstance(value, str) or Path(value).exists():
        return None
    m = _HUB_ID.fullmatch(value)
    if m is None or ".." in m["repo"] or "--" in m["repo"] or m["repo"].endswith(".git"):
        return None
    file = m["file"]
    if file is not None:
        parts = PurePosixPath(file).parts
        if file.startswith("/") or "\\" in file or any(p in ("..", ".") for p in parts):
            return None
    return HubRef(m["repo"], file)


def hub_cache_dir() -> Path:
    """The Hugging Face hub cache folder, from the environment at call time (same precedence as huggingface_hub)."""
    def expand(p: str) -> Path:
        return Path(os.path.expanduser(os.path.expandvars(p)))

    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            return expand(os.environ[var])
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "huggingface")
    return expand(home) / "hub"


def download_command(repo: str, file: str | None = None) -> str:
    """The one command that puts `repo` (or one file of it) into the cache."""
    return f"hf download {repo}" + (f" {file}" if file else "")


def _not_cached(ref: HubRef, why: str, file: str | None) -> HubNotCachedError:
    return HubNotCachedError(
        f"{ref}: not a local path, and {why} in the Hugging Face cache {hub_cache_dir()} ($HF_HUB_CACHE or "
        f"$HF_HOME/hub); nothing is downloaded here: run `{download_command(ref.repo, file)}` once, or fix the path")


def cached_snapshot(ref: HubRef, file_hint: str | None = None) -> HubSnapshot:
    """The snapshot of the cached main revision of `ref.repo` (refs/main -> snapshots/<commit>/).

    Raises:
        HubNotCachedError: repository, refs/main or its snapshot missing; the message holds the download command
            (with `file_hint` when one file is what is wanted).
    """
    repo_dir = hub_cache_dir() / ("models--" + ref.repo.replace("/", "--"))
    ref_file = repo_dir / "refs" / "main"
    if not ref_file.is_file():
        raise _not_cached(ref, "the repository is not", file_hint)
    commit = ref_file.read_text().strip()
    folder = repo_dir / "snapshots" / commit
    if not _COMMIT.fullmatch(commit) or not folder.is_dir():
        raise _not_cached(ref, f"the snapshot of refs/main ({commit[:40]!r}) is not", file_hint)
    return HubSnapshot(ref.repo, commit, folder)


def snapshot_file(ref: HubRef, file: str) -> ResolvedWeights:
    """One file of the cached main revision; HubNotCachedError naming `hf download ORG/NAME FILE` if absent."""
    snap = cached_snapshot(ref, file)
    path = snap.folder / file
    if not path.is_file():
        raise _not_cached(ref, f"{file} of revision {snap.commit[:12]} is not", file)
    return ResolvedWeights(path, f"hub:{ref.repo}@{snap.commit}:{file}")


def snapshot_folder(ref: HubRef) -> ResolvedWeights:
    """The snapshot folder of the cached main revision (for repositories read as a whole)."""
    snap = cached_snapshot(ref)
    return ResolvedWeights(snap.folder, f"hub:{ref.repo}@{snap.commit}")


def published_hub_weights(spec_weights: str) -> tuple[str | None, str | None]:
    """(repo, file) of an EncoderSpec.weights text that names a Hub repository ("HF ORG/NAME [FILE] ..."), else
    (None, None); file is None when the family reads the whole repository (a transformers directory)."""
    m = _PUBLISHED.match(spec_weights.strip())
    return (m["repo"], m["file"]) if m else (None, None)


def resolve_weights(ref: HubRef, spec_weights: str = "") -> ResolvedWeights:
    """The local file or folder a Hub id stands for, for an encoder family whose spec.weights is `spec_weights`.

    - `ORG/NAME:FILE`: that file of the snapshot.
    - `ORG/NAME` that is the family's published repository and names a file (OPERA's `evelyn0414/OPERA` holds one
      checkpoint per family): that file.
    - another `ORG/NAME` holding config.json: the snapshot folder (a transformers directory: HeAR, CLAP).
    - otherwise the one weight file of the snapshot; several -> error asking for `ORG/NAME:FILE`.
    """
    from adapters._checkpoint import WEIGHT_SUFFIXES

    if ref.file:
        return snapshot_file(ref, ref.file)
    repo, file = published_hub_weights(spec_weights)
    if file and repo and repo.lower() == ref.repo.lower():
        return snapshot_file(ref, file)
    found = snapshot_folder(ref)
    if (found.path / "config.json").is_file():
        return found
    files = sorted(str(p.relative_to(found.path)) for p in found.path.rglob("*")
                   if p.is_file() and p.suffix in WEIGHT_SUFFIXES)
    if len(files) == 1:
        return ResolvedWeights(found.path / files[0], f"{found.source}:{files[0]}")
    listed = ", ".join(files[:8]) + (f", ... ({len(files)} in all)" if len(files) > 8 else "") if files else "none"
    raise HubAmbiguousError(f"{ref}: the cached revision {found.source.rsplit('@', 1)[1][:12]} ({found.path}) holds "
                            f"{'several weight files' if files else 'no weight file'} ({listed}); name one with "
                            f"--weights {ref.repo}:FILE")
