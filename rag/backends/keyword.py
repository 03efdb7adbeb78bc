"""BM25 over the stored chunks (bm25s, English stop words, Snowball stemming), updated in place.

A second BM25 index over the chunks' single sentences lets a chunk holding one sentence that
matches the question closely (a quoted fact) rank above a chunk that merely shares its words.

Each index is a main segment (bm25s, saved and memory-mapped) plus a small delta of the chunks
added since it was built, scored with the main segment's statistics (document count, document
frequencies, mean length) so that an update costs what the change costs, and the scores of the main
segment's chunks do not move. Removed chunks stay in place, marked dead (`live`), until the owner
compacts the index into a new main segment (`compacted`).
"""

from __future__ import annotations

import copy
import json
import math
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from rag.backends.vectors import top_positions
from rag.text import bm25_corpus, bm25_tokens, chunk_body, outlet_head, split_sentences
from rag.tuning import DEFAULT, Tuning

ROW_FIELDS = ("chunk_index",)  # the metadata that differs between the chunks of one article


def _params(tuning: Tuning) -> tuple[dict, dict]:
    """BM25 parameters of the chunk index and the sentence index (k1: term-frequency saturation, b: length
    normalisation). A question names many things once: a low k1 ranks the chunk that holds more of them
    above one that repeats a few."""
    return ({"k1": tuning.chunk_k1, "b": tuning.chunk_b}, {"k1": tuning.sentence_k1, "b": tuning.sentence_b})


def _bm25(texts: list[str], params: dict):
    """A bm25s index of `texts` and their mean length in tokens (which bm25s does not keep)."""
    import bm25s

    index = bm25s.BM25(**params)
    avgdl = 1.0
    if texts:
        corpus = bm25_corpus(texts)
        index.index(corpus, show_progress=False)
        avgdl = float(np.mean([len(doc) for doc in corpus.ids]))
    return index, avgdl


def _main_scores(index, tokens: list[str]) -> np.ndarray:
    """What `index.get_scores(tokens)` gives (Lucene BM25, no weight mask), added up with a plain indexed add:
    one term's postings name each document once, and `np.add.at`, which bm25s uses without numba, is
    several times slower over the millions of postings a common term has at a million chunks."""
    data, indices, indptr = index.scores["data"], index.scores["indices"], index.scores["indptr"]
    out = np.zeros(int(index.scores["num_docs"]), dtype=np.dtype(index.dtype))
    vocab = index.vocab_dict
    for token in tokens:  # a repeated query token counts again, as in bm25s
        tid = vocab.get(token)
        if tid is not None:
            start, end = int(indptr[tid]), int(indptr[tid + 1])
            out[indices[start:end]] += data[start:end]
    return out


def _sentences(texts: Sequence[str], first: int = 0) -> tuple[list[str], np.ndarray]:
    sentences, owner = [], []
    for i, text in enumerate(texts):
        for sentence in split_sentences(chunk_body(text)):
            sentences.append(sentence)
            owner.append(first + i)
    return sentences, np.asarray(owner, dtype=np.int64)


class _Delta:
    """BM25 postings of the documents added after a bm25s main segment was built, weighted with the main
    segment's statistics (the Lucene variant bm25s uses), so their scores sit on the main segment's scale."""

    def __init__(self, main, avgdl: float, params: dict):
        self.main, self.avgdl, self.k1, self.b = main, avgdl or 1.0, params["k1"], params["b"]
        self.n_main = int(main.scores["num_docs"]) if getattr(main, "scores", None) else 0
        self.postings: dict[str, tuple[list[int], list[float]]] = {}
        self.size = 0  # documents added

    def _idf(self, token: str) -> float:
        vocab = getattr(self.main, "vocab_dict", None) or {}
        tid = vocab.get(token)
        df = 0 if tid is None else int(self.main.scores["indptr"][tid + 1] - self.main.scores["indptr"][tid])
        return math.log(1 + (self.n_main - df + 0.5) / (df + 0.5))

    def copy(self) -> _Delta:
        out = copy.copy(self)
        out.postings = {t: (list(r), list(s)) for t, (r, s) in self.postings.items()}
        return out

    def add(self, docs: list[list[str]], first: int) -> None:
        """`docs` (tokens each) at rows first, first + 1, ... (counted from the main segment's first row)."""
        for offset, tokens in enumerate(docs):
            norm = self.k1 * ((1 - self.b) + self.b * len(tokens) / self.avgdl)
            for token, tf in Counter(tokens).items():
                rows, scores = self.postings.setdefault(token, ([], []))
                rows.append(first + offset - self.n_main)
                scores.append(self._idf(token) * tf / (norm + tf))
        self.size += len(docs)

    def scores(self, tokens: list[str], n: int) -> np.ndarray:
        out = np.zeros(n, dtype=np.float32)
        for token in tokens:  # a repeated query token counts again, as in bm25s
            found = self.postings.get(token)
            if found:
                out[np.asarray(found[0])] += np.asarray(found[1], dtype=np.float32)
        return out


