"""Check and place citations after generation.

Small models drop, invent and misplace [n] markers, so markers are treated as hints: every answer
sentence is matched against every source it could come from; a marker pointing at no source is
removed, a marker whose source does not support its sentence is moved to the source that does (or
kept and marked unverified when none does), and an uncited sentence gets the source that clearly
supports it.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from rag.query.read import Question, as_question
from rag.text import chunk_body, numbers, overlap, split_sentences, terms
from rag.tuning import DEFAULT, Tuning

_MARKERS = re.compile(r"\s*\[(\d+(?:\s*[,;]\s*\d+)*)\]")
_MARKER_END = re.compile(r"(?<=\])\s+(?=[\"'“‘(]?[A-Z])")
# A built line's label: "- 2025-03-02 (Harbour Post): " or "- Harbour Post (2025-03-05): ".
_LABEL = re.compile(r"^- (?:[^:\[\]\n]{1,120}?: )?")
# A sentence that only lists the sources ("Sources: [1][2].", "The sources are and [1][2]."): no claim to cite.
_SOURCES_WORD = re.compile(r"\b(?:sources?|references?|citations?)\b", re.I)
_LISTING_TERMS = {"see", "list", "abov", "below", "cite", "refer", "provid", "use", "mention", "given"}
_TRAILING = re.compile(r"([.!?][\"'”’)]*)((?:\s*\[\d+(?:\s*[,;]\s*\d+)*\])+)")


@dataclass
class Source:
    """A numbered source as shown to the LLM."""

    n: int
    chunk_id: str
    doc_id: str
    title: str
    source: str
    published_at: str
    url: str
    evidence: str  # the sentences shown to the model
    text: str  # the whole chunk, header included
    score: float
    author: str = ""
    story_id: str = ""  # the near-duplicate group it belongs to (ingest.stories)
    also: list[dict] = field(default_factory=list)  # other copies of its story: {"source", "title", "url"}

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Citation:
    n: int
    doc_id: str
    chunk_id: str
    title: str
    source: str
    published_at: str
    url: str
    quote: str
    verified: bool
    support: float
    author: str = ""
    also: list[dict] = field(
        default_factory=list
    )  # other outlets' copies of the story: {"source", "title", "url"}

    def to_dict(self) -> dict:
        return asdict(self)


# "According to [1], Kyncl…": a marker used as the sentence's subject goes with the words that point at it.
_CITED_LEAD = re.compile(
    r"^\s*(?:according\s+to|as\s+(?:stated|reported|mentioned|noted|said)\s+in|per)\s+(?:sources?\s*)?"
    r"(?:\[\d+(?:\s*[,;]\s*\d+)*\]\s*(?:and\s*)?)+,\s*",
    re.I,
)


def markers(text: str) -> list[int]:
    """The source numbers the text's markers cite, in order ("[1, 2]" cites two)."""
    return [int(x) for group in _MARKERS.findall(text) for x in re.split(r"[,;]", group)]


def strip_markers(text: str) -> str:
    """The text without its [n] markers."""
    lead = _CITED_LEAD.match(text)
    if lead:
        rest = text[lead.end() :]
        text = rest[:1].upper() + rest[1:]
    return _MARKERS.sub("", text).strip()


def _claim_terms(sentence: str, question: str) -> list[str]:
    found = terms(sentence)
    # "Yes." or "Apple." alone: the claim is the question answered by that word.
    return found + terms(question) if len(set(found)) < 3 else found


def support(claim: str, question: str, source: Source) -> float:
    claim_terms = _claim_terms(claim, question)
    body = source.text + " " + source.evidence
    score = overlap(claim_terms, set(terms(body)))
    missing_numbers = numbers(claim) - numbers(body)
    return 0.0 if missing_numbers else score


def _short_claim(
    claim: str,
    question: str,
    sources: list[Source],
    valid: list[int],
    tuning: Tuning,
    options: tuple[str, str] | None,
) -> tuple[dict[int, float], list[tuple[int, bool]]]:
    """A bare answer is supported by the sources that contain it and match the question best."""
    own = set(terms(claim))
    if options:  # "Consistent.": a verdict between the question's own two answers, like "Yes.", not a fact
        own -= set(terms(" ".join(options)))
    asked = terms(question)
    scores: dict[int, float] = {}
    eligible = []
    bodies = {src.n: set(terms(src.text + " " + src.evidence)) for src in sources}
    for src in sources:
        body = bodies[src.n]
        scores[src.n] = (
            overlap(asked, body) if own <= body and not numbers(claim) - numbers(src.text) else 0.0
        )
        if scores[src.n] >= tuning.short_support:
            eligible.append(src.n)
    eligible.sort(key=lambda n: (-scores[n], n))
    if any(n in valid for n in eligible):  # its own markers hold up: keep just those
        return scores, [(n, True) for n in valid if n in eligible][: tuning.max_short_cites]
    kept = valid[: tuning.max_short_cites]
    if _jointly_supported(own, asked, [bodies[n] for n in kept], tuning.short_support):
        # A multi-part question answered in one word: each cited source holds a part, together enough.
        return scores, [(n, True) for n in kept]
    if eligible:
        return scores, [(n, True) for n in eligible[: tuning.max_short_cites]]
    return scores, [(n, False) for n in valid]


