"""From retrieved chunks to an answer: evidence selection, answerability, prompting, extraction."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from llama_index.core.schema import NodeWithScore

from rag.citations import Citation, Source, place_markers, strip_markers
from rag.prompts import render
from rag.question import (
    choice_options,
    expects_name,
    expects_yes_no,
    outlet_mentions,
    outlets_named,
    unknown_publications,
)
from rag.text import CALENDAR, chunk_body, numbers, overlap, split_sentences, terms

NO_ANSWER = "Insufficient information: the sources do not say."
SENTENCES_PER_SOURCE = 2
# Calibrated on MultiHop-RAG dev (then 67 of 71 null questions refused, 20 of 529 answerable ones; now 69, 3):
COVERAGE = 0.4  # share of the question's key terms the evidence must hold before the LLM is asked
SLACK_FROM = 4  # a question naming fewer names than this may miss none of them
MISSING_NAMES = 0.34  # otherwise this share of its names may be absent from the evidence


@dataclass
class Answer:
    question: str
    query: str
    text: str
    citations: list[Citation] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    answered: bool = True
    note: str = ""  # why there is no answer, when there is none
    yes_margin: float | None = None  # log P(yes) - log P(no), when a yes/no verdict decided the answer
    choice_margin: float | None = None  # log P(first option) - log P(second), when the question offered two
    filters: str = "none"
    timings: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"question": self.question, "query": self.query, "answer": self.text, "answered": self.answered, "note": self.note,
                "yes_margin": self.yes_margin, "choice_margin": self.choice_margin,
                "citations": [c.to_dict() for c in self.citations],
                "sources": [s.to_dict() for s in self.sources], "filters": self.filters,
                "timings": {k: round(v, 4) for k, v in self.timings.items()}}


def select_sources(query: str, hits: list[NodeWithScore], limit: int) -> list[Source]:
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
        keep = sorted(ranked[:SENTENCES_PER_SOURCE])
        evidence = " ".join(sentences[i] for i in keep)
        sources.append(Source(n=len(sources) + 1, chunk_id=hit.node.node_id, doc_id=meta.get("doc_id", ""),
                              title=meta.get("title", ""), source=meta.get("source", ""),
                              published_at=meta.get("published_at", ""), url=meta.get("url", ""),
                              evidence=evidence, text=hit.node.get_content(), score=float(hit.score or 0.0)))
        if len(sources) >= limit:
            break
    return sources


# How many sources a question's answer rests on (at least; more when it names more outlets). On MultiHop-RAG
# dev, for yes/no questions sources 1-2 hold evidence 85% and 82% of the time, sources 3-4 only 28% and 14%;
# for who/which questions 79%, 65%, 49%, 30%. The rest is noise to a small model and to its citations.
YES_NO_SOURCES = 2
NAME_SOURCES = 3


def sources_needed(question: str, outlets: list[str], limit: int) -> int:
    """How many of the best sources to answer from: a yes/no question weighs two accounts, a name question
    three, each outlet it names (every time it names one) one; anything else gets `limit`."""
    if expects_yes_no(question) or choice_options(question):
        base = YES_NO_SOURCES
    elif expects_name(question):
        base = NAME_SOURCES
    else:
        return limit
    return min(limit, max(base, len(outlet_mentions(question, outlets, every=True))))


def held_terms(texts: list[str]) -> set[str]:
    """Every key term the texts hold (chunk texts: titles and outlets included)."""
    found: set[str] = set()
    for text in texts:
        found |= set(terms(text))
    return found


def coverage(question: str, found: set[str]) -> float:
    """Share of the question's key terms among `found` (see `held_terms`)."""
    return overlap(terms(question), found)


_CAPITAL = re.compile(r"(?<![\w'’])([A-Z][\w'’&.-]*(?:\s+(?:of\s+|the\s+|de\s+)?[A-Z][\w'’&.-]*)*)")
_POSSESSIVE = re.compile(r"['’]s?$")


def named_entities(question: str) -> list[str]:
    """Capitalised names in the question (not its first word, not months or days), each once, without a
    possessive ("Sam Altman's" is "Sam Altman"): things it is about."""
    found: dict[str, str] = {}
    for match in _CAPITAL.finditer(question):
        if match.start() == 0 or question[:match.start()].rstrip().endswith((".", "?", "!", ":", '"')):
            words = match.group(1).split()
            if len(words) == 1:
                continue
            name = " ".join(words[1:])  # "What Apple…" -> skip the leading question word only
        else:
            name = match.group(1)
        name = _POSSESSIVE.sub("", name)
        if name.lower() not in CALENDAR and terms(name):
            found.setdefault(name.lower(), name)
    return list(found.values())


