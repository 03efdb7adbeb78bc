"""Question analysis: which outlets and dates a question names, and the claims it is made of.

News questions often join several claims, each tied to an outlet ("... according to The Verge, and
... as reported by TechCrunch"). Retrieval runs once for the whole question and once per claim, so
every part gets its own evidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache

from rag.text import CALENDAR, CAPITALISED_RUN, MONTHS, PUBLICATION_NAME, outlet_head, terms, words

_M = "|".join(MONTHS) + "|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
_DATE = re.compile(
    rf"\b(?P<m1>{_M})\.?\s+(?P<d1>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<y1>\d{{4}}))?\b"
    rf"|\b(?P<d2>\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?(?P<m2>{_M})\.?(?:,?\s+(?P<y2>\d{{4}}))?\b"
    rf"|\b(?P<iso>\d{{4}}-\d{{2}}-\d{{2}})\b",
    re.I,
)
# Where one claim ends and the next begins.
_CLAUSE = re.compile(
    r",\s*(?:and|while|whereas|but)\s+|;\s*|\s+and\s+(?:is|was|has|had|also|the)\b|\s+while\s+"
    r"|\s+whereas\s+|,\s+(?:as\s+reported|according)\b|\s+(?:in\s+contrast\s+to|compared\s+to|"
    r"as\s+opposed\s+to)\s+"
    # ", has been accused of…", ", who faced…", ", known for…": the next claim in a list
    r"|,\s+(?=(?:has|have|had|is|was|were|are|who|whom|whose|which|that|also|known|recently|been|"
    r"faces|faced|being|once|later|then)\b)",
    re.I,
)


@dataclass
class Part:
    text: str
    outlet: str | None = None
    dates: list[datetime] = field(default_factory=list)


@dataclass
class QueryPlan:
    question: str
    outlets: list[str] = field(default_factory=list)
    dates: list[datetime] = field(default_factory=list)
    parts: list[Part] = field(default_factory=list)


def _alias(outlet: str, outlets: list[str]) -> str | None:
    """The outlet's name before its tagline or section ("Cnbc | World Business News Leader" -> "Cnbc"), when
    no other outlet of the corpus shares it ("BBC News - Technology" and "BBC News - Entertainment" do)."""
    head = outlet_head(outlet)
    if head == outlet.strip() or len(head) < 3:
        return None
    shared = [o for o in outlets if o != outlet and o.lower().startswith(head.lower())]
    return None if shared else head


def _outlet_pattern(outlet: str, alias: str | None = None) -> re.Pattern | None:
    name = outlet.strip()
    short = re.sub(r"^the\s+", "", name, flags=re.I)
    # "The Age" may not shrink to "Age": a short bare word is too common to stand for an outlet.
    variants = [v for v in sorted({name, short}, key=len, reverse=True) if v == name or len(v) >= 5]
    variants += [alias] if alias else []
    # "Globes English", "CBSSports.com": readers leave the edition or the domain off
    bare = [re.sub(r"(?:\s+(?:english|news|online|digital)|\.com)$", "", v, flags=re.I) for v in variants]
    variants += [b for b in bare if b not in variants and len(b) >= 5]
    if len(name) < 3:
        return None
    # "EssentiallySports" for "Essentially Sports": readers run an outlet's words together
    spelled = [re.escape(v).replace(r"\ ", r"\s?") for v in variants]
    return re.compile(r"(?<![\w])(?:" + "|".join(spelled) + r")(?![\w])", re.I)


def families(outlets: list[str] | tuple[str, ...]) -> list[str]:
    """Names that outlets published in sections share ("The Independent" for "The Independent - Sports" and
    "The Independent - Travel"): a reader names the outlet, not the section."""
    heads: dict[str, int] = {}
    for outlet in outlets:
        if (head := outlet_head(outlet)) != outlet.strip() and len(head) >= 3:
            heads[head] = heads.get(head, 0) + 1
    known = {o.lower() for o in outlets}
    return [head for head, n in heads.items() if n >= 2 and head.lower() not in known]


@lru_cache(maxsize=8)
def _patterns(outlets: tuple[str, ...]) -> list[tuple[str, re.Pattern]]:
    """Each outlet's pattern, and each family's (`families`), built once per outlet list (aliases compare
    every outlet with every other)."""
    return [
        (outlet, pattern)
        for outlet in outlets + tuple(families(outlets))
        if (pattern := _outlet_pattern(outlet, _alias(outlet, outlets)))
    ]


_COORDINATED = re.compile(r"(?:['’]s)?\s*(?:,|and|or|vs\.?|versus|&)\s*(?:the\s+)?$")


def _between(text: str, a: tuple[int, int], b: tuple[int, int]) -> str:
    """The text between two spans, whichever comes first."""
    (_, first_end), (second_start, _) = sorted([a, b])
    return text[first_end:second_start]


def outlet_mentions(question: str, outlets: list[str], every: bool = False) -> list[tuple[int, str]]:
    """(position, outlet) for each corpus outlet the question names, in order of appearance; with `every`,
    each time it is named ("a TechCrunch article … another TechCrunch article" counts twice)."""
    return [(start, outlet) for start, _, outlet in outlet_spans(question, outlets, every)]


def outlet_spans(question: str, outlets: list[str], every: bool = False) -> list[tuple[int, int, str]]:
    """(start, end, outlet) of each outlet the question names, as `outlet_mentions` finds them: the words
    written, which may be a short form of the outlet's name ("business today")."""
    found = []
    unsure = []  # names in lower case: outlets only beside another ("the verge and fortune")
    typed_lower = question == question.lower()
    for outlet, pattern in _patterns(tuple(outlets)):
        for match in pattern.finditer(question):
            name = re.sub(r"^the\s+", "", match.group(0), flags=re.I)
            # "Fortune", not "a fortune"; in a question typed all in lower case, a name of two words or a long
            # one ("the daily meridian", "techcrunch") is still the outlet's
            if name[:1].isupper() or typed_lower and (" " in name.strip() or len(name) >= 8):
                found.append((match.start(), match.end(), outlet))
                if not every:
                    break
            else:  # also in "The Guardian and techcrunch": typed in lower case beside another outlet
                unsure.append((match.start(), match.end(), outlet))
    others = found + unsure
    found += [
        (start, end, outlet)
        for start, end, outlet in unsure
        if any(
            _COORDINATED.match(_between(question, (start, end), (s, e))) for s, e, o in others if o != outlet
        )
    ]
    # A longer match containing a shorter one ("BBC News - Technology" vs "BBC News") wins.
    found.sort(key=lambda m: (m[0], -m[1]))
    kept: list[tuple[int, int, str]] = []
    for start, end, outlet in found:
        if kept and start < kept[-1][1]:
            continue
        kept.append((start, end, outlet))
    return kept


