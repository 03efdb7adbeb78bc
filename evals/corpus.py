"""Isolated, cached indexes for eval corpora: one data dir per (corpus content, ingest settings).

Ingest skips an article whose content hash is unchanged, even when the chunker has changed, so
an eval index is keyed explicitly on everything that shapes its chunks and vectors: the corpus
bytes, chunk_tokens, chunk_overlap, the embedding backend (and model) and the chunker's source.
A second run with the same key reuses the index without reading the corpus again.
"""

from __future__ import annotations

import hashlib
import inspect
import json
from collections.abc import Callable
from pathlib import Path

from rag.settings import Settings

MARKER = "eval-index.json"


def _files(paths: list[Path]) -> list[Path]:
    out: list[Path] = []
    for path in paths:
        out += sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return out


def corpus_sha256(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in _files(paths):
        digest.update(path.name.encode() + b"\x00")
        digest.update(path.read_bytes())
        digest.update(b"\x00")
    return digest.hexdigest()


def _chunker_sha256() -> str:
    import ingest.chunking

    return hashlib.sha256(inspect.getsource(ingest.chunking).encode()).hexdigest()[:16]


def cache_key(paths: list[Path], settings: Settings) -> dict:
    """Everything that decides the stored chunks and their vectors."""
    return {
        "corpus_sha256": corpus_sha256(paths),
        "chunk_tokens": settings.chunk_tokens,
        "chunk_overlap": settings.chunk_overlap,
        "embeddings": settings.embeddings,
        "embedding_model": settings.openai_embedding_model if settings.embeddings == "openai" else "default",
        "chunker_sha256": _chunker_sha256(),
    }


def key_id(key: dict) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def prepare(
    name: str,
    paths: list[Path],
    settings: Settings,
    data_dir: Path | None = None,
    progress: Callable[[int, int], None] | None = None,
):
    """An Assistant over its own index of `paths` (built once per cache key). Returns (assistant, info)."""
    from rag.assistant import Assistant
    from rag.errors import ConfigError, NewsragError

    key = cache_key(paths, settings)
    data_dir = Path(data_dir) if data_dir else Path(settings.data_dir) / "evals" / f"{name}-{key_id(key)}"
    marker = data_dir / MARKER
    stored = json.loads(marker.read_text()).get("key") if marker.exists() else None
    if stored is not None and stored != key:
        changed = ", ".join(k for k in key if stored.get(k) != key[k])
        raise ConfigError(
            f"{data_dir} holds an eval index built with another {changed}: "
            "give another --data-dir, or delete that folder"
        )
    cached = stored == key
    isolated = settings.model_copy(update={"data_dir": data_dir, "chroma_url": None, "collection": "news"})
    assistant = Assistant(isolated)
    ingest_s = 0.0
    if not cached:
        report = assistant.ingest(paths, progress=progress)
        if not report.ok:
            raise NewsragError(f"the {name} corpus did not ingest cleanly: {'; '.join(report.errors[:3])}")
        ingest_s = report.seconds
        marker.write_text(json.dumps({"key": key, "ingest": report.summary()}, indent=2))
    info = {
        "data_dir": str(data_dir),
        "cache_key": key,
        "cache_id": key_id(key),
        "cached": cached,
        "ingest_s": round(ingest_s, 2),
    }
    return assistant, info
