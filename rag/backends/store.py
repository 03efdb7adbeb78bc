"""Chroma: the embedded store under data_dir, or a Chroma server when NEWSRAG_CHROMA_URL is set.

The manifest of what was ingested is read from the chunks themselves (each carries its article's
metadata, content hash and chunk count), so index and manifest cannot disagree.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

from rag.errors import ConfigError, NewsragError
from rag.settings import Settings

ARTICLE_FIELDS = (
    "doc_id",
    "title",
    "source",
    "author",
    "published_at",
    "published_ts",
    "url",
    "category",
    "content_hash",
    "story_id",
)


def open_client(settings: Settings):
    """The Chroma client: of the server at `chroma_url`, else of the store under data_dir."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_url:
        url = urlsplit(settings.chroma_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ConfigError(f"NEWSRAG_CHROMA_URL={settings.chroma_url!r} is not an http(s)://host:port URL")
        try:
            client = chromadb.HttpClient(
                host=url.hostname,
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
            client.heartbeat()
        except Exception as exc:  # noqa: BLE001 - chromadb raises many kinds for an unreachable server
            raise NewsragError(
                f"cannot reach the Chroma server at {settings.chroma_url} ({type(exc).__name__}); "
                "start it with `chroma run --path DIR` or unset NEWSRAG_CHROMA_URL"
            ) from None
    else:
        path = Path(settings.data_dir) / "chroma"
        path.mkdir(parents=True, exist_ok=True)
        client = chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    return client


def open_collection(settings: Settings, embedder_name: str):
    client = open_client(settings)
    name = settings.collection
    if not 3 <= len(name) <= 512:
        raise ConfigError(f"collection name {name!r} must be 3-512 characters (NEWSRAG_COLLECTION)")
    collection = client.get_or_create_collection(
        name, metadata={"hnsw:space": "cosine", "embedder": embedder_name}
    )
    stored = (collection.metadata or {}).get("embedder")
    if stored and stored != embedder_name:
        raise ConfigError(
            f"the index {name!r} was built with embeddings {stored!r}, but {embedder_name!r} is "
            "configured: use the same NEWSRAG_EMBEDDINGS, or another NEWSRAG_COLLECTION"
        )
    return collection


@dataclass
class ManifestEntry:
    metadata: dict
    chunks_found: int = 0
    hashes: set = field(default_factory=set)

    @property
    def complete(self) -> bool:
        """All chunks of one version are stored (a killed ingest can leave less)."""
        return len(self.hashes) == 1 and self.chunks_found == self.metadata.get("n_chunks")


def manifest(collection, doc_ids: list[str] | None = None) -> dict[str, ManifestEntry]:
    """doc_id -> the article's metadata and how many of its chunks are stored: of every article, or only of
    `doc_ids` (read by id, so an ingest of a few articles costs what they cost, not what the store holds)."""
    entries: dict[str, ManifestEntry] = {}
    if doc_ids is not None:
        pages = (
            collection.get(where={"doc_id": {"$in": doc_ids[i : i + 500]}}, include=["metadatas"])
            for i in range(0, len(doc_ids), 500)
        )
    else:
        total = collection.count()
        pages = (
            collection.get(include=["metadatas"], limit=5000, offset=offset)
            for offset in range(0, total, 5000)
        )
    for got in pages:
        for meta in got["metadatas"]:
            doc_id = meta.get("doc_id")
            entry = entries.get(doc_id)
            if entry is None:
                entries[doc_id] = entry = ManifestEntry(
                    {k: meta.get(k) for k in ARTICLE_FIELDS + ("n_chunks",)}
                )
            entry.chunks_found += 1
            entry.hashes.add(meta.get("content_hash"))
    return entries


def all_chunks(
    collection, where: dict | None = None, vectors: bool = True
) -> tuple[list[str], list[str], list[dict], np.ndarray]:
    """Every stored chunk (or those matching `where`): ids, texts, metadata and, unless `vectors` is
    False, embeddings (float32 rows), in one order."""
    ids, docs, metas, vectors_found = [], [], [], []
    include = ["documents", "metadatas"] + (["embeddings"] if vectors else [])
    total = collection.count() if where is None else None
    offset = 0
    while total is None or offset < total:
        got = collection.get(where=where, include=include, limit=5000, offset=offset)
        offset += 5000
        ids += got["ids"]
        docs += got["documents"]
        metas += [
            {k: m.get(k) for k in ARTICLE_FIELDS + ("chunk_index", "n_chunks")} for m in got["metadatas"]
        ]
        if vectors and len(got["ids"]):
            vectors_found.append(np.asarray(got["embeddings"], dtype=np.float32))
        if total is None and len(got["ids"]) < 5000:
            break
    found = np.concatenate(vectors_found) if vectors_found else np.zeros((0, 0), dtype=np.float32)
    return ids, docs, metas, found


# -- the change log -----------------------------------------------------------------------------
# Every ingest and delete through `Assistant` appends one record naming what it touched (a Chroma
# `where`) to a small collection beside the chunks, so that each process holding an index in memory
# can bring it up to date by re-reading just that part of the store; the store itself has no change feed.


def change_log(settings: Settings):
    """The change log of the configured collection (created on first use), in the same store."""
    return open_client(settings).get_or_create_collection(f"{settings.collection}.changes")


def log_change(settings: Settings, where: dict) -> None:
    import uuid

    change_log(settings).add(
        ids=[uuid.uuid4().hex],
        embeddings=[[0.0]],
        metadatas=[{"ts": time.time(), "where": json.dumps(where, sort_keys=True)}],
    )


def changes_since(log, since: float) -> list[tuple[str, float, dict]]:
    """(id, time, where) of the records written at or after `since`, oldest first."""
    got = log.get(where={"ts": {"$gte": since}}, include=["metadatas"])
    records = [(i, m["ts"], json.loads(m["where"])) for i, m in zip(got["ids"], got["metadatas"])]
    return sorted(records, key=lambda r: r[1])
