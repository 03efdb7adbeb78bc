"""The dense side of retrieval: chunk vectors, rows in keyword-index order, searched exactly or by Chroma.

Exact search is one pass over a matrix (memory-mapped from the saved index, plus the rows added since)
and returns every chunk's similarity; past `Settings.exact_dense_max` chunks it costs more than a
question may, and the nearest chunks come from Chroma's own HNSW index (`collection.query`, filters
pushed down as `where`), the similarities of the keyword candidates computed from their vectors alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


class MatrixDense:
    """Exact cosine similarity against the chunk vectors (rows in KeywordIndex order): one matrix product,
    no round trip to the store, whatever the filters."""

    def __init__(self, vectors, embedder):
        self.vectors = vectors if isinstance(vectors, RowVectors) else RowVectors(vectors)
        self.embedder = embedder
        self._last: tuple[bytes, np.ndarray] | None = None  # one search's cache: built per call

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.embedder.embed(texts)

    def similarities(self, vector: np.ndarray) -> np.ndarray:
        key = vector.tobytes()
        if self._last is None or self._last[0] != key:
            self._last = (key, self.vectors.dot(vector))
        return self._last[1]

    def top(self, vector: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
        return top_positions(np.where(mask, self.similarities(vector), -np.inf), n)

    def at(self, vector: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return self.similarities(vector)[rows]


class ChromaDense:
    """Approximate nearest chunks from the store's HNSW index; exact similarities for any given rows."""

    def __init__(self, vectors: VectorIndex, embedder, where: dict | None, exact_below: int):
        self.vectors, self.embedder, self.where, self.exact_below = vectors, embedder, where, exact_below

    def embed(self, texts: list[str]) -> np.ndarray:
        return self.embedder.embed(texts)

    def top(self, vector: np.ndarray, mask: np.ndarray, n: int) -> np.ndarray:
        rows = np.flatnonzero(mask)
        if rows.size <= self.exact_below:  # a narrow filter: exact over its rows is cheaper than a graph walk
            return rows[top_positions(self.at(vector, rows), n)]
        collection, row_of = self.vectors.collection, self.vectors.row_of()
        want = 2 * n
        while True:
            got = collection.query(
                query_embeddings=[vector.astype(np.float32)],
                n_results=want,
                where=self.where,
                include=[],
            )
            found = [row_of.get(i, -1) for i in got["ids"][0]]
            kept = [r for r in found if r >= 0 and mask[r]]
            if len(kept) >= n or len(found) < want or want >= 16 * n:
                return np.asarray(kept[:n], dtype=np.int64)
            want *= 4  # the mask is narrower than `where` (an outlet the question names): look deeper

    def at(self, vector: np.ndarray, rows: np.ndarray) -> np.ndarray:
        return self.vectors.rows(rows) @ vector.astype(np.float32)


SAMPLED_FROM = 250_000  # values past which the n largest are looked for among a sample's best first
_STRIDE = 64


def top_positions(values: np.ndarray, n: int) -> np.ndarray:
    """Positions of the `n` largest values, best first (ties: lower position first)."""
    if n <= 0 or values.size == 0:
        return np.zeros(0, dtype=np.int64)
    if n < values.size:
        if values.size > SAMPLED_FROM:
            among = _above_sample(values, n)
            if among is None:  # every value above the n-th largest, then the first of those equal to it
                edge = -np.partition(-values, n - 1)[n - 1]  # (from the top: fast on a run of zeros)
                above = np.flatnonzero(values > edge)
                among = np.union1d(above, np.flatnonzero(values == edge)[: n - above.size])
            # candidates in position order: a stable sort settles ties
            return among[np.argsort(-values[among], kind="stable")[:n]]
        part = np.argpartition(-values, n - 1)[:n]
        return part[np.lexsort((part, -values[part]))]
    return np.argsort(-values, kind="stable")


