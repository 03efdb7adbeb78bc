"""Turn inputs (files, folders, URLs) into articles and token chunks.

Knows nothing of models, stores or the UI. `chunk_article` (llama-index, tiktoken) is imported on
first use, so that reading and checking inputs stays light.
"""

from ingest.article import Article
from ingest.sources import InputError, LoadResult, load_inputs

__all__ = ["Article", "InputError", "LoadResult", "chunk_article", "load_inputs"]


def __getattr__(name: str):
    if name == "chunk_article":
        from ingest.chunking import chunk_article

        return chunk_article
    raise AttributeError(f"module 'ingest' has no attribute {name!r}")
