"""The searchable copy of a collection a process holds: keyword index and vectors, kept current in place.

It is saved next to the store (data_dir/index/<collection>-<id>/) and memory-mapped on start, so a
restart reads neither the chunks nor their vectors again; the changes made since it was saved are then
replayed from the store's change log (`rag.backends.store.log_change`), as are those other processes
make while it runs. A change re-reads just the chunks it names. When the changes add up to
`Settings.compact_fraction` of the index it is rebuilt in one segment and saved again.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from rag.backends.keyword import KeywordIndex
from rag.backends.store import all_chunks, change_log, changes_since
from rag.backends.vectors import RowVectors, VectorIndex
from rag.settings import Settings

# Records are replayed from this long before a saved index was read: replaying one twice is harmless,
# and writers' clocks (two hosts on one Chroma server) may disagree.
REPLAY_SLACK_S = 300.0
FORMAT = 2  # the saved layout; another one is rebuilt


class LiveIndex:
    def __init__(self, collection, settings: Settings, keyword: KeywordIndex, vectors: RowVectors | None):
        self.collection, self.settings = collection, settings
        self.keyword, self._matrix = keyword, vectors
        self.vectors = self._vector_index()
        self.folder = index_folder(collection, settings)
        self.log = change_log(settings)
        self._seen: set[str] = set()
        self._since = 0.0
        self._log_count = -1
        self._checked = 0.0

    def _vector_index(self) -> VectorIndex:
        return VectorIndex(
            self.collection,
            self.keyword.ids,
            self._matrix,
            self.settings.exact_dense_max,
            self.keyword.live_count,
        )

    # -- opening ------------------------------------------------------------------------------
    @classmethod
    def open(cls, collection, settings: Settings) -> LiveIndex:
        """The saved index brought up to date, or one built from the store (and saved) when there is none
        or it disagrees with the store."""
        folder = index_folder(collection, settings)
        live = cls._opened(collection, settings, folder)
        if live is not None:
            return live
        folder.mkdir(parents=True, exist_ok=True)
        with _locked(folder / ".build"):  # processes starting together build it once
            return cls._opened(collection, settings, folder) or cls.build(collection, settings)

    @classmethod
    def _opened(cls, collection, settings: Settings, folder: Path) -> LiveIndex | None:
        found = _load(folder, settings)
        if found is None:
            return None
        keyword, matrix, since = found
        live = cls(collection, settings, keyword, matrix)
        live._replay(since)
        return live if live.keyword.live_count == collection.count() else None

    @classmethod
    def build(cls, collection, settings: Settings) -> LiveIndex:
        started = time.time()
        # A large index in a Chroma server is searched by Chroma: its vectors are not copied to each client.
        vectors = not settings.chroma_url or collection.count() <= settings.exact_dense_max
        ids, texts, metas, matrix = all_chunks(collection, vectors=vectors)
        keyword = KeywordIndex(ids, texts, metas, tuning=settings.tuning)
        live = cls(collection, settings, keyword, RowVectors(matrix) if vectors else None)
        live._save(started - REPLAY_SLACK_S)
        live._replay(started - REPLAY_SLACK_S)
        return live

    # -- keeping current ----------------------------------------------------------------------
    def refresh(self, force: bool = False) -> bool:
        """Apply the changes logged since the last look (at most every `refresh_s`, unless `force`); True
        when the index changed. The look itself is one count of the change log."""
        now = time.monotonic()
        if not force and now - self._checked < self.settings.refresh_s:
            return False
        self._checked = now
        if self.log.count() == self._log_count:
            return False
        return self._replay(self._since)

    def skip_pending(self) -> None:
        """Take the change log as read up to now, without applying it (when the store cannot be read)."""
        self._log_count = self.log.count()
        self._checked = time.monotonic()

    def _replay(self, since: float) -> bool:
        self._since = since
        self._log_count = self.log.count()
        changed = False
        for record_id, _ts, where in changes_since(self.log, since):
            if record_id not in self._seen:
                self._seen.add(record_id)
                changed |= self.apply(where)
        if changed and self.keyword.changed > self.settings.compact_fraction * max(len(self.keyword), 1000):
            self.compact()
        return changed

    def apply(self, where: dict) -> bool:
        """Re-read the chunks `where` names from the store, in place of those held; True if any differed."""
        index = self.keyword
        held = _rows_where(index, where)
        vectors = self._matrix is not None
        ids, texts, metas, matrix = all_chunks(self.collection, where=where, vectors=vectors)
        before = sorted((index.ids[r], index.metas[r].get("content_hash")) for r in held)
        if before == sorted((i, m.get("content_hash")) for i, m in zip(ids, metas)):
            return False
        self.keyword = index.updated(held, ids, texts, metas)
        if vectors and ids:
            self._matrix = self._matrix.appended(matrix)
        self.vectors = self._vector_index()
        return True

    def compact(self) -> None:
        """Rebuild in one segment from the chunks held (not from the store) and save."""
        started = time.time()
        keep = np.flatnonzero(self.keyword.live)
        self.keyword = self.keyword.compacted()
        if self._matrix is not None:
            self._matrix = RowVectors(self._matrix.rows(keep) if keep.size else None)
        self.vectors = self._vector_index()
        self._save(min(self._since, started - REPLAY_SLACK_S))

    # -- on disk ------------------------------------------------------------------------------
    def _save(self, since: float) -> None:
        """Write this (compacted) index as the folder's current version; records from `since` on are
        replayed on load."""
        if not len(self.keyword):
            return  # nothing to save; an empty store is quick to read
        folder = self.folder
        folder.mkdir(parents=True, exist_ok=True)
        with _locked(folder / ".lock"):
            tmp = Path(tempfile.mkdtemp(prefix="v.", suffix=".tmp", dir=folder))
            self.keyword.save(tmp)
            self.vectors.save(tmp)
            (tmp / "snapshot.json").write_text(json.dumps({"format": FORMAT, "since": since}))
            name = f"v{time.time_ns()}"
            os.replace(tmp, folder / name)
            (folder / "CURRENT.tmp").write_text(name)
            os.replace(folder / "CURRENT.tmp", folder / "CURRENT")
            for old in folder.iterdir():  # open memory maps of an old version stay valid after removal
                if old.is_dir() and old.name != name:
                    shutil.rmtree(old, ignore_errors=True)


def index_folder(collection, settings: Settings) -> Path:
    """Where the index of `collection` is saved: its name and id, and for a Chroma server its URL."""
    tag = f"{collection.name}-{collection.id}"
    if settings.chroma_url:
        tag += "-" + hashlib.sha256(settings.chroma_url.encode()).hexdigest()[:8]
    return Path(settings.data_dir) / "index" / tag


def _load(folder: Path, settings: Settings) -> tuple[KeywordIndex, RowVectors | None, float] | None:
    try:
        version = folder / (folder / "CURRENT").read_text().strip()
        head = json.loads((version / "snapshot.json").read_text())
        if head.get("format") != FORMAT:
            return None
        keyword = KeywordIndex.load(version, settings.tuning)
        return keyword, VectorIndex.load_matrix(version), float(head["since"])
    except (OSError, ValueError, KeyError):  # none yet, or removed by a newer version's writer while read
        return None


def _rows_where(index: KeywordIndex, where: dict) -> list[int]:
    """The live rows a change log `where` names (the forms `Assistant` writes)."""
    if "doc_id" in where:
        value = where["doc_id"]
        docs = value["$in"] if isinstance(value, dict) else [value]
        return [r for d in docs for r in index.rows_of(d)]
    if "source" in where:
        return np.flatnonzero((index.sources == where["source"]) & index.live).tolist()
    raise ValueError(f"cannot apply the change {where!r}")


@contextmanager
def _locked(path: Path):
    """An exclusive lock on `path` across processes (flock; released when the file closes, even on a crash)."""
    with open(path, "a") as handle:
        try:
            import fcntl
        except ImportError:  # not POSIX: no cross-process lock
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
