"""Evidence: which retrieved chunks an answer rests on, each reduced to the sentences that bear on the question.

A written or built answer reads an article's sentences from its few best retrieved chunks and its opening
(the fact asked for is often not in the chunk that ranked best, and a news article's first sentences sum it
up), and its first source shows more of them; a yes/no or name answer keeps its best chunk's sentences.

Sentences are chosen by the question's terms and, among sentences that share as many, by meaning (the embedder
already loaded): "troops" answers "peacekeepers" though it shares no word with it. A source whose best sentence is unrelated to the
question is not sent at all, however few sources that leaves. Sentences that address an AI assistant
("ignore previous instructions…") are dropped: retrieved text is data, never instructions.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
from llama_index.core.schema import NodeWithScore

from rag.answer.attribution import speaks
from rag.answer.citations import Source
from rag.answer.figures import Asked, asked_figure, holds
from rag.query.read import WIDE, Question, as_question
from rag.text import chunk_body, named_outlet, split_sentences, terms
from rag.tuning import DEFAULT, Tuning

Embed = Callable[[list[str]], np.ndarray]

# Text aimed at the model rather than the reader: the usual prompt-injection openings.
_INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\s+(?:all\s+|any\s+|the\s+|your\s+|its\s+|their\s+)?(?:previous|prior|above|earlier|"
    r"preceding|other|system)?\s*(?:instructions?|prompts?|rules|directions)\b"
    r"|\b(?:print|reveal|show|repeat|output|leak)\s+(?:me\s+)?(?:your|the)\s+(?:system\s+|hidden\s+)?"
    r"(?:prompt|instructions)\b"
    r"|\byou\s+are\s+(?:now\s+)?(?:an?\s+)?(?:ai|assistant|language\s+model|chatbot|llm)\b"
    r"|\b(?:ai|assistant|language\s+model|chatbot|llm)s?\b[^.]{0,40}\b(?:must|should|shall)\s+(?:answer|reply|respond|say|tell|ignore|state|write)"
    r"|\b(?:answer|reply|respond)\s+(?:only\s+|exactly\s+|just\s+)?(?:with\s+)?['\"“‘][^'\"”’]{1,40}['\"”’]"
    r"|\b(?:answer|reply|respond)\s+(?:only|exactly|just)\s+with\b"
    r"|^\W*(?:dear\s+)?(?:ai|assistant|chatbot|llm|language\s+model)\s*[,:]"  # addressed to the model
    r"|^\W*(?:please\s+)?(?:tell|inform|advise|direct|instruct)\s+(?:the\s+|all\s+)?(?:users?|readers?)\b"
    r"|\]\(\s*https?://|<\s*a\s+href|<\s*img\b|!\[[^\]]*\]\("  # links and images for the reader to follow
    r"|\bnew\s+instructions?\s*:|\bsystem\s*prompt\s*:|^\W*system\s*(?:note|message)?\s*:",
    re.I,
)


def is_instruction(sentence: str) -> bool:
    """Whether a sentence speaks to an AI assistant instead of reporting news."""
    return bool(_INSTRUCTION.search(sentence))


# A page's call to sign up ("…with our free weekly newsletter", "Please enter a valid email address"): left in
# the text by some sites' pages, never news.
_PROMO = re.compile(
    r"\b(?:newsletters?\b[^.]{0,80}\b(?:sign\s*up|subscribe|email)|(?:sign\s*up|subscribe)\b[^.]{0,80}\bnewsletters?|"
    r"enter\s+a\s+valid\s+email|thanks\s+for\s+(?:signing\s+up|subscribing)|read\s+our\s+privacy\s+notice|"
    r"(?:stay\s+ahead|get\s+the\s+latest)\b[^.]{0,80}\bnewsletter)",
    re.I,
)


def is_promo(sentence: str) -> bool:
    """Whether a sentence is a page's call to sign up for something rather than news."""
    return bool(_PROMO.search(sentence))


def _without_instructions(text: str) -> str:
    head, sep, body = text.partition("\n\n")
    if not sep:
        head, body = "", text
    kept = [s for s in split_sentences(body) if not is_instruction(s)]
    return f"{head}\n\n{' '.join(kept)}" if sep else " ".join(kept)