def unanswerable_reason(question: str, sources: list[Source], outlets: list[str],
                        retrieved: list[str] = ()) -> str | None:
    """Why the sources cannot answer, or None. Decided from the evidence: a model this small cannot tell.
    The question's names and terms are looked for in the sources and the rest of what was `retrieved` (chunk
    texts): what the results hold is what the index covers, even when the best sources for the rest of the
    question do not. On MultiHop-RAG dev, against looking in the sources only: unanswerable questions refused
    68 -> 69 of 71 (names counted once), answerable ones 16 -> 3 of 529."""
    if not sources:
        return "No article matches the question."
    unknown = unknown_publications(question, outlets)
    if unknown:
        return "The index holds no articles from " + ", ".join(unknown) + "."
    found = held_terms(list(dict.fromkeys([s.text for s in sources] + list(retrieved))))  # sources are retrieved too
    names = named_entities(question)
    missing = [name for name in names if not set(terms(name)) <= found]
    if missing and (len(names) < SLACK_FROM or len(missing) > MISSING_NAMES * len(names)):
        return "The sources found never mention " + ", ".join(missing) + "."
    if coverage(question, found) < COVERAGE:
        return "The sources found cover too little of the question."
    return None


def format_sources(sources: list[Source]) -> str:
    blocks = []
    for s in sources:
        date = s.published_at[:10]
        # Source text is data: strip anything that looks like our own markers or delimiters.
        evidence = s.evidence.replace("<<<", "").replace(">>>", "")
        blocks.append(f"[{s.n}] {s.title} ({s.source}, {date})\n{evidence}")
    return "\n\n".join(blocks)


YES_NO = "Answer from the sources above: begin with Yes or No, then one sentence citing the sources by number."
OPEN = ("Answer from the sources above: begin with the name, number or date asked for, then one sentence citing "
        "the sources by number.")


CHOICE = "Answer from the sources above: begin with {a} or {b}, then one sentence citing the sources by number."
NAME = "Answer from the sources above with only the name, number or date asked for, in a few words."
NAME_TOKENS = 24  # a name, not a paragraph


def messages(question: str, sources: list[Source]) -> list[dict[str, str]]:
    options = choice_options(question)
    instruction = (CHOICE.format(a=options[0].capitalize(), b=options[1]) if options else YES_NO
                   if expects_yes_no(question) else NAME if expects_name(question) else OPEN)
    return [{"role": "system", "content": render("system")},
            {"role": "user", "content": render("answer", sources=format_sources(sources), question=question,
                                               instruction=instruction)}]


def extractive(question: str, sources: list[Source], max_sentences: int = 2, outlets: list[str] = ()) -> str:
    """No LLM: the sentences that best match the question, from different sources, each cited.
    With `outlets` (those the question names), each of them gets its best sentence first."""
    q_terms = set(terms(question))
    outlet_of = {s.n: s.source for s in sources}
    scored = []
    for s in sources:
        for sentence in split_sentences(s.evidence):
            hit = len(q_terms & set(terms(sentence)))
            if hit:
                scored.append((hit, -s.n, sentence, s.n))
    scored.sort(reverse=True)
    chosen: dict[int, str] = {}  # source number -> its sentence, in the order picked
    for outlet in outlets:
        best = next(((n, sentence) for _, _, sentence, n in scored if outlet_of[n] == outlet and n not in chosen),
                    None)
        if best:
            chosen[best[0]] = best[1]
    limit = max(max_sentences, len(chosen))
    for _, _, sentence, n in scored:
        if len(chosen) >= limit:
            break
        chosen.setdefault(n, sentence)
    picked = [place_markers(sentence.strip(), f"[{n}]") for n, sentence in chosen.items()]
    return " ".join(picked) if picked else NO_ANSWER


def verdict_answer(yes: bool, question: str, sources: list[Source], outlets: list[str]) -> str:
    """A yes/no verdict followed by the source sentences it rests on, each cited: nothing left to invent.
    Each outlet the question names (of the corpus's `outlets`) gets its own sentence."""
    return choice_answer("yes" if yes else "no", question, sources, outlets)


