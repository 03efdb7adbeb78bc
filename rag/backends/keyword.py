"""BM25 over the stored chunks (bm25s, English stop words, Snowball stemming), cached on disk.

A second BM25 index over the chunks' single sentences lets a chunk holding one sentence that
matches the question closely (a quoted fact) rank above a chunk that merely shares its words.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from rag.text import bm25_corpus, bm25_tokens, chunk_body, split_sentences
from rag.tuning import DEFAULT, Tuning


def _params(tuning: Tuning) -> tuple[dict, dict]:
    """BM25 parameters of the chunk index and the sentence index (k1: term-frequency saturation, b: length
    normalisation). A question names many things once: a low k1 ranks the chunk that holds more of them
    above one that repeats a few."""
    return ({"k1": tuning.chunk_k1, "b": tuning.chunk_b}, {"k1": tuning.sentence_k1, "b": tuning.sentence_b})


def _bm25(texts: list[str], params: dict):
    import bm25s

    index = bm25s.BM25(**params)
    if texts:
        index.index(bm25_corpus(texts), show_progress=False)
    return index


def _sentences(texts: list[str]) -> tuple[list[str], np.ndarray]:
    sentences, owner = [], []
    for i, text in enumerate(texts):
        for sentence in split_sentences(chunk_body(text)):
            sentences.append(sentence)
            owner.append(i)
    return sentences, np.asarray(owner, dtype=np.int64)


class KeywordIndex:
    """All chunks of a collection: BM25 plus the metadata arrays that filters need."""

    def __init__(
        self,
        ids: list[str],
        texts: list[str],
        metas: list[dict],
        bm25=None,
        sentence_bm25=None,
        sentence_owner: np.ndarray | None = None,
        tuning: Tuning = DEFAULT,
    ):
        self.tuning = tuning
        chunk_params, sentence_params = _params(tuning)
        self.ids = ids
        self.texts = texts
        self.metas = metas
        self.sources = np.array([m.get("source") or "" for m in metas], dtype=object)
        self.ts = np.array([m.get("published_ts", -1) for m in metas], dtype=np.int64)
        self.doc_ids = np.array([m.get("doc_id") or "" for m in metas], dtype=object)
        self.outlets = sorted({s for s in self.sources if s})
        known = self.ts[self.ts >= 0]
        self.latest_year = (
            datetime.fromtimestamp(int(known.max()), tz=timezone.utc).year if known.size else None
        )
        self.bm25 = bm25 if bm25 is not None else _bm25(texts, chunk_params)
        if sentence_bm25 is None:
            sentences, sentence_owner = _sentences(texts)
            sentence_bm25 = _bm25(sentences, sentence_params)
        self.sentence_bm25 = sentence_bm25
        self.sentence_owner = sentence_owner

    def __len__(self) -> int:
        return len(self.ids)

    def scores(self, query: str, sentence_weight: float | None = None) -> np.ndarray:
        """BM25 of every chunk, plus a share for its best-matching sentence."""
        if not self.ids:
            return np.zeros(0, dtype=np.float32)
        tokens = bm25_tokens([query])[0]
        if not tokens:
            return np.zeros(len(self.ids), dtype=np.float32)
        chunk = np.asarray(self.bm25.get_scores(tokens), dtype=np.float32)
        if self.sentence_owner is None or not self.sentence_owner.size or chunk.max() <= 0:
            return chunk
        best = np.zeros(len(self.ids), dtype=np.float32)
        np.maximum.at(
            best, self.sentence_owner, np.asarray(self.sentence_bm25.get_scores(tokens), dtype=np.float32)
        )
        if best.max() > 0:
            weight = self.tuning.sentence_weight if sentence_weight is None else sentence_weight
            chunk = chunk + weight * float(chunk.max()) * best / float(best.max())
        return chunk

    def sentence_terms(self, terms: list[str], chunks: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """For the sentences of `chunks`: the chunk each belongs to, and each term's BM25 score in each
        (rows: sentences, columns: `terms`, already tokenised by `bm25_tokens`)."""
        if self.sentence_owner is None or not terms or not chunks:
            return np.zeros(0, dtype=np.int64), np.zeros((0, len(terms)), dtype=np.float32)
        owner = self.sentence_owner
        rows = np.concatenate(
            [np.arange(np.searchsorted(owner, c), np.searchsorted(owner, c, side="right")) for c in chunks]
        )
        scores = [np.asarray(self.sentence_bm25.get_scores([t]), dtype=np.float32)[rows] for t in terms]
        return owner[rows], np.stack(scores, axis=1)

    @staticmethod
    def fingerprint(ids: list[str], metas: list[dict], tuning: Tuning = DEFAULT) -> str:
        digest = hashlib.sha256(json.dumps(_params(tuning), sort_keys=True).encode())  # saved with them
        for cid, meta in sorted(zip(ids, (m.get("content_hash", "") for m in metas))):
            digest.update(f"{cid}\x1f{meta}\n".encode())
        return digest.hexdigest()[:24]

    @classmethod
    def load_or_build(
        cls, cache_dir: Path, ids: list[str], texts: list[str], metas: list[dict], tuning: Tuning = DEFAULT
    ) -> KeywordIndex:
        """Reuse the on-disk index when the chunk set is unchanged; otherwise rebuild and save it.

        Several processes may open one data dir at once (two `serve` workers, `ingest` beside `serve`): the
        build and the swap happen under a file lock, each writer in its own temporary folder, and a reader
        that finds a version half-removed builds its own."""
        key = cls.fingerprint(ids, metas, tuning)
        path = cache_dir / key
        found = cls._load(path, ids, texts, metas, tuning)
        if found is not None or not ids:
            return found or cls(ids, texts, metas, tuning=tuning)
        cache_dir.mkdir(parents=True, exist_ok=True)
        with _locked(cache_dir / ".lock"):
            found = cls._load(path, ids, texts, metas, tuning)  # another process may have built it meanwhile
            if found is not None:
                return found
            index = cls(ids, texts, metas, tuning=tuning)
            tmp = Path(tempfile.mkdtemp(prefix=f"{key}.", suffix=".tmp", dir=cache_dir))
            index.bm25.save(str(tmp / "chunks"))
            index.sentence_bm25.save(str(tmp / "sentences"))
            np.save(tmp / "sentence_owner.npy", index.sentence_owner)
            (tmp / "ids.json").write_text(json.dumps(ids))
            if path.exists():
                shutil.rmtree(tmp, ignore_errors=True)
            else:
                os.replace(tmp, path)
            for old in cache_dir.iterdir():  # keep one version only
                if old.is_dir() and old.name != key:
                    shutil.rmtree(old, ignore_errors=True)
        return index

    @classmethod
    def _load(
        cls, path: Path, ids: list[str], texts: list[str], metas: list[dict], tuning: Tuning
    ) -> KeywordIndex | None:
        import bm25s

        try:
            if json.loads((path / "ids.json").read_text()) != ids:
                return None
            return cls(
                ids,
                texts,
                metas,
                bm25=bm25s.BM25.load(str(path / "chunks")),
                sentence_bm25=bm25s.BM25.load(str(path / "sentences")),
                sentence_owner=np.load(path / "sentence_owner.npy"),
                tuning=tuning,
            )
        except (OSError, ValueError):  # absent, or removed by a newer version's writer while being read
            return None


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