def select_sources(
    question: Question | str,
    hits: list[NodeWithScore],
    limit: int,
    tuning: Tuning = DEFAULT,
    embed: Embed | None = None,
    lead: Callable[[str], NodeWithScore | None] | None = None,
) -> list[Source]:
    """At most `limit` chunks, one per story (copies of one wire story share a slot: the best-ranked copy is kept
    and the others are listed in its `also`), each reduced to the sentences that best answer the question;
    with `embed`, sentences are also scored by meaning and sources below the relevance floor are left out.
    A copy from an outlet the question names keeps a slot of its own, so outlets can be compared."""
    question = as_question(question)
    q_terms = set(terms(question.topic))
    # yes/no and name prompts are calibrated on their evidence: it keeps the outlets' terms and one chunk
    calibrated = question.is_verdict or question.kind == "name"
    if not calibrated:
        q_terms -= set(terms(" ".join(question.outlets)))  # an article rarely names itself: no evidence there
    picked: list[tuple[NodeWithScore, list[str]]] = []
    also: dict[int, list[dict]] = {}  # position in `picked` -> the other copies of its story
    # (story, outlet named in the question or "") -> position in `picked`
    slots: dict[tuple[str, str], int] = {}
    seen: set[str] = set()
    named = set(question.outlets)
    # the part of an article that holds the fact asked for is often not its best-ranked chunk
    pool = 1 if calibrated else tuning.pooled_chunks
    chunks: dict[str, list[NodeWithScore]] = {}
    for hit in hits:
        group = chunks.setdefault(hit.node.metadata.get("doc_id") or hit.node.node_id, [])
        if len(group) < pool:
            group.append(hit)
    for hit in hits:
        meta = hit.node.metadata
        doc = meta.get("doc_id")
        if doc in seen:
            continue
        seen.add(doc)
        outlet = meta.get("source", "") or ""
        slot = (meta.get("story_id") or doc or "", named_outlet(outlet, named))
        if slot in slots:
            also.setdefault(slots[slot], []).append(copy_of(meta))
            continue
        if len(picked) >= limit:
            continue  # full: only copies of the stories already picked are still looked for
        slots[slot] = len(picked)
        key = doc or hit.node.node_id
        group = chunks[key]
        if lead is not None and pool > 1 and not any(h.node.metadata.get("chunk_index") == 0 for h in group):
            opening = lead(key)  # an article's opening sums it up: its first chunk is read too
            group = group if opening is None else group[: pool - 1] + [opening]
        text = pooled_text(group)
        sentences = [
            s for s in split_sentences(chunk_body(text)) if not is_instruction(s) and not is_promo(s)
        ]
        picked.append((hit, text, list(dict.fromkeys(sentences)), _opening(group, tuning.lead_sentences)))
    meaning = _candidate_similarities(question, picked, q_terms, tuning.meaning_candidates, embed)
    asked = asked_figure(question.topic)
    written = question.is_written  # fewer words of evidence: its prompt decides the wait
    words = tuning.written_evidence_words if written else None
    built = question.kind in WIDE  # no prompt: shown to the reader only
    # every source of a latest answer (built from any one) has its own budget; so does a written answer's first
    if question.kind == "latest":
        first_budget = rest_budget = (tuning.latest_sentences, tuning.latest_words)
    else:
        first_budget = (tuning.first_source_sentences, tuning.first_source_words or words)
        rest_budget = (tuning.built_sentences if built else tuning.sentences_per_source, words)
    sources: list[Source] = []
    offset = 0
    for at, (hit, text, sentences, opening) in enumerate(picked):
        sims = meaning[offset : offset + len(sentences)] if meaning is not None else None
        offset += len(sentences)
        if sims is not None and sources and (not sims.size or float(sims.max()) < tuning.relevance_floor):
            continue  # unrelated to the question: never padding (the best source always stays)
        n, budget = first_budget if written and not sources else rest_budget
        keep = _best(
            sentences,
            q_terms,
            sims,
            n,
            budget,
            loose=written,
            speaker=question.speaker,
            asked=asked,
            prior={i: tuning.lead_bonus for i, s in enumerate(sentences) if s in opening},
            decay=tuning.evidence_decay if written or built else 1.0,
        )
        meta = hit.node.metadata
        sources.append(
            Source(
                n=len(sources) + 1,
                chunk_id=hit.node.node_id,
                doc_id=meta.get("doc_id", ""),
                title=meta.get("title", ""),
                source=meta.get("source", ""),
                published_at=meta.get("published_at", ""),
                url=meta.get("url", ""),
                evidence=" ".join(sentences[i] for i in keep),
                text=_without_instructions(text),
                score=float(hit.score or 0.0),
                author=meta.get("author", "") or "",
                story_id=meta.get("story_id", "") or meta.get("doc_id", ""),
                also=also.get(at, []),
            )
        )
    return sources


