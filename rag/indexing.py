"""Ingest: load, diff against the manifest, chunk, embed, write. Idempotent and safe to kill.

Each article's chunks are written in one Chroma `add` after its old chunks are deleted, and the
manifest is derived from the stored chunks, so a re-run after a crash finds every article either
complete (unchanged) or incomplete/missing (re-written): never duplicated.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ingest import Article, chunk_article, load_inputs
from rag.backends.store import manifest
from rag.settings import Settings

EMBED_BATCH = 64


@dataclass
class IngestReport:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    chunks_embedded: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)  # one line each: "<file>: <reason>"
    doc_ids: list[str] = field(default_factory=list)  # every article seen in this run

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def summary(self) -> str:
        return (
            f"{self.new} new, {self.updated} updated, {self.unchanged} unchanged, {self.failed} failed "
            f"articles; {self.chunks_embedded} chunks embedded in {self.seconds:.1f} s"
        )

    def to_dict(self) -> dict:
        """The counts, and each failure as the input it names and the reason."""
        failures = []
        for line in self.errors:
            origin, sep, reason = line.partition(": ")
            failures.append({"input": origin, "reason": reason} if sep else {"input": "", "reason": line})
        return {
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "chunks_embedded": self.chunks_embedded,
            "seconds": round(self.seconds, 3),
            "errors": failures,
        }


Progress = Callable[[int, int], None]  # (done, total) articles written


def ingest(
    inputs: Iterable[str | Path],
    collection,
    embedder,
    settings: Settings,
    progress: Progress | None = None,
    allow_private: bool = False,
) -> IngestReport:
    """Load, chunk, embed and store; `allow_private` lets URLs on loopback and private addresses be fetched."""
    from llama_index.vector_stores.chroma import ChromaVectorStore

    started = time.perf_counter()
    report = IngestReport()
    articles: dict[str, Article] = {}
    max_bytes = int(settings.max_file_mb * 1024 * 1024)
    for result in load_inputs(inputs, max_bytes=max_bytes, allow_private=allow_private):
        report.errors += [str(e) for e in result.errors]
        report.failed += len(result.errors)
        for article in result.articles:
            articles[article.doc_id] = article  # the same article twice in one run: the last wins
    report.doc_ids = list(articles)

    known = manifest(collection)
    todo: list[tuple[Article, bool]] = []
    for doc_id, article in articles.items():
        entry = known.get(doc_id)
        if entry and entry.complete and entry.metadata.get("content_hash") == article.content_hash:
            report.unchanged += 1
        else:
            todo.append((article, entry is not None))

    store = ChromaVectorStore(chroma_collection=collection)
    done = 0
    if progress:
        progress(0, len(todo))
    # Embed in batches across articles; write article by article so each write is all-or-nothing.
    batch: list[tuple[Article, bool, list]] = []
    pending = 0
    for i, (article, existed) in enumerate(todo):
        nodes = chunk_article(article, settings.chunk_tokens, settings.chunk_overlap)
        batch.append((article, existed, nodes))
        pending += len(nodes)
        if pending >= EMBED_BATCH or i == len(todo) - 1:
            flat = [n for _, _, ns in batch for n in ns]
            vectors = embedder.embed([n.text for n in flat])
            for node, vec in zip(flat, vectors):
                node.embedding = vec.tolist()
            for art, was_there, ns in batch:
                collection.delete(where={"doc_id": art.doc_id})
                store.add(ns)
                report.chunks_embedded += len(ns)
                if was_there:
                    report.updated += 1
                else:
                    report.new += 1
                done += 1
                if progress:
                    progress(done, len(todo))
            batch, pending = [], 0
    report.seconds = time.perf_counter() - started
    return report


def delete(collection, doc_id: str | None = None, url: str | None = None, source: str | None = None) -> int:
    """Remove every chunk of the matching articles; returns how many articles were removed."""
    from ingest.article import url_doc_id

    if doc_id:
        where = {"doc_id": doc_id}
    elif url:
        where = {"doc_id": url_doc_id(url)}
    elif source:
        where = {"source": source}
    else:
        raise ValueError("delete needs one of doc_id, url or source")
    got = collection.get(where=where, include=["metadatas"])
    removed = {m["doc_id"] for m in got["metadatas"]}
    if removed:
        collection.delete(where=where)
    return len(removed)