class KeywordIndex:
    """All chunks of a collection: BM25 plus the metadata arrays that filters need. Rows are positions;
    a removed chunk keeps its row (dead: no score, no metadata) until the index is compacted."""

    def __init__(
        self,
        ids: list[str],
        texts: Sequence[str],
        metas: Sequence[dict],
        bm25=None,
        sentence_bm25=None,
        sentence_owner: np.ndarray | None = None,
        tuning: Tuning = DEFAULT,
        avgdl: tuple[float, float] | None = None,
        columns: dict | None = None,
    ):
        self.tuning = tuning
        chunk_params, sentence_params = _params(tuning)
        self.ids = list(ids)
        plain = None if isinstance(texts, _Texts) else list(texts)
        self.texts = texts if plain is None else _Texts.of(plain)
        self.metas = metas if isinstance(metas, _Metas) else _Metas.of(list(metas))
        if columns is None:
            columns = {
                "sources": np.array([m.get("source") or "" for m in self.metas], dtype=object),
                "ts": np.array([m.get("published_ts", -1) for m in self.metas], dtype=np.int64),
                "doc_ids": np.array([m.get("doc_id") or "" for m in self.metas], dtype=object),
            }
        self.sources, self.ts, self.doc_ids = columns["sources"], columns["ts"], columns["doc_ids"]
        self.live = np.ones(len(self.ids), dtype=bool)
        if bm25 is None:
            bm25, chunk_avgdl = _bm25(plain if plain is not None else list(self.texts), chunk_params)
        else:
            chunk_avgdl = avgdl[0] if avgdl else 1.0
        if sentence_bm25 is None:
            sentences, sentence_owner = _sentences(plain if plain is not None else self.texts)
            sentence_bm25, sentence_avgdl = _bm25(sentences, sentence_params)
        else:
            sentence_avgdl = avgdl[1] if avgdl else 1.0
        self.bm25, self.sentence_bm25 = bm25, sentence_bm25
        self.sentence_owner = sentence_owner
        self.avgdl = (chunk_avgdl, sentence_avgdl)
        self._n_main = len(self.ids)
        self._n_main_sentences = len(sentence_owner) if sentence_owner is not None else 0
        self._delta = _Delta(bm25, chunk_avgdl, chunk_params)
        self._sentence_delta = _Delta(sentence_bm25, sentence_avgdl, sentence_params)
        self._rows_of: dict[str, list[int]] | None = None
        self._runs: tuple[int, np.ndarray, np.ndarray] | None = None  # (sentences, run starts, their chunks)
        self._outlet_codes: tuple[np.ndarray, dict[str, int]] | None = None  # each row's outlet as a number
        self._summarise()

    def _summarise(self) -> None:
        self.outlets = sorted({s for s in set(self.sources.tolist()) if s})
        known = self.ts[self.ts >= 0]
        self.latest_year = (
            datetime.fromtimestamp(int(known.max()), tz=timezone.utc).year if known.size else None
        )

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def changed(self) -> int:
        """Rows added or removed since the main segment was built."""
        return self._delta.size + int((~self.live[: self._n_main]).sum())

    @property
    def live_count(self) -> int:
        return int(self.live.sum())

    # -- updates ------------------------------------------------------------------------------
    def rows_of(self, doc_id: str) -> list[int]:
        if self._rows_of is None:
            self._rows_of = {}
            for row, doc in enumerate(self.doc_ids.tolist()):
                if doc and self.live[row]:
                    self._rows_of.setdefault(doc, []).append(row)
        return self._rows_of.get(doc_id, [])

    def updated(
        self, removed: list[int], ids: list[str], texts: list[str], metas: list[dict]
    ) -> KeywordIndex:
        """A copy with the chunks at rows `removed` dead and the given chunks added; this index, which
        searches in other threads may be reading, is left as it was."""
        out = copy.copy(self)
        out.ids = list(self.ids)
        out.texts = self.texts.copy()
        out.metas = self.metas.copy()
        out.sources, out.ts, out.doc_ids, out.live = (
            self.sources.copy(),
            self.ts.copy(),
            self.doc_ids.copy(),
            self.live.copy(),
        )
        out._delta, out._sentence_delta = self._delta.copy(), self._sentence_delta.copy()
        out._rows_of = None
        out.remove(removed)
        out.add(ids, texts, metas)
        return out

    def remove(self, rows: list[int]) -> None:
        if not rows:
            return
        rows_arr = np.asarray(rows, dtype=np.int64)
        for row in rows:
            self.texts.blank(row)
            doc_rows = (self._rows_of or {}).get(self.doc_ids[row])
            if doc_rows is not None and row in doc_rows:
                doc_rows.remove(row)
        self.live[rows_arr] = False
        self.sources[rows_arr] = ""
        if self._outlet_codes is not None:
            codes, table = self._outlet_codes[0].copy(), dict(self._outlet_codes[1])
            codes[rows_arr] = table.setdefault("", len(table))
            self._outlet_codes = (codes, table)
        self.doc_ids[rows_arr] = ""
        self.ts[rows_arr] = -1
        self._summarise()

    def add(self, ids: list[str], texts: list[str], metas: list[dict]) -> list[int]:
        """Append chunks (their rows are returned); cost grows with them, not with the index."""
        if not ids:
            return []
        first = len(self.ids)
        self.ids += ids
        self.texts.extend(texts)
        self.metas.extend(metas)
        self.sources = np.concatenate(
            [self.sources, np.array([m.get("source") or "" for m in metas], object)]
        )
        self.ts = np.concatenate([self.ts, np.array([m.get("published_ts", -1) for m in metas], np.int64)])
        self.doc_ids = np.concatenate(
            [self.doc_ids, np.array([m.get("doc_id") or "" for m in metas], object)]
        )
        self.live = np.concatenate([self.live, np.ones(len(ids), dtype=bool)])
        if self._outlet_codes is not None:
            table = dict(self._outlet_codes[1])
            new = [table.setdefault(m.get("source") or "", len(table)) for m in metas]
            self._outlet_codes = (np.concatenate([self._outlet_codes[0], np.array(new, np.int32)]), table)
        self._delta.add(bm25_tokens(texts), first)
        sentences, owner = _sentences(texts, first)
        self._sentence_delta.add(bm25_tokens(sentences) if sentences else [], self._n_sentences())
        self.sentence_owner = np.concatenate([self.sentence_owner, owner])
        if self._rows_of is not None:
            for row, meta in enumerate(metas, first):
                self._rows_of.setdefault(meta.get("doc_id") or "", []).append(row)
        self._summarise()
        return list(range(first, len(self.ids)))

    def _n_sentences(self) -> int:
        return self._n_main_sentences + self._sentence_delta.size

    def compacted(self) -> KeywordIndex:
        """A new index of the live chunks alone, in one main segment (a full rebuild)."""
        keep = np.flatnonzero(self.live).tolist()
        return KeywordIndex(
            [self.ids[i] for i in keep],
            [self.texts[i] for i in keep],
            [self.metas[i] for i in keep],
            tuning=self.tuning,
        )

    # -- scores -------------------------------------------------------------------------------
    def _chunk_scores(self, tokens: list[str]) -> np.ndarray:
        main = np.asarray(_main_scores(self.bm25, tokens), dtype=np.float32) if self._n_main else None
        if len(self.ids) == self._n_main:
            return main
        delta = self._delta.scores(tokens, len(self.ids) - self._n_main)
        return delta if main is None else np.concatenate([main, delta])

    def _sentence_scores(self, tokens: list[str]) -> np.ndarray:
        main = (
            np.asarray(_main_scores(self.sentence_bm25, tokens), dtype=np.float32)
            if self._n_main_sentences
            else np.zeros(0, dtype=np.float32)
        )
        if not self._sentence_delta.size:
            return main
        return np.concatenate([main, self._sentence_delta.scores(tokens, self._sentence_delta.size)])

    def scores(self, query: str, sentence_weight: float | None = None) -> np.ndarray:
        """BM25 of every chunk, plus a share for its best-matching sentence."""
        if not self.ids:
            return np.zeros(0, dtype=np.float32)
        tokens = bm25_tokens([query])[0]
        if not tokens:
            return np.zeros(len(self.ids), dtype=np.float32)
        chunk = self._chunk_scores(tokens)
        dead = not self.live.all()
        if dead:
            chunk = np.where(self.live, chunk, np.float32(0))
        if self.sentence_owner is None or not self.sentence_owner.size or chunk.max() <= 0:
            return chunk
        if len(self.ids) > self.tuning.sentence_pool_from:
            best = self._pooled_best(tokens, chunk)
        else:
            best = self._best_per_chunk(self._sentence_scores(tokens))
        if dead:
            best = np.where(self.live, best, np.float32(0))
        if best.max() > 0:
            weight = self.tuning.sentence_weight if sentence_weight is None else sentence_weight
            chunk = chunk + weight * float(chunk.max()) * best / float(best.max())
        return chunk

    def _pooled_best(self, tokens: list[str], chunk: np.ndarray) -> np.ndarray:
        """`_best_per_chunk(_sentence_scores(tokens))` for the `sentence_pool` chunks with the best scores of
        their own, 0 for the rest: past `sentence_pool_from` chunks, scoring every sentence of the index (ten a
        chunk) for each question costs more than the rest of the search; a chunk whose own words rank it
        below that pool rarely has the sentence that lifts it into the few the search reads."""
        pool = top_positions(chunk, self.tuning.sentence_pool)
        pool = np.sort(pool[chunk[pool] > 0])
        owner = np.asarray(self.sentence_owner)  # a plain view: a memmap's own indexing is slow
        rows = self._sentence_rows(pool)
        scores = np.zeros(len(rows), dtype=np.float32)
        for token in tokens:  # a repeated query token counts again, as in bm25s
            scores += self._sentence_scores_at(token, rows)
        best = np.zeros(len(self.ids), dtype=np.float32)
        np.maximum.at(best, np.asarray(owner[rows], dtype=np.int64), scores)
        return best

    def outlet_mask(self, outlets: Sequence[str], ignore_case: bool = False) -> np.ndarray:
        """Rows from any of `outlets` (or their sections: `rag.text.outlet_head`): compared as numbers, since
        comparing a million outlet names takes tens of milliseconds a question."""
        if self._outlet_codes is None:
            table: dict[str, int] = {}
            codes = np.fromiter(
                (table.setdefault(s, len(table)) for s in self.sources), np.int32, len(self.sources)
            )
            self._outlet_codes = (codes, table)
        codes, table = self._outlet_codes
        fold = str.lower if ignore_case else str
        wanted = {fold(o) for o in outlets}
        hits = [
            code
            for name, code in table.items()
            if name and (fold(name) in wanted or fold(outlet_head(name)) in wanted)
        ]
        if len(hits) == 1:
            return codes == hits[0]
        return np.isin(codes, hits) if hits else np.zeros(len(codes), dtype=bool)

    def _best_per_chunk(self, sentence: np.ndarray) -> np.ndarray:
        """Each chunk's best sentence score. Sentences are stored in chunk order (added chunks and their
        sentences go at the end), so one `reduceat` over each chunk's run of sentences does it."""
        owner = self.sentence_owner
        if self._runs is None or self._runs[0] != len(owner):
            starts = (
                np.flatnonzero(np.concatenate([[True], owner[1:] != owner[:-1]])) if len(owner) else owner
            )
            self._runs = (len(owner), starts, np.asarray(owner[starts]))
        _, starts, chunks = self._runs
        best = np.zeros(len(self.ids), dtype=np.float32)
        if len(starts):
            best[chunks] = np.maximum.reduceat(sentence, starts)
        return best

    def sentence_terms(self, terms: list[str], chunks: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """For the sentences of `chunks`: the chunk each belongs to, and each term's BM25 score in each
        (rows: sentences, columns: `terms`, already tokenised by `bm25_tokens`)."""
        if self.sentence_owner is None or not terms or not chunks:
            return np.zeros(0, dtype=np.int64), np.zeros((0, len(terms)), dtype=np.float32)
        rows = self._sentence_rows(np.asarray(chunks, dtype=np.int64))
        scores = [self._sentence_scores_at(t, rows) for t in terms]
        return np.asarray(self.sentence_owner[rows]), np.stack(scores, axis=1)

    def _sentence_rows(self, chunks: np.ndarray) -> np.ndarray:
        """The rows of the chunks' sentences, chunk after chunk in the order given (sentences are stored in
        chunk order, so each chunk's are one run)."""
        owner = np.asarray(self.sentence_owner)  # a plain view: a memmap's own indexing is slow
        lo, hi = np.searchsorted(owner, chunks), np.searchsorted(owner, chunks, side="right")
        # the runs end to end: lo[0]..hi[0]-1, lo[1]..hi[1]-1, …
        return np.arange(int((hi - lo).sum())) + np.repeat(lo - np.cumsum(hi - lo) + (hi - lo), hi - lo)

    def _sentence_scores_at(self, token: str, rows: np.ndarray) -> np.ndarray:
        """`_sentence_scores([token])[rows]`, read from the token's postings alone: an index of millions of
        sentences is not scored whole for the few hundred that are wanted."""
        ordered = rows.size < 2 or bool((rows[1:] > rows[:-1]).all())
        rows, back = (rows, None) if ordered else np.unique(rows, return_inverse=True)
        out = np.zeros(len(rows), dtype=np.float32)
        main_rows = rows[rows < self._n_main_sentences]
        index = self.sentence_bm25
        tid = (getattr(index, "vocab_dict", None) or {}).get(token) if self._n_main_sentences else None
        if tid is not None and main_rows.size:
            start, end = int(index.scores["indptr"][tid]), int(index.scores["indptr"][tid + 1])
            # plain views of the memory maps: a memmap's own indexing costs more than the lookups
            docs = np.asarray(index.scores["indices"])[start:end]  # in row order
            data = np.asarray(index.scores["data"])[start:end]
            if end - start > main_rows.size:  # a common token: look the rows up in its postings
                at = np.searchsorted(docs, main_rows)
                at[at == end - start] = 0
                hit = docs[at] == main_rows
                out[: main_rows.size][hit] += data[at[hit]].astype(np.float32)
            else:
                at = np.searchsorted(main_rows, docs)
                at[at == main_rows.size] = 0
                hit = main_rows[at] == docs
                out[at[hit]] += data.astype(np.float32)[hit]
        if getattr(index, "nonoccurrence_array", None) is not None and tid is not None:
            out[: main_rows.size] += np.float32(index.nonoccurrence_array[tid])
        if self._sentence_delta.size and main_rows.size < rows.size:
            delta = self._sentence_delta.scores([token], self._sentence_delta.size)
            out[main_rows.size :] = delta[rows[main_rows.size :] - self._n_main_sentences]
        return out if back is None else out[back]

    # -- on disk ------------------------------------------------------------------------------
    def save(self, path: Path) -> None:
        """Write a compacted index (no delta, no dead rows) to the empty folder `path`."""
        assert self.changed == 0, "save a compacted index"
        path.mkdir(parents=True, exist_ok=True)
        self.bm25.save(str(path / "chunks"))
        self.sentence_bm25.save(str(path / "sentences"))
        np.save(path / "sentence_owner.npy", self.sentence_owner)
        self.texts.save(path)
        self.metas.save(path)
        np.save(path / "ts.npy", self.ts)
        np.save(path / "source_codes.npy", self.metas.column_codes("source"))
        (path / "index.json").write_text(json.dumps({"ids": self.ids, "avgdl": list(self.avgdl)}))

    @classmethod
    def load(cls, path: Path, tuning: Tuning = DEFAULT) -> KeywordIndex:
        """The index `save` wrote, memory-mapped: nothing is re-read from the store or re-tokenised."""
        import bm25s

        head = json.loads((path / "index.json").read_text())
        metas = _Metas.load(path)
        sources = metas.column_values("source", np.load(path / "source_codes.npy"))
        return cls(
            head["ids"],
            _Texts.load(path),
            metas,
            bm25=bm25s.BM25.load(str(path / "chunks"), mmap=True),
            sentence_bm25=bm25s.BM25.load(str(path / "sentences"), mmap=True),
            sentence_owner=np.load(path / "sentence_owner.npy", mmap_mode="r"),
            tuning=tuning,
            avgdl=tuple(head["avgdl"]),
            columns={"sources": sources, "ts": np.load(path / "ts.npy"), "doc_ids": metas.doc_ids()},
        )


class _Texts(Sequence):
    """Chunk texts: a saved UTF-8 blob read through a memory map, then the texts added since."""

    def __init__(self, blob, offsets: np.ndarray, extra: list[str]):
        self._blob, self._offsets, self._extra = blob, offsets, extra
        self._blank: set[int] = set()
        self._n = len(offsets) - 1 if len(offsets) else 0
        self._joined: str | None = None

    @classmethod
    def of(cls, texts: list[str]) -> _Texts:
        return cls(b"", np.zeros(0, dtype=np.int64), texts)

    @classmethod
    def load(cls, path: Path) -> _Texts:
        offsets = np.load(path / "text_offsets.npy")
        blob = np.memmap(path / "texts.bin", dtype=np.uint8, mode="r") if offsets[-1] else b""
        return cls(blob, offsets, [])

    def save(self, path: Path) -> None:
        encoded = [t.encode() for t in self]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(e) for e in encoded], out=offsets[1:])
        (path / "texts.bin").write_bytes(b"".join(encoded))
        np.save(path / "text_offsets.npy", offsets)

    def __len__(self) -> int:
        return self._n + len(self._extra)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if i in self._blank:
            return ""
        if i >= self._n:
            return self._extra[i - self._n]
        return bytes(self._blob[self._offsets[i] : self._offsets[i + 1]]).decode()

    def __iter__(self) -> Iterator[str]:
        for i in range(len(self)):
            yield self[i]

    def joined(self) -> str:
        """Every text in one string, a line apart, built once per change: one regex pass over the corpus costs
        a fraction of one pass per text (each read out of the memory map)."""
        if self._joined is None:
            self._joined = "\n".join(self)
        return self._joined

    def extend(self, texts: list[str]) -> None:
        self._extra += texts
        self._joined = None

    def copy(self) -> _Texts:
        out = _Texts(self._blob, self._offsets, list(self._extra))
        out._blank = set(self._blank)
        return out

    def blank(self, i: int) -> None:
        self._blank.add(i)
        self._joined = None


