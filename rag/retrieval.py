"""Hybrid retrieval: BM25 and dense scores over the same chunks, normalised and fused with weights.

Plain reciprocal-rank fusion loses to BM25 alone on news (names and numbers matter), so scores are
min-max normalised over the candidate pool and mixed with `bm25_weight`. Outlets named in the
question (matched against the corpus's own outlet list) boost their chunks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from llama_index.core.schema import NodeWithScore, TextNode

from ingest.dates import parse_date
from rag.errors import ConfigError
from rag.keyword import KeywordIndex

POOL = 60  # candidates taken from each retriever before fusion
OUTLET_BOOST = 0.35


@dataclass
class Filters:
    sources: list[str] = field(default_factory=list)
    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def coerce(cls, value: Filters | dict | None) -> Filters:
        if value is None:
            return cls()
        if isinstance(value, Filters):
            return value
        unknown = set(value) - {"sources", "source", "since", "until"}
        if unknown:
            raise ConfigError(f"unknown filter field(s) {sorted(unknown)}; valid: sources, since, until")
        sources = value.get("sources") or value.get("source") or []
        if isinstance(sources, str):
            sources = [sources]
        out = cls(sources=list(sources))
        for key in ("since", "until"):
            raw = value.get(key)
            if raw not in (None, ""):
                parsed = parse_date(raw)
                if parsed is None:
                    raise ConfigError(f"filter {key}: cannot read the date {raw!r} (use YYYY-MM-DD)")
                setattr(out, key, parsed)
        return out

    def describe(self) -> str:
        parts = []
        if self.sources:
            parts.append("outlets: " + ", ".join(self.sources))
        if self.since:
            parts.append("since " + self.since.date().isoformat())
        if self.until:
            parts.append("until " + self.until.date().isoformat())
        return "; ".join(parts) or "none"

    def mask(self, index: KeywordIndex) -> np.ndarray:
        keep = np.ones(len(index), dtype=bool)
        if self.sources:
            wanted = {s.lower() for s in self.sources}
            keep &= np.array([s.lower() in wanted for s in index.sources], dtype=bool)
        if self.since:
            keep &= index.ts >= int(self.since.timestamp())
        if self.until:
            keep &= (index.ts <= self.until_ts()) & (index.ts >= 0)
        return keep

    def until_ts(self) -> int:
        """`until` as epoch seconds; a bare date means the end of that day."""
        until = self.until
        if until.hour == until.minute == until.second == 0:
            until = until.replace(hour=23, minute=59, second=59)
        return int(until.timestamp())

    def chroma_where(self, index: KeywordIndex) -> dict | None:
        clauses: list[dict] = []
        if self.sources:
            # Match the stored spelling of each outlet, case-insensitively.
            wanted = {s.lower() for s in self.sources}
            stored = sorted({s for s in index.sources if s.lower() in wanted}) or list(self.sources)
            clauses.append({"source": {"$in": stored}})
        if self.since:
            clauses.append({"published_ts": {"$gte": int(self.since.timestamp())}})
        if self.until:
            clauses.append({"published_ts": {"$lte": self.until_ts()}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def outlets_named(question: str, outlets: list[str]) -> list[str]:
    """Outlets of the corpus that the question names ("The Verge", "according to TechCrunch")."""
    text = question.lower()
    found = []
    for outlet in outlets:
        name = outlet.lower().strip()
        if len(name) < 3:
            continue
        variants = {name, name.removeprefix("the ").strip()}
        if any(re.search(r"(?<![\w])" + re.escape(v) + r"(?![\w])", text) for v in variants if len(v) >= 3):
            found.append(outlet)
    return found


def _minmax(values: np.ndarray) -> np.ndarray:
    if values.size == 0:
        return values
    lo, hi = float(values.min()), float(values.max())
    return (values - lo) / (hi - lo) if hi > lo else np.ones_like(values) * (1.0 if hi > 0 else 0.0)


def hybrid_search(query: str, index: KeywordIndex, collection, embedder, k: int, filters: Filters,
                  bm25_weight: float, question: str | None = None) -> list[NodeWithScore]:
    if len(index) == 0:
        return []
    mask = filters.mask(index)
    if not mask.any():
        return []
    bm25 = index.scores(query)
    bm25 = np.where(mask, bm25, -1.0)
    pool = [int(i) for i in np.argsort(-bm25)[:POOL] if bm25[i] > 0]

    qvec = embedder.embed([query])[0]
    dense_hits = collection.query(query_embeddings=[qvec.tolist()], n_results=min(POOL, int(mask.sum())),
                                  where=filters.chroma_where(index), include=["distances"])
    dense_sim: dict[int, float] = {}
    for cid, dist in zip(dense_hits["ids"][0], dense_hits["distances"][0]):
        pos = index.position.get(cid)
        if pos is not None:
            dense_sim[pos] = 1.0 - float(dist)
    missing = [i for i in pool if i not in dense_sim]
    if missing:
        got = collection.get(ids=[index.ids[i] for i in missing], include=["embeddings"])
        for cid, emb in zip(got["ids"], got["embeddings"]):
            dense_sim[index.position[cid]] = float(np.dot(qvec, np.asarray(emb, dtype=np.float32)))
    candidates = sorted(set(pool) | set(dense_sim))
    if not candidates:
        return []
    cand = np.array(candidates)
    b = _minmax(np.maximum(bm25[cand], 0.0))
    d = _minmax(np.array([dense_sim.get(i, 0.0) for i in candidates], dtype=np.float32))
    fused = bm25_weight * b + (1.0 - bm25_weight) * d
    named = {o.lower() for o in outlets_named(question or query, sorted(set(index.sources)))}
    if named:
        fused = fused + OUTLET_BOOST * np.array([index.sources[i].lower() in named for i in cand], dtype=np.float32)
    order = np.argsort(-fused, kind="stable")[:k]
    results = []
    for j in order:
        i = int(cand[j])
        node = TextNode(id_=index.ids[i], text=index.texts[i], metadata=dict(index.metas[i]))
        results.append(NodeWithScore(node=node, score=float(fused[j])))
    return results
