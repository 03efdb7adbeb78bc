"""Uploaded files are copied into a private temp dir under sanitised names before they are ingested."""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from ingest.loaders import LOADERS

MAX_NAME = 100
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_name(name: str) -> str:
    """A file name with no directory, no leading dots and only [A-Za-z0-9._-]; the suffix is kept."""
    base = re.split(r"[\\/]", name or "")[-1]
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = _UNSAFE.sub("_", stem).strip("._-")[:MAX_NAME] or "upload"
    suffix = _UNSAFE.sub("", suffix)[:10].lower()
    return f"{stem}.{suffix}" if suffix else stem


@dataclass
class Staged:
    """Copies ready to ingest (copy -> the name shown to the user) and the uploads refused up front."""

    files: dict[Path, str] = field(default_factory=dict)
    refused: list[tuple[str, str]] = field(default_factory=list)


def stage(uploads: list[str | Path], dest: Path, max_bytes: int) -> Staged:
    """Copy each upload into `dest` under a sanitised, unique name; refuse unknown types and large files."""
    staged = Staged()
    for upload in uploads:
        path = Path(upload)
        name = safe_name(path.name)
        suffix = Path(name).suffix.lower()
        if suffix not in LOADERS:
            staged.refused.append(
                (
                    name,
                    f"unsupported file type {suffix or '(none)'!r} (supported: {', '.join(sorted(LOADERS))})",
                )
            )
            continue
        size = path.stat().st_size
        if size > max_bytes:
            staged.refused.append(
                (
                    name,
                    f"file is too large ({size / 1e6:.1f} MB > {max_bytes / 1e6:g} MB limit; "
                    "raise NEWSRAG_MAX_FILE_MB to allow it)",
                )
            )
            continue
        target = dest / name
        n = 1
        while target.exists():
            n += 1
            target = dest / f"{Path(name).stem}-{n}{suffix}"
        shutil.copyfile(path, target)
        staged.files[target] = target.name
    return staged
