"""BM25 over the stored chunks (bm25s, English stop words, Snowball stemming), cached on disk."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np


def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def tokenize(texts: list[str]) -> list[list[str]]:
    import bm25s

    return bm25s.tokenize(texts, stopwords="en", stemmer=_stemmer(), return_ids=False, show_progress=False)


class KeywordIndex:
    """All chunks of a collection: BM25 plus the metadata arrays that filters need."""

    def __init__(self, ids: list[str], texts: list[str], metas: list[dict], bm25=None):
        import bm25s

        self.ids = ids
        self.texts = texts
        self.metas = metas
        self.sources = np.array([m.get("source") or "" for m in metas], dtype=object)
        self.ts = np.array([m.get("published_ts", -1) for m in metas], dtype=np.int64)
        self.doc_ids = np.array([m.get("doc_id") or "" for m in metas], dtype=object)
        self.position = {cid: i for i, cid in enumerate(ids)}
        if bm25 is None:
            import bm25s.tokenization

            bm25 = bm25s.BM25()
            if texts:
                bm25.index(bm25s.tokenize(texts, stopwords="en", stemmer=_stemmer(), show_progress=False),
                           show_progress=False)
        self.bm25 = bm25

    def __len__(self) -> int:
        return len(self.ids)

    def scores(self, query: str) -> np.ndarray:
        if not self.ids:
            return np.zeros(0, dtype=np.float32)
        tokens = tokenize([query])[0]
        if not tokens:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self.bm25.get_scores(tokens), dtype=np.float32)

    @staticmethod
    def fingerprint(ids: list[str], metas: list[dict]) -> str:
        digest = hashlib.sha256()
        for cid, meta in sorted(zip(ids, (m.get("content_hash", "") for m in metas))):
            digest.update(f"{cid}\x1f{meta}\n".encode())
        return digest.hexdigest()[:24]

    @classmethod
    def load_or_build(cls, cache_dir: Path, ids: list[str], texts: list[str], metas: list[dict]) -> KeywordIndex:
        """Reuse the on-disk index when the chunk set is unchanged; otherwise rebuild and save it."""
        import bm25s

        key = cls.fingerprint(ids, metas)
        path = cache_dir / key
        if (path / "ids.json").exists():
            try:
                if json.loads((path / "ids.json").read_text()) == ids:
                    return cls(ids, texts, metas, bm25=bm25s.BM25.load(str(path)))
            except (OSError, ValueError):
                pass
        index = cls(ids, texts, metas)
        if ids:
            shutil.rmtree(cache_dir, ignore_errors=True)  # keep one version only
            tmp = cache_dir / f"{key}.tmp"
            index.bm25.save(str(tmp))
            (tmp / "ids.json").write_text(json.dumps(ids))
            tmp.rename(path)
        return index
