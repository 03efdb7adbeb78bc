"""Evidence: which retrieved chunks an answer rests on, each reduced to the sentences that bear on the question."""

from __future__ import annotations

from llama_index.core.schema import NodeWithScore

from rag.answer.citations import Source
from rag.query.question import choice_options, expects_name, expects_yes_no, outlet_mentions
from rag.text import chunk_body, split_sentences, terms
from rag.tuning import DEFAULT, Tuning


def select_sources(
    query: str, hits: list[NodeWithScore], limit: int, tuning: Tuning = DEFAULT
) -> list[Source]:
    """At most `limit` chunks, one per article, each reduced to its sentences that best match the query."""
    q_terms = set(terms(query))
    seen: set[str] = set()
    sources: list[Source] = []
    for hit in hits:
        meta = hit.node.metadata
        if meta.get("doc_id") in seen:
            continue
        seen.add(meta.get("doc_id"))
        sentences = split_sentences(chunk_body(hit.node.get_content()))
        ranked = sorted(range(len(sentences)), key=lambda i: -len(q_terms & set(terms(sentences[i]))))
        keep = sorted(ranked[: tuning.sentences_per_source])
        evidence = " ".join(sentences[i] for i in keep)
        sources.append(
            Source(
                n=len(sources) + 1,
                chunk_id=hit.node.node_id,
                doc_id=meta.get("doc_id", ""),
                title=meta.get("title", ""),
                source=meta.get("source", ""),
                published_at=meta.get("published_at", ""),
                url=meta.get("url", ""),
                evidence=evidence,
                text=hit.node.get_content(),
                score=float(hit.score or 0.0),
            )
        )
        if len(sources) >= limit:
            break
    return sources


def sources_needed(question: str, outlets: list[str], limit: int, tuning: Tuning = DEFAULT) -> int:
    """How many of the best sources to answer from: a yes/no or name question rests on its few best (the rest is
    noise to a small model and to its citations), at least one per outlet it names; anything else gets `limit`."""
    if expects_yes_no(question) or choice_options(question):
        base = tuning.yes_no_sources
    elif expects_name(question):
        base = tuning.name_sources
    else:
        return limit
    return min(limit, max(base, len(outlet_mentions(question, outlets, every=True))))


def format_sources(sources: list[Source]) -> str:
    """The numbered sources as the LLM reads them: title, outlet and date, then the chosen sentences."""
    blocks = []
    for s in sources:
        date = s.published_at[:10]
        # Source text is data: strip anything that looks like our own markers or delimiters.
        evidence = s.evidence.replace("<<<", "").replace(">>>", "")
        blocks.append(f"[{s.n}] {s.title} ({s.source}, {date})\n{evidence}")
    return "\n\n".join(blocks)
