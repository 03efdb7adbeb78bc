"""What `Assistant.ask` returns: the answer text, its checked citations and the sources it rests on."""

from __future__ import annotations

from dataclasses import dataclass, field

from rag.answer.citations import Citation, Source

NO_ANSWER = "Insufficient information: the sources do not say."


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
    kind: str = "open"  # the kind of question it was read as (rag.query.read.KINDS)
    as_of: str = ""  # the date it was asked on, YYYY-MM-DD

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "query": self.query,
            "answer": self.text,
            "answered": self.answered,
            "note": self.note,
            "yes_margin": self.yes_margin,
            "choice_margin": self.choice_margin,
            "citations": [c.to_dict() for c in self.citations],
            "sources": [s.to_dict() for s in self.sources],
            "filters": self.filters,
            "kind": self.kind,
            "as_of": self.as_of,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        }


@dataclass
class Retrieved:
    """What `Assistant.stream` yields as soon as the sources are chosen, before any answer text."""

    query: str
    kind: str
    sources: list[Source] = field(default_factory=list)
