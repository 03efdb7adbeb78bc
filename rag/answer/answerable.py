"""Whether the retrieved text can answer a question at all, decided before the LLM is asked."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from rag.answer.attribution import as_written, by_role, quoted
from rag.answer.citations import Source
from rag.answer.figures import missing_figure
from rag.query.question import named_entities, outlet_spans
from rag.query.read import Question, as_question
from rag.text import CALENDAR, chunk_day, overlap, terms
from rag.tuning import DEFAULT, Tuning

ONE_STORY = ("position", "summary", "timeline", "latest")


def held_terms(texts: list[str]) -> set[str]:
    """Every key term the texts hold (chunk texts: titles and outlets included)."""
    found: set[str] = set()
    for text in texts:
        found |= set(terms(text))
    return found


def coverage(question: str, found: set[str]) -> float:
    """Share of the question's key terms among `found` (see `held_terms`)."""
    return overlap(terms(question), found)


# not "\n": texts joined a line apart never make one use out of two texts' edges
_MID_SENTENCE = frozenset("abcdefghijklmnopqrstuvwxyz,;")


def _capitalised_in(word: str, texts: list[str]) -> bool:
    """Whether the texts write the word as a name: capitalised mid-sentence, almost never in lower case."""
    # a use mid-sentence: after a lower-case letter, comma or semicolon and a space (checked by hand: a pattern
    # that starts with the word is searched for faster than one that starts with a look-behind)
    pattern = re.compile(rf"(?:{re.escape(word.capitalize())}|{re.escape(word)})\b")
    forms = [
        m.group(0)
        for text in texts
        for m in pattern.finditer(text)
        if m.start() >= 2 and text[m.start() - 1] == " " and text[m.start() - 2] in _MID_SENTENCE
    ]
    capital = sum(f[0].isupper() for f in forms)
    return capital >= 2 and capital >= 4 * (len(forms) - capital)


def lowercase_names(
    question: str, texts: list[str], corpus: Callable[[], Sequence[str]] = tuple
) -> list[str]:
    """Words a question typed in lower case ("what did putin say…") that the texts write as names; a word the
    texts never use is looked up in the `corpus` (called only then: reading it is not free)."""
    if question != question.lower():
        return []
    words = re.findall(r"(?<![\w'’-])[a-z][a-z'’-]{2,}", question)
    found, whole = [], None
    for w in dict.fromkeys(words):
        if not terms(w) or w in CALENDAR or w[:2] in ("i'", "i’"):  # "i've": "I" is always capitalised
            continue
        if re.search(rf"\b(?:a|an)\s+(?:[a-z-]+\s+)?{re.escape(w)}\b", question):
            continue  # "a high-tech marvel": a common noun, whatever the corpus capitalises ("Marvel")
        used = any(re.search(rf"\b{re.escape(w)}\b", t, re.I) for t in texts)
        if not used and whole is None:
            whole = list(corpus())
        if _capitalised_in(w, texts if used else whole):
            found.append(w)
    return found


def _first_day(read: Question) -> str:
    """The earliest day the question names ("on 27 March", "on Tuesday"), or "": words said that day can only
    be in coverage published then or later."""
    days = [d.date().isoformat() for d in read.plan.dates]
    if read.range is not None:
        days.append(read.range.since.isoformat())
    return min(days, default="")


def unanswerable_reason(
    question: Question | str,
    sources: list[Source],
    retrieved: list[str] = (),
    tuning: Tuning = DEFAULT,
    corpus: Callable[[], Sequence[str]] = tuple,
) -> str | None:
    """Why the sources cannot answer, or None. Decided from the evidence: a model this small cannot tell.
    The question's names and terms are looked for in the sources and the rest of what was `retrieved` (chunk
    texts): what the results hold is what the index covers, even when the best sources for the rest of a
    multi-part question do not; a question about one story must find its names in its sources, and one asking
    for a figure must find a figure of that kind in them (`rag.answer.figures`)."""
    if not sources:
        return "No article matches the question."
    read = as_question(question)
    question = read.topic
    if read.unknown_publications:
        return "The index holds no articles from " + ", ".join(read.unknown_publications) + "."
    found = held_terms(
        list(dict.fromkeys([s.text for s in sources] + list(retrieved)))
    )  # sources are retrieved too
    # A question about one story (what X said, what happened, the latest) rests on its sources: the names it
    # asks about must be there, not merely somewhere in the results.
    in_sources = held_terms([s.text for s in sources]) if read.kind in ONE_STORY else found
    texts = list(dict.fromkeys([s.text for s in sources] + list(retrieved)))
    names = named_entities(question) or lowercase_names(question, texts, corpus)
    # an outlet named as written ("BusinessLine" for Business Line) is where to look, not a name to find
    missing = [
        name
        for name in names
        if not set(terms(name)) <= in_sources and not outlet_spans(name, list(read.named_outlets))
    ]
    if missing and (len(names) < tuning.slack_from or len(missing) > tuning.missing_names * len(names)):
        return "The sources found never mention " + ", ".join(missing) + "."
    first_day = _first_day(read)
    if (
        read.speaker
        and not by_role(read.speaker)
        and not quoted(read.speaker, [t for t in texts if chunk_day(t) >= first_day], question)
    ):
        return f"The sources found never give the words of {as_written(read.speaker, texts)} on this."
    if coverage(question, found) < tuning.coverage:
        return "The sources found cover too little of the question."
    return missing_figure(question, [s.text for s in sources])
