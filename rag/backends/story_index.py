"""Near-duplicate stories looked up in the store: an article's LSH bands are stored on its first chunk
(`ingest.stories.band_keys`), so grouping a new article asks Chroma for the few articles sharing a band
with it instead of reading every stored signature (seconds per ingest at 100k chunks, and growing).

A store written before the bands were is indexed once, on its first ingest (`ensure_bands`); the change
log's collection records that it was, so later ingests skip the check.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ingest.stories import THRESHOLD, Stories, band_keys, choose_story, decode, encode, signature, similarity
from rag.text import chunk_body

SIGNATURE = "minhash"  # the metadata field of an article's first chunk that holds its story signature
BANDED = "stories"  # the change log's metadata key saying every stored article has its bands
BANDED_VALUE = "lsh-v1"
PAGE = 5000


def story_fields(sig: np.ndarray) -> dict[str, str]:
    """What an article's first chunk stores for story grouping: its signature and its bands."""
    return {SIGNATURE: encode(sig), **band_keys(sig)}


class Match(NamedTuple):
    similarity: float
    doc_id: str
    story_id: str
    stored: dict | None  # the stored first chunk's metadata; None for an article of this run


class StoryIndex:
    """Story assignment for one ingest: the store's articles found by band, this run's kept in memory."""

    def __init__(self, collection):
        self.collection = collection
        self.run = Stories()  # the articles assigned in this run (their stored versions may be older)

    def matches(self, sig: np.ndarray, exclude: str = "") -> list[Match]:
        """The articles at or above THRESHOLD, best first."""
        found = {
            d: Match(s, d, self.run.story_of[d], None) for s, d in self.run.matches(sig, exclude=exclude)
        }
        bands = [{k: v} for k, v in band_keys(sig).items()]
        got = self.collection.get(where={"$and": [{"chunk_index": 0}, {"$or": bands}]}, include=["metadatas"])
        for meta in got["metadatas"]:
            doc_id = meta.get("doc_id") or ""
            other = decode(str(meta.get(SIGNATURE) or ""))
            if doc_id == exclude or doc_id in self.run.signatures or other is None:
                continue  # an article of this run is matched in its new version
            sim = similarity(sig, other)
            if sim >= THRESHOLD:
                found[doc_id] = Match(sim, doc_id, meta.get("story_id") or doc_id, meta)
        return sorted(found.values(), key=lambda m: (-m.similarity, m.story_id, m.doc_id))

    def assign(
        self, doc_id: str, text: str, before: str | None = None
    ) -> tuple[str, np.ndarray, list[Match]]:
        """The story of this article (that of the article it most nearly duplicates, else its own), its
        signature, and the articles it matched. An article that still matches its old story (`before`) keeps
        it."""
        sig = signature(text)
        found = self.matches(sig, exclude=doc_id)
        story = choose_story(doc_id, [m.story_id for m in found], before)
        self.run.add(doc_id, sig, story)
        return story, sig, found


def ensure_bands(collection, log) -> None:
    """Give every stored article's first chunk its signature and bands, once per store (flagged on `log`,
    the change log collection). An article stored before signatures were has it computed from its chunks."""
    if (log.metadata or {}).get(BANDED) == BANDED_VALUE:
        return
    total = collection.count()
    missing_sig: dict[str, str] = {}  # doc_id -> id of its first chunk
    for offset in range(0, total, PAGE):
        got = collection.get(where={"chunk_index": 0}, include=["metadatas"], limit=PAGE, offset=offset)
        ids, updates = [], []
        for cid, meta in zip(got["ids"], got["metadatas"]):
            sig = decode(str(meta.get(SIGNATURE) or ""))
            if sig is None:
                missing_sig[meta.get("doc_id") or ""] = cid
            elif "lsh_0" not in meta:
                ids.append(cid)
                updates.append(band_keys(sig))
        if ids:
            collection.update(ids=ids, metadatas=updates)
        if len(got["ids"]) < PAGE:
            break
    if missing_sig:  # read their chunks once, in pages
        pieces: dict[str, list[tuple[int, str]]] = {d: [] for d in missing_sig}
        for offset in range(0, total, PAGE):
            got = collection.get(include=["documents", "metadatas"], limit=PAGE, offset=offset)
            for meta, text in zip(got["metadatas"], got["documents"]):
                if meta.get("doc_id") in pieces:
                    pieces[meta["doc_id"]].append((meta.get("chunk_index", 0), chunk_body(text)))
        ids = list(missing_sig.values())
        fields = [story_fields(signature(" ".join(t for _, t in sorted(pieces[d])))) for d in missing_sig]
        for i in range(0, len(ids), PAGE):
            collection.update(ids=ids[i : i + PAGE], metadatas=fields[i : i + PAGE])
    mark_banded(log)


def mark_banded(log) -> None:
    log.modify(metadata={**(log.metadata or {}), BANDED: BANDED_VALUE})