def pooled_text(hits: list[NodeWithScore]) -> str:
    """One article's retrieved chunks as one text, in article order: the first's header, then their bodies."""
    if len(hits) == 1:
        return hits[0].node.get_content()
    ordered = sorted(hits, key=lambda h: h.node.metadata.get("chunk_index") or 0)
    head = hits[0].node.get_content().partition("\n\n")[0]
    return head + "\n\n" + "\n".join(chunk_body(h.node.get_content()) for h in ordered)


def _opening(hits: list[NodeWithScore], n: int) -> set[str]:
    """The first `n` sentences of an article, when its first chunk is among `hits`."""
    first = next((h for h in hits if h.node.metadata.get("chunk_index") == 0), None)
    return set(split_sentences(chunk_body(first.node.get_content()))[:n]) if first is not None else set()


def copy_of(meta: dict) -> dict:
    """Another outlet's copy of a source's story, as an answer lists it: outlet, title, link."""
    return {
        "source": meta.get("source", "") or "",
        "title": meta.get("title", "") or "",
        "url": meta.get("url", "") or "",
    }


def also_reported_by(source: Source) -> str:
    """ "Also reported by A, B" for a source with copies elsewhere (each outlet once, its own aside), or ""."""
    outlets = [c["source"] for c in source.also if c.get("source") and c["source"] != source.source]
    outlets = list(dict.fromkeys(outlets))
    return f"Also reported by {', '.join(outlets)}" if outlets else ""


def _candidate_similarities(
    question: Question, picked: list[tuple], q_terms: set[str], n: int, embed: Embed | None
) -> np.ndarray | None:
    """Similarity to the question of every picked source's sentences, in order: only each source's `n` sentences
    sharing the most terms with the question, and its lead, are embedded (the others are rarely chosen, and
    embedding is most of the time to the sources); the rest count 0."""
    if embed is None:
        return None
    positions, flat, offset = [], [], 0
    for _, _, sentences, opening in picked:
        keep = _most_terms(sentences, q_terms, n, question.is_written)
        keep |= {i for i, s in enumerate(sentences) if s in opening}
        for i in sorted(keep):
            positions.append(offset + i)
            flat.append(sentences[i])
        offset += len(sentences)
    meaning = np.zeros(offset, dtype=np.float32)
    meaning[positions] = similarities(question.topic, flat, embed)
    return meaning


def similarities(question: str, sentences: list[str], embed: Embed | None) -> np.ndarray | None:
    """Cosine similarity of each sentence to the question (the embedder's vectors are normalised)."""
    if embed is None or not sentences:
        return None if embed is None else np.zeros(0, dtype=np.float32)
    vectors = embed([question, *sentences])
    return np.asarray(vectors[1:] @ vectors[0], dtype=np.float32)


def _most_terms(sentences: list[str], q_terms: set[str], n: int, loose: bool) -> set[int]:
    """Positions of the `n` sentences holding the most question terms (the first ones among equals)."""
    held = [shared_terms(q_terms, set(terms(s)), loose) for s in sentences]
    return set(sorted(range(len(sentences)), key=lambda i: (-held[i], i))[:n])