def choice_answer(option: str, question: str, sources: list[Source], outlets: list[str]) -> str:
    """The answer chosen ("Yes", "Consistent"), then the source sentences it rests on, each cited; each outlet
    the question names gets its own sentence."""
    evidence = extractive(question, sources, max_sentences=2, outlets=outlets_named(question, outlets)[:3])
    return _lead_and_quotes(option.capitalize(), evidence)


def _lead_and_quotes(lead: str, evidence: str) -> str:
    """"Lead [1][2]. Quote one [1]. Quote two [2].": the lead carries the markers of the quotes after it."""
    if evidence == NO_ANSWER:
        return f"{lead}."
    marks = "".join(dict.fromkeys(re.findall(r"\[\d+\]", evidence)))
    return f"{lead} {marks}. {evidence}"


def lead(reply: str) -> str:
    """The name a reply gives: its first line and sentence without markers (or "[Source 1]"-style ones), cut
    at a clause when long."""
    text = re.sub(r"\s*\[[^\]]*\]", "", strip_markers(reply)).split("\n")[0]
    text = re.split(r"(?<=[a-z0-9)%\"'”’])[.!?](?:\s|$)", text, maxsplit=1)[0].strip(" .,;:")
    if len(text.split()) > 12:
        text = re.split(r",|\s+(?:is|was|are|were|has|had|who|which)\s+", text, maxsplit=1)[0].strip(" .,;:")
    return text


def invented(name: str, sources: list[Source]) -> bool:
    """Whether a name answer holds a number, or most of a name, that no source holds."""
    everything = " ".join(src.text for src in sources)
    name_terms = set(terms(name))
    held = name_terms & set(terms(everything))
    return bool(numbers(name) - numbers(everything)) or bool(name_terms) and 2 * len(held) <= len(name_terms)


def named_answer(reply: str, question: str, sources: list[Source], outlets: list[str]) -> str:
    """The name the LLM gave, then the source sentences that mention it and match the question best, each
    cited; the best-matching sentences when none mentions it. Each outlet the question names comes first."""
    name = lead(reply)
    if not terms(name) or invented(name, sources):
        return NO_ANSWER  # a lone letter or word like "it" names nothing; an invented name: the sources do not say
    name_terms, q_terms = set(terms(name)), set(terms(question))
    named = outlets_named(question, outlets)[:3]
    need = max(1, len(name_terms) - (len(name_terms) >= 3))  # "Sam Bankman-Fried" may appear as "Bankman-Fried"
    scored = []
    for src in sources:
        for sentence in split_sentences(chunk_body(src.text)):
            got = set(terms(sentence))
            hits = len((q_terms - name_terms) & got)
            if len(name_terms & got) >= need and hits >= 2:
                scored.append((src.source not in named, -len(name_terms & got), -hits, src.n, sentence))
    scored.sort()
    chosen: dict[int, str] = {}
    for *_, n, sentence in scored:
        if len(chosen) >= max(2, len(named)):
            break
        chosen.setdefault(n, sentence)
    if chosen:
        evidence = " ".join(place_markers(sentence.strip(), f"[{n}]") for n, sentence in chosen.items())
    else:
        evidence = extractive(question, sources, max_sentences=2, outlets=named)
    return _lead_and_quotes(name, evidence)


def is_no_answer(text: str) -> bool:
    lowered = text.lower()
    return not lowered.strip() or any(p in lowered for p in (
        "sources do not say", "sources don't say", "do not contain", "does not contain", "not mentioned",
        "no information", "not enough information", "insufficient information", "cannot answer", "can't answer",
        "cannot be determined", "not provided"))


def rewrite_messages(question: str, history: list[dict[str, str]]) -> list[dict[str, str]]:
    lines = [f"{turn['role']}: {turn['content'][:400]}" for turn in history[-6:]]
    return [{"role": "user", "content": render("rewrite", history="\n".join(lines), question=question)}]


def heuristic_rewrite(question: str, history: list[dict[str, str]]) -> str:
    """Without an LLM: carry the previous question's terms into a follow-up."""
    previous = next((t["content"] for t in reversed(history) if t.get("role") == "user"), "")
    return f"{previous} {question}".strip() if previous else question