def outlets_named(question: str, outlets: list[str]) -> list[str]:
    """Outlets of the corpus that the question names ("The Verge", "according to TechCrunch")."""
    return [o for _, o in outlet_mentions(question, outlets)]


def dates_named(text: str, default_year: int) -> list[datetime]:
    """Calendar days the text names ("November 6, 2023", "on 18 February", "2023-10-07"), as UTC midnights."""
    out = []
    for m in _DATE.finditer(text):
        try:
            if m.group("iso"):
                day = datetime.strptime(m.group("iso"), "%Y-%m-%d")
            else:
                month = (m.group("m1") or m.group("m2"))[:3].lower()
                number = m.group("d1") or m.group("d2")
                year = m.group("y1") or m.group("y2") or default_year
                day = datetime.strptime(f"{month} {number} {year}", "%b %d %Y")
        except ValueError:
            continue
        out.append(day.replace(tzinfo=timezone.utc))
    return out


def plan(question: str, outlets: list[str], default_year: int) -> QueryPlan:
    mentions = outlet_mentions(question, outlets)
    result = QueryPlan(
        question=question, outlets=[o for _, o in mentions], dates=dates_named(question, default_year)
    )
    pieces = [p.strip() for p in _CLAUSE.split(question) if p and len(p.split()) >= 3]
    if len(pieces) < 2:
        return result
    cursor = 0
    for piece in pieces:
        start = question.find(piece, cursor)
        cursor = max(cursor, start)
        end = start + len(piece)
        inside = [o for pos, o in mentions if start <= pos < end] if start >= 0 else []
        result.parts.append(
            Part(
                text=piece,
                outlet=inside[0] if len(inside) == 1 else None,
                dates=dates_named(piece, default_year),
            )
        )
    return result


