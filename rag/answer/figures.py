"""Questions that ask for a figure ("how many points…", "how much did X pay…", "what was the score…") or a
result ("who won the final?"), and whether the sources hold one of that type, said of what the question is
about.

A small model asked for a figure the sources do not hold writes one anyway (a score, a fee, another
company's payment), so such a question is refused unless some source sentence carries a figure of the
asked type, with at least two of the question's key terms in it or the sentence before (one, when the
question has only one).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.query.question import named_entities
from rag.text import CALENDAR, MONTHS, chunk_body, chunk_title, split_sentences, terms

# Words that ask for an amount of money after "how much".
_MONEY_VERBS = (
    "cost|costs|pay|paid|charge|charges|charged|fine|fined|make|made|earn|earned|raise|raised|lose|lost|"
    "worth|spend|spent|sell|sold|price|priced|money|revenue|gross|grossed|salary|valuation|profit|loss|sales|"
    "bid|offer|offered|invest|invested|fee|fees|wager|wagered|bet|bets|gambled|owe|owes|owed|donate|donated|"
    "award|awarded|borrow|borrowed|generate|generated|pocket|pocketed|bring|brought|fetch|fetched"
)
# "how many more goals", "how many paying subscribers": goals and subscribers are counted
_HOW_MANY = re.compile(
    r"\bhow many (?:(?:more|fewer|extra|additional|other|new|total|active|monthly|daily|[a-z]+ing)\s+(?!did\b|do\b|"
    r"does\b|are\b|were\b|is\b|was\b|have\b|has\b|had\b|will\b|would\b|can\b))?(?P<noun>[a-z][\w-]*)",
    re.I,
)
_HOW_MUCH = re.compile(r"\bhow much\b(?P<rest>[^?.]*)", re.I)
_HOW_SIZE = re.compile(r"\bhow (?:big|large|small|long|far|high|old|tall|heavy|fast|often|deep|wide)\b", re.I)
_WHAT_IS = re.compile(r"\bwhat(?:'s|’s| was| is| were| are)\b(?P<rest>[^?.]*)", re.I)
_SCORE_NOUN = re.compile(r"\b(?:scores?|scorelines?)\b", re.I)
_MONEY_NOUN = re.compile(
    r"\b(?:revenue|price|cost|fine|salary|valuation|profit|loss|sales|turnover|fee)s?\b", re.I
)
# a measure and the word that says which one ("batting average", "cash rate"; not "kestrel's average")
_MEASURE_NOUN = re.compile(
    r"(?:\b(?P<which>[a-z][a-z-]+)(?<!'s)(?<!’s)\s+)?\b(?:average|rate|percentage|tally|attendance|total)\b",
    re.I,
)
# "who won the Davis Cup final", "which team wins the tie", "who was the winner of…": what was won follows
_WHO_WON = re.compile(
    r"\b(?:who|which(?:\s+[a-z]+){1,2}?)\s+(?:won|wins|win|will win|was the winner of|is the winner of|"
    r"were the winners of)\s+(?P<rest>[^?.;]*)",
    re.I,
)
_WHEN_WORDS = frozenset(terms("this last year week month season weekend today tonight yesterday night now"))
# A result: a win word close before what was won ("won the Davis Cup", "beat Italy to lift the Davis Cup"),
# or a winner word close after it ("the Heisman Trophy winner"). Only the forms that report a result: "a first
# win in the World Cup" and "hopes of winning" are not one.
_WIN_BEFORE = frozenset(
    "won wins beat beats defeated defeats clinched clinches claimed claims lifted lifts captured captures "
    "triumphed retained retains crowned awarded sealed seals".split()
)
_WIN_AFTER = frozenset("winner winners champion champions victory victors".split())
# what was won ends where the sides or the day begin: "the T20 decider | between West Indies and England"
_OBJECT_END = re.compile(r",|\s(?:between|against|on|in|at|over|vs\.?|v\.?|versus|with|after|before)\s", re.I)
_HOPE = frozenset("to will would could can may might should must".split())
_NAMED_WITHIN = 8  # words from the first to the last of what was won, named together
_EVENT_WORDS = frozenset(terms("final finals match game tie decider title race series semi semifinal"))

_FIGURE = re.compile(
    r"[$€£¥]\s?\d[\d,.]*|\b\d[\d,.]*\s?(?:%|percent\b|per cent\b)|\b\d[\d,.]*\b"
    r"|\b(?:two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|"
    r"thousand|million|billion|dozen)\b",
    re.I,
)
_MONEY = re.compile(
    r"[$€£¥]\s?(?:[A-Z]{1,2}\s?)?\d|\b\d[\d,.]*\s?(?:million|billion|bn|m|k)?\s?(?:dollars|euros|pounds|yen|usd|eur|gbp)\b"
    r"|\b(?:usd|eur|gbp)\s?\d",
    re.I,
)
_SCORELINE = re.compile(r"(?<![\d-])\d{1,3}\s?[-–]\s?\d{1,3}(?![\d-])")  # 2-1, not 2025-02-03
_YEAR = re.compile(r"(?:1[89]|20)\d\d")
# Words that say what is asked, not what it is about: a sentence sharing only these does not count.
# Light verbs ("who put money into X") and "money" say little of what it is about either.
_ASKING = frozenset(
    terms(
        "much many score game match result final get got did does now still so far again put take gave give money"
    )
)


@dataclass(frozen=True)
class Asked:
    kind: str  # "count", "money", "score", "figure", "winner" or "date" (see `asked_when`)
    noun: str = ""  # what is counted ("points"), measured ("rate") or won ("the davis cup final")


_AUX = frozenset("did do does are were is was have has had will would can could should".split())


def _head_noun(phrase: str) -> str:
    """What a "how many" question counts: the last word before its verb ("battery-swapping stations does
    Gogoro want" -> "stations"), or its first word when no verb follows within four."""
    words = re.findall(r"[a-z][\w-]*", phrase.lower())[:4]
    for at, word in enumerate(words[1:], 1):
        if word in _AUX:
            return words[at - 1]
    return words[0] if words else ""


def asked_figure(question: str) -> Asked | None:
    """The kind of figure (or result) the question asks for, or None when it asks for none."""
    if m := _HOW_MANY.search(question):
        return Asked("count", _head_noun(question[m.start("noun") :]))
    if m := _HOW_MUCH.search(question):
        return Asked("money" if re.search(rf"\b(?:{_MONEY_VERBS})\b", m.group("rest"), re.I) else "figure")
    if m := _HOW_SIZE.search(question):
        # "how big a fine", "how large was the payout": an amount of money
        head = " ".join(question[m.end() :].split()[:3])
        return Asked("money" if _MONEY_NOUN.search(head) else "figure")
    if m := _WHAT_IS.search(question):
        head = " ".join(m.group("rest").split()[:5])
        if _SCORE_NOUN.search(head):
            return Asked("score")
        if _MONEY_NOUN.search(head):
            return Asked("money")
        if m := _MEASURE_NOUN.search(head):
            which = m.group("which")
            return Asked(
                "figure", m.group(0).lower() if which and terms(which) else m.group(0).split()[-1].lower()
            )
    if (m := _WHO_WON.search(question)) and set(terms(m.group("rest"))) - _WHEN_WORDS - CALENDAR:
        return Asked("winner", m.group("rest").strip())
    return None


_WHEN = re.compile(r"^\s*(?:so\s+|and\s+)?when\b", re.I)
_DATE = re.compile(
    rf"\b(?:(?:1[89]|20)\d\d|{'|'.join(m.capitalize() for m in MONTHS)})\b"
)  # not "may" the verb


def asked_when(question: str) -> Asked | None:
    """A date for a "when…" question (a year or a month answers it), else the figure it asks for, if any."""
    return Asked("date") if _WHEN.match(question) else asked_figure(question)


def figures(text: str) -> list[str]:
    """The figures a sentence holds, leaving out years and the day of a date ("on 18 February")."""
    found = []
    for m in _FIGURE.finditer(text):
        token = m.group(0)
        if _YEAR.fullmatch(token):
            continue
        if re.fullmatch(r"\d{1,2}", token):
            around = text[max(0, m.start() - 12) : m.end() + 12].lower()
            if any(month in around for month in MONTHS):
                continue
        found.append(token)
    return found


def _counts(sentence: str, noun: str) -> bool:
    """Whether the sentence gives a number of `noun`: a figure within three words of it ("10 points",
    "a 10-point deduction", "leaders of 18 countries" does not count "countries" for "leaders")."""
    want = terms(noun)
    if not want:
        return bool(figures(sentence))
    tokens = re.findall(r"[\w$€£%.,]+", sentence.replace("-", " "))
    for i, token in enumerate(tokens):
        if figures(token) and any(want[0] in terms(t) for t in tokens[max(0, i - 3) : i + 4]):
            return True
    return False


def _tells_winner(sentence: str, won: str, context: frozenset[str] = frozenset()) -> bool:
    """Whether the sentence says who won `won` ("the Davis Cup final, Australia or Italy"): a win word up to
    four words before a term of what was won, the sentence naming all of it ("Davis Cup semi-final" is not
    the "Davis Cup final"), or a winner word up to two after it ("the Heisman Trophy winner"); or one of the
    sides named as the winner ("it was won for West Indies"). "Heisman Trophy candidate … when Ohio State beat
    Penn State" does not say who won the Heisman Trophy."""
    thing, *sides = _OBJECT_END.split(won)
    want = set(terms(thing)) - _WHEN_WORDS - CALENDAR
    core = want - _EVENT_WORDS or want  # its own words, not "final" or "match"
    side = set(terms(" ".join(sides))) - _WHEN_WORDS - CALENDAR
    # a side's win counts only where what was won is named, in the sentence or the rest of its article (`context`:
    # "Australia beat India in the 2003 final" in a cricket piece is not the Davis Cup final)
    named = core <= set(terms(sentence)) | context
    words = re.findall(r"[\w'’-]+", sentence.lower())  # "semi-final" is not the "final"
    said = [(terms(w) or [""])[0] for w in words]
    # "hope to beat Italy in the final", "could win the title": a hope, not a result
    won = {i for i, w in enumerate(words) if w in _WIN_BEFORE and (i == 0 or words[i - 1] not in _HOPE)}
    # what was won, named together in the sentence, its last word there ("final": not the Davis Cup's group stage)
    # and the others there or elsewhere in the article ("the final of the ODI World Cup" in a cricket piece; not
    # "ATP finals showdown victory ... a second Davis Cup title")
    at = [i for i, w in enumerate(said) if w in want]
    here = {said[i] for i in at}
    head = next((t for t in reversed(terms(thing)) if t in want), "")
    whole = (
        head in here
        and want - here <= context | here
        and any(here <= {said[j] for j in at if i <= j <= i + _NAMED_WITHIN} for i in at)
    )
    # "who won the game" with no sides named (a day names it), or with both named in the sentence ("who won
    # bills bengals"): a scored win says who ("a 31-17 win over Miami", "beating the Bills 24-18")
    teams = (want | side) - _EVENT_WORDS
    if (not teams or teams <= set(said)) and _SCORELINE.search(sentence):
        if won or re.search(
            r"\b(?:beating|(?:win|victory|rout|thrashing)\s+(?:over|against))\b", sentence, re.I
        ):
            return True
    for i, word in enumerate(said):
        if (
            whole
            and word in want
            and (
                won & set(range(i - 4, i))
                or _WIN_AFTER & set(words[i + 1 : i + 3])
                or any(j in won and words[j + 1 : j + 2] == ["by"] for j in range(i + 1, i + 4))
            )
        ):
            return True  # "won the Davis Cup", "the Heisman Trophy winner", "the final ... won by Australia"
        # "West Indies beat England", "Italy won the Davis Cup", "won for West Indies"; not "Canada defeated
        # Italy", nor "the Italian claimed three of their four showdowns"
        after = set(said[i + 2 : i + 6])
        if (
            named
            and word in side
            and (
                (i + 1 in won and (after & (side - {word}) or core <= after))
                or (i - 2 in won and words[i - 1] in ("by", "for"))
            )
        ):
            return True
    return False


def holds(asked: Asked, sentence: str, context: frozenset[str] = frozenset()) -> bool:
    """Whether the sentence gives a figure (or result) of the kind asked; `context`: its article's terms."""
    if asked.kind == "winner":
        return _tells_winner(sentence, asked.noun, context)
    if asked.kind == "count":
        return _counts(sentence, asked.noun)
    if asked.kind == "money":
        return bool(_MONEY.search(sentence))
    if asked.kind == "score":
        return bool(_SCORELINE.search(sentence))
    if asked.kind == "date":
        return bool(_DATE.search(sentence))
    if asked.noun:  # "what's his batting average": a figure in a sentence that speaks of a batting average
        return bool(figures(sentence)) and set(terms(asked.noun)) <= set(terms(sentence))
    return bool(figures(sentence))


def gives_figure(question: str, text: str, asked: Asked | None = None, headline: bool = False) -> bool:
    """Whether the text gives a figure of the kind the question asks for, said of what it is about: in a
    sentence holding two of its key terms (one, when it has only one), counting the sentence before; with
    `headline`, also in its headline when the text holds those terms."""
    asked = asked or asked_figure(question)
    if asked is None:
        return False
    about = set(terms(question.replace("-", " "))) - _ASKING - _WHEN_WORDS - CALENDAR  # dates are not topics
    need = min(2, len(about))
    # a question naming people or things asks for their figure: the sentence (or the one before) names half of
    # them at least (each but for one of its words: "James" for "Bronny James"); "28 points" said of another
    # player, sharing "points" and "score" with the question, is not it
    names = [set(terms(name.replace("-", " "))) for name in named_entities(question)]
    before: set[str] = set()  # the previous sentence often names what this one gives a figure for
    context = frozenset(terms(text)) if asked.kind == "winner" else frozenset()  # only a result reads it
    for sentence in split_sentences(chunk_body(text)):
        said = set(terms(sentence.replace("-", " ")))
        near = said | before
        if (
            len(near & about) >= need
            and 2 * sum(len(name & near) >= max(1, len(name) - 1) for name in names) >= len(names)
            and holds(asked, sentence, context)
        ):
            return True
        before = said
    # a headline's figure ("Inside the $US2.3b venue") is said of what its article is about
    title = chunk_title(text) if headline else ""
    return (
        bool(title)
        and holds(asked, title, context)
        and len(set(terms(text.replace("-", " "))) & about) >= need
    )


def missing_figure(question: str, texts: list[str]) -> str | None:
    """Why the texts cannot give the figure the question asks for, or None (also when it asks for none)."""
    asked = asked_figure(question)
    if asked is None or any(gives_figure(question, text, asked, headline=True) for text in texts):
        return None
    if asked.kind == "winner":
        return f"The sources found do not say who won {asked.noun}."
    what = {"count": f"how many {asked.noun}", "money": "the amount", "score": "the score"}.get(asked.kind)
    return f"The sources found do not give {what or 'the figure asked for'}."
