"""Token chunking (cl100k via tiktoken), sentence-aware, each chunk led by a short header."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from llama_index.core.schema import NodeRelationship, RelatedNodeInfo, TextNode

from ingest.article import Article


@lru_cache(maxsize=1)
def encoding():
    """cl100k_base, read offline from the copy llama-index-core ships."""
    import llama_index.core
    import tiktoken

    cache = Path(llama_index.core.__file__).parent / "_static" / "tiktoken_cache"
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(cache))
    return tiktoken.get_encoding("cl100k_base")


def count_tokens(text: str) -> int:
    return len(encoding().encode(text, disallowed_special=()))


def header(article: Article) -> str:
    """Title, outlet and date: part of every chunk's text, so both retrievers see them."""
    meta = " | ".join(p for p in (article.source, article.published_iso[:10]) if p)
    return f"{article.title}\n{meta}\n\n" if meta else f"{article.title}\n\n"


def chunk_article(article: Article, chunk_tokens: int = 256, overlap: int = 16) -> list[TextNode]:
    """Split the body so that header + body fits in `chunk_tokens`; ids are `<doc_id>:<index>`."""
    from llama_index.core.node_parser import SentenceSplitter

    head = header(article)
    budget = chunk_tokens - count_tokens(head)
    if budget < 32:  # absurdly long title: keep it, but shortened
        head = article.title[:200] + "\n\n"
        budget = max(32, chunk_tokens - count_tokens(head))
    splitter = SentenceSplitter(
        chunk_size=budget,
        chunk_overlap=min(overlap, budget // 4),
        tokenizer=lambda t: encoding().encode(t, disallowed_special=()),
        paragraph_separator="\n\n",
    )
    pieces = [p for p in splitter.split_text(article.text) if p.strip()] or [article.title]
    base = article.metadata()
    nodes = []
    for i, piece in enumerate(pieces):
        metadata = dict(base, chunk_index=i, n_chunks=len(pieces))
        nodes.append(
            TextNode(
                id_=f"{article.doc_id}:{i:04d}",
                text=head + piece,
                metadata=metadata,
                relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=article.doc_id)},
            )
        )
    return nodes