_NAME = PUBLICATION_NAME
_NAMES = _NAME.replace(r"and\s+|", r"and\s+(?:the\s+)?|")  # "the X and the Y"
# Not "feature": "an AI-powered DJ feature" is a product's.
_WORK = (
    r"(?:article|articles|report|reports|piece|review|story|stories|post|column|coverage|editorial|segment)"
)
_PUBLICATION_CUES = [  # (pattern, whether the name must look like a publication)
    (re.compile(rf"\b(?:a|an|the|by|from|in)\s+'?{_NAME}'?\s+{_WORK}\b"), False),
    (re.compile(rf"\b{_WORK}\s+(?:from|by|in|published\s+by)\s+(?:the\s+)?'?{_NAME}'?"), False),
    (re.compile(rf"\banother\s+(?:one\s+)?(?:from|by|in)\s+(?:the\s+)?'?{_NAME}'?"), False),
    (re.compile(rf"\b(?:reported\s+by|published\s+by|as\s+per|per|according\s+to)\s+'?{_NAME}'?"), True),
    (re.compile(rf"\bby\s+'?{_NAME}'?"), "words"),
    # "Did the Daily Courier and the Evening Ledger both report…": publication-like names as subjects.
    (
        re.compile(
            rf"\b(?:the|did|does|do|has|have)\s+'?{_NAMES}'?\s+(?:both\s+|also\s+|ever\s+)?"
            r"(?:report|reported|reports|say|said|says|claim|claimed|claims|suggest|suggested|suggests|"
            r"write|wrote|writes|cover|covered|covers|publish|published)\b"
        ),
        "words",
    ),
]
_PUBLICATION_WORDS = re.compile(
    r"\b(News|Times|Post|Journal|Daily|Magazine|Review|Herald|Tribune|Wire|Gazette|"
    r"Telegraph|Guardian|Press|Today|Weekly|Observer|Chronicle|Standard|Insider|Sports|"
    r"Ledger|Courier|Mail|Express|Dispatch|Bulletin|Monitor|Digest|Inquirer|Sentinel)\b"
)


def publications_named(question: str) -> list[str]:
    """Names the question cites as publications ("a Forbes piece", "as reported by The Wall Street Journal")."""
    found = []
    for pattern, strict in _PUBLICATION_CUES:
        for match in pattern.finditer(question):
            for name in re.split(r"\s+and\s+(?:the\s+)?", match.group(1).strip(" '")):
                name = re.sub(r"^the\s+", "", name, flags=re.I).strip(" '")
                if not name or name.endswith(("'s", "’s")):
                    continue
                if name.split()[0].lower() in MONTHS:
                    continue
                # "according to Elon Musk" names a person: there only publication-like names count.
                looks = bool(_PUBLICATION_WORDS.search(name))
                if (
                    strict == "words"
                    and not looks
                    or strict is True
                    and not (looks or re.fullmatch(r"[A-Z]{3,}", name))
                ):
                    continue
                found.append(name)
    return list(dict.fromkeys(found))


def unknown_publications(question: str, outlets: list[str]) -> list[str]:
    """Publications the question cites that the corpus holds nothing from."""
    known = [set(words(o)) for o in outlets]
    missing = []
    for name in publications_named(question):
        own = set(words(name)) - {"the", "of", "and", "for"}
        if own and not any(own <= k for k in known):
            missing.append(name)
    return missing


_AUX = r"(?:does|did|do|is|was|are|were|has|have|had|can|could|will|would|should)"
# "Did X...?", or after an opening clause "After A reported…, did B…?" (commas may follow: dates, asides),
# unless a question word comes first ("Considering…, which company…, did…?").
_YES_NO = re.compile(
    rf"^\s*{_AUX}\b|^(?!.*\b(?:who|whom|whose|what|which|when|where|why|how)\b.*,\s*{_AUX}\s)"
    rf".*?,\s*{_AUX}\s+\w[^?]*\?\s*$",
    re.I | re.S,
)