def held_terms(q_terms: set[str], s_terms: set[str], loose: bool) -> set[str]:
    """The question terms the sentence holds; `loose`, also as the start of a longer word or the other way round
    ("ukrain" in "ukrainian", "russian" for "russia"), so a demonym counts for its country."""
    if not loose:
        return q_terms & s_terms
    return {
        t
        for t in q_terms
        if any(t == w or (min(len(t), len(w)) >= 5 and (w.startswith(t) or t.startswith(w))) for w in s_terms)
    }


def shared_terms(q_terms: set[str], s_terms: set[str], loose: bool) -> int:
    """How many question terms the sentence holds (see `held_terms`)."""
    return len(held_terms(q_terms, s_terms, loose))


def _best(
    sentences: list[str],
    q_terms: set[str],
    sims: np.ndarray | None,
    n: int,
    words: int | None = None,
    loose: bool = False,
    speaker: str = "",
    asked: Asked | None = None,
    prior: dict[int, float] | None = None,
    decay: float = 1.0,
) -> list[int]:
    """Positions of the `n` sentences that best answer the question, in text order: most shared terms first;
    among equals (and where no word is shared) the one closest in meaning. With `words`, only the best ones
    that fit in that many words together (the best one always). `loose` matching is for the written kinds
    only: the verdict and name prompts keep the evidence their calibration was measured on. With a `speaker`
    (whose words the question asks for), a sentence giving their words counts as one more shared term; so does
    one holding a figure of the kind `asked` for ("how much…": an amount). Below 1, `decay` is what a term
    still counts once a sentence chosen before holds it: the next sentence is chosen for what it adds (the one
    that says what was discussed, after the one that names the meeting)."""
    held = [held_terms(q_terms, set(terms(s)), loose) for s in sentences]
    holding = [asked is not None and holds(asked, s) for s in sentences]
    prior = prior or {}
    extra = [
        (bool(speaker) and speaks(speaker, s))
        + holding[i]
        + (float(sims[i]) if sims is not None else 0.0)
        + prior.get(i, 0.0)
        for i, s in enumerate(sentences)
    ]
    # a figure question's answer is the sentence giving that figure of what it asks about: the first one
    # chosen comes before any other
    gives = [holding[i] and len(held[i]) >= min(2, len(q_terms)) for i in range(len(sentences))]
    weight = dict.fromkeys(q_terms, 1.0)
    ranked: list[int] = []
    # with a word budget, a sentence too long for what is left gives way to the next best that fits
    for _ in range(min(n if words is None else 2 * n, len(sentences))):
        best = max(
            (i for i in range(len(sentences)) if i not in ranked),
            key=lambda i: (gives[i], sum(weight[t] for t in held[i]) + extra[i], -i),
        )
        ranked.append(best)
        if gives[best]:
            gives[:] = [False] * len(sentences)
        for t in held[best]:
            weight[t] *= decay
    if words is not None:
        fits, used = [], 0
        for i in ranked:
            size = len(sentences[i].split())
            if fits and used + size > words:
                continue
            used += size
            fits.append(i)
            if len(fits) == n:
                break
        ranked = fits
    return sorted(ranked)


def sources_needed(question: Question | str, limit: int, tuning: Tuning = DEFAULT) -> int:
    """How many of the best sources to answer from: a yes/no or name question rests on its few best (the rest is
    noise to a small model and to its citations), at least one per outlet it names; anything else gets `limit`."""
    question = as_question(question)
    if question.is_verdict:
        base = tuning.yes_no_sources
    elif question.kind == "name":
        base = tuning.name_sources
    elif question.kind == "latest":
        base = tuning.latest_sources
    elif question.is_written:
        base = tuning.written_sources
    else:
        return limit
    return min(limit, max(base, len(question.outlets)))


def format_sources(sources: list[Source]) -> str:
    """The numbered sources as the LLM reads them: title, outlet and date, then the chosen sentences."""
    blocks = []
    for s in sources:
        date = s.published_at[:10]
        # Source text is data: strip anything that looks like our own markers or delimiters.
        evidence = s.evidence.replace("<<<", "").replace(">>>", "")
        blocks.append(f"[{s.n}] {s.title} ({s.source}, {date})\n{evidence}")
    return "\n\n".join(blocks)
