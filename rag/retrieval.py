"""Hybrid retrieval: BM25 and dense scores over the same chunks, normalised and fused with weights.

On news, plain reciprocal-rank fusion loses to BM25 alone (names and numbers matter), so scores are
normalised over the candidate pool and mixed with `bm25_weight`. Outlets and dates the question names
boost their chunks, and each claim it is made of is ranked on its own, so a multi-part question gets
evidence for each part. The first chunks are then reordered for term coverage, and a who/which question
is searched again with the name its first results lead with. Dense search is exact over
the chunk vectors up to a size, then Chroma's HNSW index (`rag.backends.vectors`). The weights are `rag.tuning.Tuning`'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import numpy as np
from llama_index.core.schema import NodeWithScore, TextNode

from ingest.dates import parse_date
from rag.answer.names import leading_name
from rag.backends.keyword import KeywordIndex
from rag.backends.vectors import MatrixDense, VectorIndex, top_positions
from rag.errors import ConfigError
from rag.query.question import QueryPlan, expects_name, plan
from rag.text import bm25_tokens, of_outlet
from rag.tuning import DEFAULT, Tuning


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

    def until_ts(self) -> int:
        """`until` as epoch seconds; a bare date means the end of that day."""
        until = self.until
        if until.hour == until.minute == until.second == 0:
            until = until.replace(hour=23, minute=59, second=59)
        return int(until.timestamp())

    def mask(self, index: KeywordIndex) -> np.ndarray:
        keep = np.ones(len(index), dtype=bool)
        if self.sources:
            keep &= index.outlet_mask(self.sources, ignore_case=True)
        if self.since:
            keep &= index.ts >= int(self.since.timestamp())
        if self.until:
            keep &= (index.ts <= self.until_ts()) & (index.ts >= 0)
        return keep


class Dense(Protocol):
    """The dense side: query embeddings, the chunks nearest to one within a mask, and the cosine
    similarity of given chunks (rows of a KeywordIndex). `rag.backends.vectors` has the exact one
    (`MatrixDense`) and one that asks Chroma's HNSW index."""

    def embed(self, texts: list[str]) -> np.ndarray: ...

    def top(self, vector: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray: ...

    def at(self, vector: np.ndarray, rows: np.ndarray) -> np.ndarray: ...


def _minmax(values: np.ndarray) -> np.ndarray:
    if values.size == 0:
        return values
    lo, hi = float(values.min()), float(values.max())
    return (values - lo) / (hi - lo) if hi > lo else np.ones_like(values) * (1.0 if hi > 0 else 0.0)


def _order(scores: np.ndarray) -> list[int]:
    """Positions with a positive score, best first (ties: lower position first)."""
    positive = np.flatnonzero(scores > 0)
    return positive[np.argsort(-scores[positive], kind="stable")].tolist()


def fused_scores(
    bm25_all: np.ndarray,
    vector: np.ndarray,
    dense: Dense,
    mask: np.ndarray,
    bm25_weight: float,
    pool_size: int = DEFAULT.pool,
) -> np.ndarray:
    """Weighted BM25 (scaled by its best score) + dense (min-max over the pool); 0 outside pool and filters."""
    bm25 = np.where(mask, bm25_all, 0.0)
    pool = top_positions(bm25, pool_size)
    pool = pool[bm25[pool] > 0]
    out = np.zeros(len(bm25), dtype=np.float32)
    top = float(bm25[pool[0]]) if pool.size else 0.0
    if bm25_weight >= 1:
        if pool.size:
            out[pool] = bm25[pool] / top
        return out
    cand = np.union1d(pool, dense.top(vector, mask, min(pool_size, int(mask.sum()))))
    if cand.size == 0:
        return out
    b = bm25[cand] / top if top > 0 else np.zeros(cand.size, dtype=np.float32)
    d = _minmax(dense.at(vector, cand).astype(np.float32))
    out[cand] = bm25_weight * b + (1.0 - bm25_weight) * d + 1e-6  # in the pool: above every non-candidate
    return out


def _on_days(index: KeywordIndex, days: list[datetime]) -> np.ndarray:
    hit = np.zeros(len(index), dtype=bool)
    for day in days:
        start = int(day.timestamp())
        hit |= (index.ts >= start) & (index.ts < int((day + timedelta(days=1)).timestamp()))
    return hit


def cover(ranked: list[int], terms: list[str], index: KeywordIndex, tuning: Tuning = DEFAULT) -> list[int]:
    """`ranked` reordered greedily for term coverage: each next chunk maximises (1 - w) x its rank prior (1 at
    the top, falling linearly) + w x its best sentence's BM25 on the question's terms (w: `cover_weight`),
    each term weighted 1 until a chunk already picked holds it in its best sentence, `cover_decay` after.
    A multi-part question so gets a chunk for each part before a second one for the same part."""
    owner, per_term = index.sentence_terms(terms, ranked)
    if not per_term.any():  # no sentence holds a question term (or there are no sentences)
        return ranked
    n = len(ranked)
    position = {c: j for j, c in enumerate(ranked)}
    row_of = np.array(
        [position[c] for c in owner.tolist()], dtype=np.int64
    )  # each sentence's place in ranked
    prior = 1.0 - np.arange(n) / n
    weights = np.ones(len(terms), dtype=np.float32)
    scale = float((per_term @ weights).max())
    taken = np.zeros(n, dtype=bool)
    out = []
    for _ in range(n):
        scores = per_term @ weights
        best = np.zeros(n)
        np.maximum.at(best, row_of, scores)
        j = int(
            np.argmax(
                np.where(
                    taken, -np.inf, (1 - tuning.cover_weight) * prior + tuning.cover_weight * best / scale
                )
            )
        )
        taken[j] = True
        out.append(ranked[j])
        rows = np.flatnonzero(row_of == j)
        if rows.size:
            weights = np.where(
                per_term[rows[np.argmax(scores[rows])]] > 0, weights * tuning.cover_decay, weights
            )
    return out


def rank(
    qplan: QueryPlan,
    index: KeywordIndex,
    dense: Dense,
    mask: np.ndarray,
    k: int,
    bm25_weight: float,
    vector: np.ndarray,
    tuning: Tuning = DEFAULT,
) -> list[tuple[int, float]]:
    """Chunk positions and scores, best first; `vector` is the query's embedding."""
    depth = max(k, tuning.cover_depth)
    ranked = _ranked(qplan, index, dense, mask, depth, bm25_weight, vector, tuning)
    positions = cover(
        [i for i, _ in ranked[: tuning.cover_depth]],
        list(dict.fromkeys(bm25_tokens([qplan.question])[0])),
        index,
        tuning,
    ) + [i for i, _ in ranked[tuning.cover_depth :]]
    score = dict(ranked)
    return [(i, score[i]) for i in positions[:k]]


def _ranked(
    qplan: QueryPlan,
    index: KeywordIndex,
    dense: Dense,
    mask: np.ndarray,
    k: int,
    bm25_weight: float,
    vector: np.ndarray,
    tuning: Tuning,
) -> list[tuple[int, float]]:
    """Chunk positions and scores, best first, before the coverage reordering."""
    # Claims are ranked by keywords only: one query embedding keeps retrieval within its latency budget.
    t = tuning
    question_bm25 = index.scores(qplan.question)
    main = fused_scores(question_bm25, vector, dense, mask, bm25_weight, t.pool)
    if qplan.outlets:
        main += t.outlet_boost * index.outlet_mask(qplan.outlets) * (main > 0)
    days = _on_days(index, qplan.dates) if qplan.dates else None
    if qplan.dates:
        main += t.date_boost * days * (main > 0)
    order = _order(main)
    lists = []
    for outlet in qplan.outlets:  # the best chunks of each outlet named, even outside the main pool
        own = index.outlet_mask([outlet])
        score = fused_scores(question_bm25, vector, dense, mask & own, bm25_weight, t.pool)
        if qplan.dates:
            score += t.date_boost * days * (score > 0)
        lists.append(_order(score)[: t.part_depth])
    for part in qplan.parts:
        score = fused_scores(index.scores(part.text, t.part_sentence), vector, dense, mask, 1.0, t.pool)
        if not score.any():
            continue
        score = score + t.part_context * main
        if part.outlet:
            score += t.part_outlet_boost * index.outlet_mask([part.outlet])
        if part.dates:
            score += t.date_boost * _on_days(index, part.dates)
        score = np.where(mask, score, 0.0)
        lists.append(_order(score)[: t.part_depth])
    picked: list[int] = order[: t.lead]
    head = max(1, int(round(t.head * k)))
    for r in range(t.rounds):
        for lst in lists:
            if r < len(lst) and lst[r] not in picked:
                picked.append(lst[r])
    picked = picked[:head]
    chosen = set(picked)
    picked += [i for i in order if i not in chosen][: k - len(picked)]
    return [(i, float(main[i])) for i in picked[:k]]


def _with_feedback(
    question: str,
    ranked: list[tuple[int, float]],
    index: KeywordIndex,
    dense: Dense,
    mask: np.ndarray,
    k: int,
    bm25_weight: float,
    year: int,
    vector: np.ndarray,
    tuning: Tuning,
) -> list[tuple[int, float]]:
    """For a who/which question, the first chunks, then those of a second search with the name that leads
    the first results added to the question (rag.answer.names.leading_name): the facts a multi-part question
    gives about someone are in the articles that name them. Unchanged when no name leads. The second search
    reuses the question's embedding (`vector`): the name is a keyword."""
    name = leading_name(
        question,
        # copies of one wire story count once
        [
            (index.metas[i].get("story_id") or index.doc_ids[i], index.texts[i])
            for i, _ in ranked[: tuning.feedback_depth]
        ],
        index.outlets,
        tuning,
    )
    if not name:
        return ranked
    kept = ranked[: tuning.feedback_keep]
    seen = {i for i, _ in kept}
    floor = kept[-1][1]  # a name leads only chunks there are
    again = rank(
        plan(f"{question} {name}", index.outlets, default_year=year),
        index,
        dense,
        mask,
        k,
        bm25_weight,
        vector,
        tuning,
    )
    return (kept + [(i, min(score, floor)) for i, score in again if i not in seen])[:k]


def _where(filters: Filters, index: KeywordIndex) -> dict | None:
    """`filters` as a Chroma `where`, for a dense search the store runs."""
    clauses: list[dict] = []
    if filters.sources:
        wanted = {s.lower() for s in filters.sources}
        clauses.append(
            {"source": {"$in": [o for o in index.outlets if any(of_outlet(o, w) for w in wanted)] or [""]}}
        )
    if filters.since:
        clauses.append({"published_ts": {"$gte": int(filters.since.timestamp())}})
    if filters.until:
        clauses += [{"published_ts": {"$lte": filters.until_ts()}}, {"published_ts": {"$gte": 0}}]
    return None if not clauses else clauses[0] if len(clauses) == 1 else {"$and": clauses}


def hybrid_search(
    question: str,
    index: KeywordIndex,
    vectors: np.ndarray | VectorIndex,
    embedder,
    k: int,
    filters: Filters,
    bm25_weight: float,
    tuning: Tuning = DEFAULT,
    qplan: QueryPlan | None = None,
    names_first: bool | None = None,
) -> list[NodeWithScore]:
    """The `k` best chunks for the question; `vectors` are the chunks' embeddings, rows in `index` order (a
    matrix, or a `VectorIndex` that may search Chroma). `qplan` and `names_first` (a who/which question)
    come from the question already read, when it was."""
    if len(index) == 0:
        return []
    mask = filters.mask(index) & index.live  # removed chunks keep their rows until the index is compacted
    if not mask.any():
        return []
    year = index.latest_year or datetime.now().year
    dense = (
        vectors.searcher(embedder, _where(filters, index))
        if isinstance(vectors, VectorIndex)
        else MatrixDense(vectors, embedder)
    )
    qplan = qplan or plan(question, index.outlets, default_year=year)
    vector = dense.embed([qplan.question])[0] if bm25_weight < 1 else np.zeros(1, dtype=np.float32)
    ranked = rank(qplan, index, dense, mask, k, bm25_weight, vector, tuning)
    if expects_name(question) if names_first is None else names_first:
        ranked = _with_feedback(question, ranked, index, dense, mask, k, bm25_weight, year, vector, tuning)
    return [node_at(index, i, score) for i, score in ranked]


def node_at(index: KeywordIndex, row: int, score: float) -> NodeWithScore:
    """The chunk at `row` of the index, as a scored llama-index node."""
    node = TextNode(id_=index.ids[row], text=index.texts[row], metadata=dict(index.metas[row]))
    return NodeWithScore(node=node, score=score)