_COMPARED = r"(?:before|after|earlier|later|more|fewer|less|higher|lower|better|worse)"
_ALTERNATIVE = re.compile(rf",?\s+or\s+(?:{_AUX}|not|is it)\b|\b{_COMPARED}\s+or\s+{_COMPARED}\b", re.I)


def expects_yes_no(question: str) -> bool:
    """ "Did X report...?", "Between A and B, was there...?": questions answered by yes or no; not those
    that offer their own alternative ("…, or does it claim…?", "consistent or inconsistent?")."""
    return (
        bool(_YES_NO.search(question))
        and not _ALTERNATIVE.search(question)
        and not choice_options(question)
        and not re.match(r"^\s*(?:who|what|which|when|where|why|how)\b", question, re.I)
    )


_CHOICE = re.compile(r"\b([a-z]{3,})\s+or\s+([a-z]{3,})\b")
_NEGATIONS = ("in", "un", "im", "il", "ir", "dis", "non")
_OPPOSITES = {
    frozenset(p)
    for p in (
        ("positive", "negative"),
        ("increase", "decrease"),
        ("rise", "fall"),
        ("similar", "different"),
        ("same", "different"),
    )
}


def choice_options(question: str) -> tuple[str, str] | None:
    """The two opposite answers a question offers ("consistent or inconsistent", "larger or smaller"), which
    its answer is one of; None when it offers none. Any other "A or B" ("injuries or roster changes") is part
    of a claim, not a choice."""
    for a, b in _CHOICE.findall(question):
        negated = any(b == p + a or a == p + b for p in _NEGATIONS)
        compared = a.endswith("er") and b.endswith("er") and len(a) > 4 and len(b) > 4 and a != b
        if negated or compared or frozenset((a, b)) in _OPPOSITES:
            return a, b
    return None


_NAME_WORD = (
    r"(?:who|whom|whose|which|how\s+many|how\s+much|when|what\s+is\s+the\s+name|"
    # not "what caused / led to / prompted…": a cause is explained, not named
    rf"what\s+(?!{_AUX}\b|happened\b|about\b|if\b|(?:caus|prompt|trigger|spark)(?:e|es|ed|ing)\b|"
    r"(?:led|leads?|drove|drives?)\s+(?:to|up)\b)[a-z-]+\b)"
)
# "Who…?", "In which game…?", and the same behind an opening clause: "Considering …, which company…?",
# "Between the report on … and the one on …, which outlet…?"
_NAME_QUESTION = re.compile(
    rf"^\s*(?:(?:in|at|on|for|from|by|of|to|with)\s+)?{_NAME_WORD}"
    r"|^\s*(?:considering|based\s+on|given|according\s+to|in\s+light\s+of|following|"
    rf"between|among|after|before|from|in|of)\b[^?]*?,\s*{_NAME_WORD}",
    re.I,
)


def expects_name(question: str) -> bool:
    """ "Who is…?", "Which company…?", "How many…?": questions answered by a name, number or date."""
    return bool(_NAME_QUESTION.match(question)) and not expects_yes_no(question)


_POSSESSIVE = re.compile(r"['’]s?$")


def named_entities(question: str) -> list[str]:
    """Capitalised names in the question (not its first word, not months or days), each once, without a
    possessive ("Sam Altman's" is "Sam Altman"): things it is about."""
    found: dict[str, str] = {}
    for match in CAPITALISED_RUN.finditer(question):
        if match.start() == 0 or question[: match.start()].rstrip().endswith((".", "?", "!", ":", '"')):
            parts = match.group(1).split()
            if len(parts) == 1:
                continue
            name = " ".join(parts[1:])  # "What Apple…" -> skip the leading question word only
        else:
            name = match.group(1)
        name = _POSSESSIVE.sub("", name)
        if name.lower() not in CALENDAR and terms(name):
            found.setdefault(name.lower(), name)
    return list(found.values())