class _Metas(Sequence):
    """Chunk metadata as one record per article plus the per-chunk fields: a million chunks of two hundred
    thousand articles do not hold a million dicts."""

    def __init__(self, articles: list[dict], article_of: list[int] | np.ndarray, rows: list[list]):
        self._articles, self._article_of, self._rows = articles, article_of, rows
        self._code: dict[str, int] | None = None

    @classmethod
    def of(cls, metas: list[dict]) -> _Metas:
        out = cls([], [], [])
        out.extend(metas)
        return out

    def copy(self) -> _Metas:
        out = _Metas(list(self._articles), list(self._article_of), [list(r) for r in self._rows])
        out._code = dict(self._code) if self._code is not None else None
        return out

    def _key(self, meta: dict) -> str:
        return json.dumps({k: v for k, v in meta.items() if k not in ROW_FIELDS}, sort_keys=True)

    def extend(self, metas: list[dict]) -> None:
        if self._code is None:
            self._code = {self._key(a): i for i, a in enumerate(self._articles)}
        if isinstance(self._article_of, np.ndarray):
            self._article_of = self._article_of.tolist()
            self._rows = [list(r) for r in self._rows]
        for meta in metas:
            key = self._key(meta)
            code = self._code.get(key)
            if code is None:
                code = self._code[key] = len(self._articles)
                self._articles.append({k: v for k, v in meta.items() if k not in ROW_FIELDS})
            self._article_of.append(code)
            self._rows.append([meta.get(k) for k in ROW_FIELDS])

    def __len__(self) -> int:
        return len(self._article_of)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        meta = dict(self._articles[int(self._article_of[i])])
        for k, v in zip(ROW_FIELDS, self._rows[i]):
            if isinstance(v, np.integer):
                v = int(v) if v >= 0 else None  # saved: -1 stands for none
            if v is not None:
                meta[k] = v
        return meta

    def save(self, path: Path) -> None:
        (path / "articles.json").write_text(json.dumps(self._articles))
        np.save(path / "article_of.npy", np.asarray(self._article_of, dtype=np.int32))
        rows = [[-1 if v is None else v for v in row] for row in self._rows]
        np.save(path / "row_fields.npy", np.asarray(rows, dtype=np.int64).reshape(len(self), len(ROW_FIELDS)))

    @classmethod
    def load(cls, path: Path) -> _Metas:
        return cls(
            json.loads((path / "articles.json").read_text()),
            np.load(path / "article_of.npy"),
            np.load(path / "row_fields.npy"),
        )

    def column_codes(self, field: str) -> np.ndarray:
        return np.asarray(self._article_of, dtype=np.int32)

    def column_values(self, field: str, codes: np.ndarray) -> np.ndarray:
        values = np.array([a.get(field) or "" for a in self._articles] + [""], dtype=object)
        return values[codes]

    def doc_ids(self) -> np.ndarray:
        return self.column_values("doc_id", np.asarray(self._article_of, dtype=np.int32))
