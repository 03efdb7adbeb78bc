"""Chroma: the embedded store under data_dir, or a Chroma server when NEWSRAG_CHROMA_URL is set.

The manifest of what was ingested is read from the chunks themselves (each carries its article's
metadata, content hash and chunk count), so index and manifest cannot disagree.
"""

from __future__ import annotations

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
)


def open_collection(settings: Settings, embedder_name: str):
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


def manifest(collection) -> dict[str, ManifestEntry]:
    """doc_id -> the article's metadata and how many of its chunks are stored."""
    entries: dict[str, ManifestEntry] = {}
    total = collection.count()
    for offset in range(0, total, 5000):
        got = collection.get(include=["metadatas"], limit=5000, offset=offset)
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


def all_chunks(collection) -> tuple[list[str], list[str], list[dict], np.ndarray]:
    """Every stored chunk: ids, texts, metadata and embeddings (float32 rows), in one order."""
    ids, docs, metas, vectors = [], [], [], []
    total = collection.count()
    for offset in range(0, total, 5000):
        got = collection.get(include=["documents", "metadatas", "embeddings"], limit=5000, offset=offset)
        ids += got["ids"]
        docs += got["documents"]
        metas += [
            {k: m.get(k) for k in ARTICLE_FIELDS + ("chunk_index", "n_chunks")} for m in got["metadatas"]
        ]
        if len(got["ids"]):
            vectors.append(np.asarray(got["embeddings"], dtype=np.float32))
    return ids, docs, metas, np.concatenate(vectors) if vectors else np.zeros((0, 0), dtype=np.float32)