def _above_sample(values: np.ndarray, n: int) -> np.ndarray | None:
    """Positions of the values at or above a threshold that at least `n` of them reach, taken from every
    64th value: one comparison pass over all of them costs a fraction of partitioning them. None when the
    sample gives no threshold that leaves a few candidates."""
    sample = values[::_STRIDE]
    k = 2 * (n // _STRIDE) + 16  # about twice the sample's share of the n largest
    if k >= sample.size:
        return None
    threshold = -np.partition(-sample, k - 1)[k - 1]
    among = np.flatnonzero(values >= threshold)
    # too few reach it, or (ties at the threshold, zeros) too many to sort
    return among if n <= among.size <= 16 * n + 4096 else None


class RowVectors:
    """A saved matrix (memory-mapped) and the rows appended since."""

    def __init__(self, main: np.ndarray | None, extra: list[np.ndarray] | None = None):
        self.main = main if main is not None else np.zeros((0, 0), dtype=np.float32)
        self.extra = extra or []

    def __len__(self) -> int:
        return len(self.main) + sum(len(e) for e in self.extra)

    def appended(self, vectors: np.ndarray) -> RowVectors:
        return RowVectors(self.main, self.extra + [np.asarray(vectors, dtype=np.float32)])

    def dot(self, vector: np.ndarray) -> np.ndarray:
        # einsum, not BLAS: a threaded BLAS spins after each call and slows the next embedding down
        v = vector.astype(np.float32)
        parts = [np.einsum("ij,j->i", m, v) for m in [self.main, *self.extra] if len(m)]
        return np.concatenate(parts) if len(parts) > 1 else (parts[0] if parts else np.zeros(0, np.float32))

    def rows(self, rows: np.ndarray) -> np.ndarray:
        n_main = len(self.main)
        rows = np.asarray(rows, dtype=np.int64)
        if not self.extra:
            return np.asarray(self.main[rows])
        stacked = np.concatenate(self.extra)
        out = np.empty((len(rows), stacked.shape[1]), dtype=np.float32)
        in_main = rows < n_main  # one gather from each part, not one memory-map read a row
        if in_main.any():
            out[in_main] = self.main[rows[in_main]]
        out[~in_main] = stacked[rows[~in_main] - n_main]
        return out


class VectorIndex:
    """The chunk vectors of one KeywordIndex version (or, for a large index in a Chroma server, none: then
    they are fetched from the store by id when needed) and the collection that holds them."""

    def __init__(self, collection, ids: list[str], vectors: RowVectors | None, exact_max: int, live: int):
        self.collection, self.ids, self.matrix = collection, ids, vectors
        self.exact_max, self.live = exact_max, live
        self._row_of: dict[str, int] | None = None
        self._fetched: dict[int, np.ndarray] = {}

    @property
    def exact(self) -> bool:
        return self.matrix is not None and self.live <= self.exact_max

    def row_of(self) -> dict[str, int]:
        if self._row_of is None:
            self._row_of = {cid: row for row, cid in enumerate(self.ids)}
        return self._row_of

    def rows(self, rows: np.ndarray) -> np.ndarray:
        if self.matrix is not None:
            return self.matrix.rows(rows)
        missing = [r for r in rows.tolist() if r not in self._fetched]
        if missing:
            got = self.collection.get(ids=[self.ids[r] for r in missing], include=["embeddings"])
            row_of = self.row_of()
            for cid, vec in zip(got["ids"], got["embeddings"]):
                self._fetched[row_of[cid]] = np.asarray(vec, dtype=np.float32)
        return (
            np.stack([self._fetched[r] for r in rows.tolist()]) if len(rows) else np.zeros((0, 1), np.float32)
        )

    def searcher(self, embedder, where: dict | None):
        if self.exact:
            return MatrixDense(self.matrix, embedder)
        return ChromaDense(self, embedder, where, exact_below=min(self.exact_max, 50_000))

    def save(self, path: Path) -> None:
        if self.matrix is not None:
            np.save(path / "vectors.npy", np.asarray(self.matrix.main, dtype=np.float32))

    @staticmethod
    def load_matrix(path: Path) -> RowVectors | None:
        file = path / "vectors.npy"
        return RowVectors(np.load(file, mmap_mode="r")) if file.exists() else None