def _jointly_supported(own: set[str], asked: list[str], bodies: list[set[str]], share: float) -> bool:
    """The cited sources (their terms) together hold the bare answer and enough of the question, each
    holding some of it."""
    if not bodies:
        return False
    union = set().union(*bodies)
    return (
        own <= union
        and overlap(asked, union) >= share
        and all(len(set(asked) & body) >= 2 for body in bodies)
    )


def best_quote(claim: str, question: str, source: Source) -> str:
    claim_terms = set(_claim_terms(claim, question))
    sentences = split_sentences(source.evidence) + split_sentences(chunk_body(source.text))
    return max(sentences, key=lambda s: len(claim_terms & set(terms(s))), default="")


def _claims(answer: str) -> list[str]:
    """The answer's sentences; a marker followed by a capitalised word also ends one, as when a quoted
    headline or tweet without a full stop ("… Date: Monday, Nov. 27 [1] The Seahawks…") runs into the next."""
    return [
        part for sentence in split_sentences(answer) for part in _MARKER_END.split(sentence) if part.strip()
    ]


def check(
    answer: str, sources: list[Source], question: Question | str, tuning: Tuning = DEFAULT
) -> tuple[str, list[Citation]]:
    """The answer with corrected markers, and one citation per source it cites."""
    read = as_question(question)
    question, options = read.text, read.options
    by_n = {s.n: s for s in sources}
    cited: dict[int, list[tuple[str, bool, float]]] = {}
    lines = []
    for line in answer.split("\n"):  # a timeline or a comparison keeps its lines and their labels
        label = _LABEL.match(line)
        prefix = label.group(0) if label else ""
        checked = _check_line(line[len(prefix) :], question, options, by_n, sources, tuning, cited)
        if checked:
            lines.append(prefix + checked)
        elif not line.strip() and lines and lines[-1]:
            lines.append("")  # a paragraph break stays one
    citations = []
    for n in sorted(cited):
        src = by_n[n]
        claims = cited[n]
        top = max(claims, key=lambda c: c[2])
        citations.append(
            Citation(
                n=n,
                doc_id=src.doc_id,
                chunk_id=src.chunk_id,
                title=src.title,
                source=src.source,
                published_at=src.published_at,
                url=src.url,
                quote=best_quote(top[0], question, src),
                verified=all(ok for _, ok, _ in claims),
                support=round(top[2], 3),
                author=src.author,
                also=list(src.also),
            )
        )
    return "\n".join(lines).strip(), citations


def _check_line(
    text: str,
    question: str,
    options: tuple[str, str] | None,
    by_n: dict[int, Source],
    sources: list[Source],
    tuning: Tuning,
    cited: dict[int, list[tuple[str, bool, float]]],
) -> str:
    """One line of the answer with its markers corrected; what each marker rests on goes into `cited`."""
    out_sentences: list[str] = []
    # "It rose. [1] Then…": markers after the full stop belong to the sentence before it.
    text = _TRAILING.sub(lambda m: m.group(2) + m.group(1), text)
    for sentence in _claims(text):
        cites = markers(sentence)
        claim = strip_markers(sentence)
        if not claim or _lists_sources(claim):
            continue
        valid = list(dict.fromkeys(n for n in cites if n in by_n))
        if len(set(terms(claim))) < 3:
            scores, chosen = _short_claim(claim, question, sources, valid, tuning, options)
        else:
            scores = {n: support(claim, question, src) for n, src in by_n.items()}
            supported = [n for n in valid if scores[n] >= tuning.support]
            best = max(scores, key=lambda n: (scores[n], -n)) if scores else None
            if supported:
                chosen = [(n, True) for n in supported]
            elif best is not None and scores[best] >= tuning.support:
                chosen = [(best, True)]
            else:
                chosen = [(n, False) for n in valid]
            if not chosen:
                continue  # a claim that cites nothing and that no source supports is the model's, not news
        for n, ok in chosen:
            cited.setdefault(n, []).append((claim, ok, scores[n]))
        marks = "".join(f"[{n}]" for n, _ in chosen)
        out_sentences.append(place_markers(claim, marks))
    return " ".join(out_sentences)


def _lists_sources(claim: str) -> bool:
    """Whether a sentence only points at the sources instead of saying something."""
    rest = {t for t in terms(claim) if not t.isdigit()} - _LISTING_TERMS
    return bool(_SOURCES_WORD.search(claim)) and not rest


def place_markers(claim: str, marks: str) -> str:
    """Put markers before the sentence's final punctuation: "It rose 3% [1]."."""
    if not marks:
        return claim
    m = re.search(r"([.!?][\"'”’)]*)$", claim)
    if m:
        return f"{claim[: m.start()]} {marks}{m.group(1)}"
    return f"{claim} {marks}"
