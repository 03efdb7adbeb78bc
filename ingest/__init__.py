"""Turn inputs (files, folders, URLs) into articles and token chunks.

Knows nothing of models, stores or the UI.
"""

from ingest.article import Article
from ingest.chunking import chunk_article
from ingest.sources import InputError, LoadResult, load_inputs

__all__ = ["Article", "InputError", "LoadResult", "chunk_article", "load_inputs"]
