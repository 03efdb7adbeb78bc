"""A question read once: its kind, the outlets and dates it names, its claims and names.

`read` builds the `Question` that retrieval, source selection, prompting and the citation check all take,
so the patterns that decide a question's kind run in one place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone

from rag.query.dates import DateRange, resolve
from rag.query.question import (
    QueryPlan,
    choice_options,
    expects_name,
    expects_yes_no,
    outlet_spans,
    plan,
    unknown_publications,
)

# The kinds of answer a question expects; each gets its own shape (rag.answer.compose).
KINDS = (
    "yes_no",
    "choice",
    "name",
    "comparison",
    "conflict",
    "timeline",
    "latest",
    "position",
    "summary",
    "open",
)

# Kinds whose answer the code lays out from the sources, with no LLM call; the first three are built from more
# sources than the LLM reads (`Tuning.built_sources`) and show more of each (`Tuning.built_sentences`).
BUILT = ("timeline", "comparison", "conflict", "latest")
WIDE = BUILT[:3]

# Kinds answered in prose from a few sources, the first showing most: the LLM writes all but "latest" (built from
# its newest source, rag.answer.compose), and their prompts are kept short, as the wait is the prompt's reading.
WRITTEN = ("position", "summary", "latest", "open")

# "Can you walk me through…", "Could you tell me…": a request, not a yes/no question.
_REQUEST = re.compile(
    r"^\s*(?:(?:can|could|would|will)\s+you\s+(?:please\s+)?|please\s+)"
    r"(?=(?:tell|walk|give|summari[sz]e|explain|list|describe|show|outline|recap|remind|update|fill|brief)\b)",
    re.I,
)
_ASKS_SUMMARY = re.compile(
    r"^\s*(?:what\s+came\s+(?:out\s+)?of|summari[sz]e|tell\s+me\s+about|give\s+me\s+(?:an?\s+)?(?:overview|summary|"
    r"rundown|recap)|what(?:'s|\s+is)\s+going\s+on|what\s+went\s+on|what(?:'s|\s+is)\s+(?:the\s+(?:deal|story)|up)\s+with|"
    r"whatever\s+happened\s+(?:to|with)|fill\s+me\s+in|catch\s+me\s+up|brief\s+me|bring\s+me\s+up\s+to\s+speed)\b",
    re.I,
)
# "How did the launch go?", "how's the bid going?", "how did United do in Europe?": an account of an event.
_HOW_WENT = re.compile(
    r"^\s*how(?:'s|’s|\s+(?:did|does|do|is|are|was|were|has|have))\s+(?P<what>.+?)\s+"
    r"(?:go|going|gone|do|doing|done|fare|fared|faring|turn(?:ed)?\s+out|shap(?:e|ing)\s+up)"
    r"(?P<rest>(?:\s+(?:in|at|on|against|with|for|since|after|over|so\s+far|this|last)\b[^?]*)?)\s*\??\s*$",
    re.I,
)
# "Does the RBA think…?", "Is Poland willing to…?": someone's view asked as yes or no, answered in their words
# (not "Does the article expect…?": a claim about a report is a yes/no question).
_VIEW_ASKED = re.compile(
    r"^\s*(?:does|do|did|is|are|was|were)\s+(?P<who>[^?]{1,40}?)\s+(?:think|thinks|believe|believes|expect|"
    r"expects|want|wants|feel|feels|reckon|reckons|willing|up\s+for|open\s+to|plan|plans|intend|intends|"
    r"(?:still\s+)?(?:optimistic|pessimistic|confident|worried|concerned|opposed|in\s+favou?r))\b|"
    + r"^\s*(?:has|have|did|does)\s+(?P<says>[^?]{1,40}?)\s+(?:said|say|says)\s+(?:anything|something|much)\b",
    re.I,
)
_REPORT = re.compile(r"\b(?:articles?|reports?|stor(?:y|ies)|pieces?|coverage|sources?|outlets?)\b", re.I)
_AUXILIARY = re.compile(
    r"^\s*(?:does|did|do|is|was|are|were|has|have|had|can|could|will|would|should)\b", re.I
)
_TIMELINE = re.compile(
    r"\b(?:timeline|chronolog\w*|sequence\s+of\s+events|walk\s+me\s+through|step\s+by\s+step|"
    r"from\s+(?:the\s+)?(?:start|beginning|outset)\s+(?:to|until|till)\b|"
    r"how\s+(?:has|have|did)\b[^?]*\b(?:develop|unfold|evolv|progress|escalat|chang|shift|unravel|collaps|"
    r"mov(?:e|ed)\s+from|"
    r"play(?:ed)?\s+out|turn(?:ed)?\s+out|f[ae]ll\s+apart|c[oa]me\s+about|end(?:ed)?\s+up|"
    r"(?:go|went)\s+down|(?:build|built|lead|led)\s+up)\w*|"
    r"what(?:'s|\s+has|\s+have)\s+happened\b[^?]*\bsince\b|"
    # "how did his season go, from the calf injury to the Bengals playing without him?": a span told
    r"how\s+(?:has|have|did)\b[^?]*\b(?:go|gone|went)\b[^?]*\bfrom\b[^?]+\b(?:to|through|into|until)\b|"
    # "how has their season gone so far", "game by game": the course of it, not where it stands
    r"how(?:'s|’s|\s+has|\s+have)\b[^?]*\b(?:gone|been(?:\s+going)?)\s+so\s+far|"
    r"(?:game|week|month|day|race|round|match|step)\s+by\s+(?:game|week|month|day|race|round|match|step))",
    re.I,
)
_LATEST = re.compile(
    r"\b(?:latest|most\s+recent|newest|any\s+(?:new\s+)?(?:updates?|news|developments?)|what'?s\s+new|"
    r"anything\s+new|lately|these\s+days|"
    r"where\s+(?:do|does|did)\b[^?]*\bstand(?!\s+on\b)|current(?:ly)?\b|right\s+now|as\s+of\s+now|so\s+far|"
    r"what(?:'s|\s+is)\s+next\s+for|where(?:'s|\s+is|\s+are)\b[^?]*\bat\s*\?)",
    re.I,
)
# Whose words an attribution question asks for: "what did Putin say about…", "what has Apple told…".
_SPEAKER = re.compile(
    r"\bwhat\s+(?:did|does|do|has|have|had)\s+(?P<who>[^?,]{2,60}?)\s+"
    r"(?:say|said|tell|told|write|post|tweet|testify|argue|claim)\b|"
    r"^\s*(?:has|have|did|does)\s+(?P<any>[^?,]{2,60}?)\s+(?:said|say|says)\s+(?:anything|something|much)\b",
    re.I,
)
_NOT_A_SPEAKER = re.compile(
    r"^(?:he|she|they|it|we|you|i|them|people|everyone|anyone|the\s+(?:sources?|articles?|reports?)|"
    r"(?:each|both|all|either|neither)(?:\s+of\s+(?:them|these|those|the\s+two))?)$",
    re.I,
)
_COVERAGE = re.compile(
    r"\b(?:cover\w*|report\w*|portray\w*|frame\w*|describ\w*|compar\w*|differ\w*|say|said|write|wrote|"
    r"vs|versus|each|both|focus\w*|explain\w*|handl\w*|tell|told|spin|angle|take)\b",
    re.I,
)
# Wordings of a reader's aside that both patterns below read.
_FIGURES = r"(?:reports?|numbers?|figures?|accounts?|estimates?|totals?)"
_ONE_SAYS = r"one\s+(?:report|source|article|outlet|site|story|piece)\s+(?:says|said|had|has|gave|gives|puts?|claims?|claimed)"
# a figure as a reader types it ("830", "$2.3 billion", "2.3m"): two of them side by side are two versions
_AMOUNT = r"[$€£]?\d[\d,.]*\s?(?:%|million|billion|m|bn|k)?"
_WHICH_RIGHT = (
    r"(?:which\s+(?:one\s+|number\s+|figure\s+|version\s+)?is\s+(?:it|right|correct|true)|"
    r"who(?:'s|’s|\s+is)\s+(?:right|correct|telling\s+the\s+truth))"
)
# A remark after the question that the sources disagree ("…? the numbers don't match"), or a question about the
# disagreement itself: the answer lays the sources side by side instead of picking one.
_DISAGREE = re.compile(
    r"\b(?:disagree\w*|differ(?:s|ent|ing)?|conflict(?:s|ing)?|contradict\w*|(?:don'?t|do\s+not)\s+(?:match|agree)|"
    r"(?:don'?t|do\s+not|doesn'?t|does\s+not)\s+(?:line\s+up|add\s+up|square)|"
    r"one\s+(?:number|figure|report|estimate|total|version|account)\b[^?]*\b(?:another|the\s+other|others?)\b|"
    r"inconsistent|discrepanc\w*|all\s+over\s+the\s+place|who\s+says\s+what|"
    r"(?:mixed|opposite|opposing|contrasting|contradictory|conflicting)\s+(?:reports|messages|signals|takes|views|"
    r"claims|accounts|opinions|stories|answers|numbers|figures)|"
    rf"{_ONE_SAYS}|(?:but|while)\s+(?:another|others?|the\s+other)\s+(?:one\s+)?(?:says?|said|had|has|gave|report\w*)|"
    rf"{_FIGURES}\s+(?:seems?\s+to\s+)?(?:vary|varies)|(?:don'?t|do\s+not|doesn'?t|does\s+not)\s+seem\s+to\s+(?:match|agree)|"
    r"some\s+(?:reports?|outlets?|sources?|articles?|people|sites?|say)\b[^?]*\bothers?|"
    r"(?:other|another)\s+(?:reports?|outlets?|sources?|articles?|sites?|story)\s+(?:says?|said|puts?|has|had|report\w*)|"
    rf"{_WHICH_RIGHT}|"
    r"not\s+sure\s+which|(?:seen|heard|read)\b[^?]*\b(?:but\s+also|and\s+also|as\s+well\s+as)|"
    r"(?:both|each|the\s+two)\s+sides?\s+(?:says?|said|argue\w*|claim\w*)|"
    r"what\s+(?:do|does|did)\s+(?:both|each|the\s+two)\s+sides?\s+say|"
    r"(?:seen|heard|read)\s+(?:both|two|2|a\s+few|several)\s+(?:numbers|figures|versions|accounts|reports|totals)|"
    r"(?:seen|heard|read)\s+both\s*(?:[.!?]|$)|"
    rf"(?:seen|heard|read)\s+(?:both\s+)?{_AMOUNT}\s+(?:and|or|vs\.?|versus)\s+{_AMOUNT})\b",
    re.I,
)
_ASIDE_BREAK = re.compile(r"\s*(?:[,;(]|\s[-–—]\s|\.\s)\s*")
# The same said in a clause of a one-sentence question: only a reader's own words, since a question's clause
# can itself ask whether two reports differ ("Does A suggest a different issue than B, and …?").
_ASIDE_CLAUSE = re.compile(
    rf"\b(?:{_FIGURES}\s+(?:vary|varies|(?:don'?t|do\s+not)\s+(?:match|agree))|"
    r"some\s+(?:reports?|outlets?|sources?|articles?|people|sites?|say)\b[^?]*\bothers?\s+(?:say|said|report)|"
    rf"{_WHICH_RIGHT}\b|not\s+sure\s+which|"
    r"i(?:'ve|\s+have)?\s+(?:seen|heard|read)\b[^?]*\b(?:but\s+also|and\s+also|different|conflicting)|"
    rf"conflicting\s+(?:reports|numbers|figures|accounts)|{_ONE_SAYS}|"
    # "… — but other reports say otherwise", "… — Meta and regulators seem to disagree"
    r"(?:but|while|though)\s+(?:other|another|some)\s+(?:reports?|outlets?|sources?|articles?|accounts?|sites?)\s+"
    r"(?:says?|said|suggest\w*|claim\w*|report\w*)|(?:seems?|appears?)\s+to\s+disagree|\bdisagree\s*[.?!]*\s*$)",
    re.I,
)
_WHY_DIFFER = re.compile(
    r"^\s*(?:why\s+(?:do|does|are|is)\b[^?]*\b(?:differ|disagree|conflict|contradict)\w*|"
    r"which\s+(?:figure|number|report|account|version)\s+is\s+(?:right|correct|true))",
    re.I,
)
_POSITION = re.compile(
    r"\b(?:position|stance|view|views|opinion|think|thinks|believe|believes|feel|feels|reaction|react\w*|"
    r"respon\w*|say|said|says|saying|stand\s+on|make\s+of|argue\w*|warn\w*|claim\w*|take\s+on|"
    r"(?:problems?|issues?|beef|gripes?)\s+with|objections?|complain\w*|critici[sz]\w*|"
    r"how\s+(?:does|do|did)\s+[^?]{1,60}?\s+(?:see|view|regard)|"
    r"how\s+(?:worried|concerned|optimistic|pessimistic|confident|hopeful|happy|unhappy|upset|angry|keen|"
    r"serious|sure)\s+(?:is|are|was|were)\b)\b",
    re.I,
)
_SUMMARY = re.compile(
    r"\b(?:what\s+happened|what\s+came\s+out|summar\w+|tell\s+me\s+about|overview|what\s+do\s+we\s+know|"
    r"what'?s\s+going\s+on|what\s+is\s+going\s+on|explain|recap|brief\s+me|what\s+was\s+(?:agreed|decided)|"
    r"what\s+were\s+the\s+(?:main|key)|key\s+points|outcome|"
    r"what(?:'s|’s|\s+is|\s+was)\s+(?:actually\s+|really\s+)?in\s+(?:the|his|her|their|its|[\w-]+['’]s)"
    r"(?:\s+[\w-]+){1,2}\s*(?:\?|$))",
    re.I,
)


@dataclass(frozen=True)
class Question:
    """One question as newsrag understands it (`text` is the standalone question a follow-up was rewritten to)."""

    text: str
    kind: str
    outlets: tuple[str, ...] = ()  # corpus outlets named, in order, each time it is named
    options: tuple[str, str] | None = None  # the two answers a choice question offers
    range: DateRange | None = None  # publication dates a relative date names
    as_of: date | None = None
    plan: QueryPlan = field(default_factory=lambda: QueryPlan(question=""))
    unknown_publications: tuple[str, ...] = ()  # publications it cites that the corpus lacks
    speaker: str = ""  # whose words an attribution question asks for ("Putin")

    @property
    def topic(self) -> str:
        """The question without its relative date phrase: what the sources must be about."""
        return _topic(self.text, self.range, self.kind)

    @property
    def named_outlets(self) -> list[str]:
        """Each outlet named, once, in order of first mention."""
        return list(dict.fromkeys(self.outlets))

    @property
    def is_verdict(self) -> bool:
        """Answered by one of two words (yes/no, or the question's own two options)."""
        return self.kind in ("yes_no", "choice")

    @property
    def is_written(self) -> bool:
        """Answered in prose from a few sources (see WRITTEN)."""
        return self.kind in WRITTEN


def kind_of(text: str, outlets_named: int = 0) -> str:
    """The kind of answer the question expects (see KINDS)."""
    request = bool(_REQUEST.match(text))
    body = _REQUEST.sub("", text) if request else text
    if _WHY_DIFFER.match(body) or _aside_at(body) is not None:
        return "conflict"
    if not request:
        if choice_options(body):
            return "choice"
        if expects_yes_no(body):
            if later := _later_kind(body):
                return later
            view = _VIEW_ASKED.match(body)
            who = view and (view.group("who") or view.group("says"))
            return "position" if who and not _REPORT.search(who) else "yes_no"
    if _ASKS_SUMMARY.match(body):
        return "summary"  # "What came out of…" reads like a "what X…" name question
    if expects_name(body):
        return "name"
    if not request and _AUXILIARY.match(body):
        return "open"  # "Does A…, or does it…?": a judgement between the question's own alternatives
    if outlets_named >= 2 and _COVERAGE.search(body):
        return "comparison"
    if _TIMELINE.search(body):
        return "timeline"
    if _LATEST.search(body):
        return "latest"
    if _HOW_WENT.match(body):
        return "summary"
    if _POSITION.search(body):
        return "position"
    if _SUMMARY.search(body):
        return "summary"
    return "open"


_WH = re.compile(r"^\s*(?:(?:and|so|also|ok(?:ay)?|but)\s+)?(?:who|what|how|why|which|where|when)\b", re.I)


def _later_kind(text: str) -> str | None:
    """The kind a second question asks after a yes/no one ("Is Twitch lowering the bar? what did its chief
    say"): the reader wants more than a yes or no. None when there is none, or it says no more."""
    _, mark, rest = text.partition("?")
    if not mark or not _WH.match(rest):
        return None
    kind = kind_of(rest.strip())
    return None if kind in ("open", "yes_no", "choice") else kind


def speaker_of(text: str) -> str:
    """Whose words the question asks for ("what did Putin say about…" -> "Putin"), or "" (a pronoun is no
    speaker; the caller blanks the outlets out, as a question about an outlet asks about its coverage)."""
    m = _SPEAKER.search(text)
    if not m:
        return ""
    who = re.sub(
        r"^(?:the|a|an)(?:\s+|$)", "", " ".join((m.group("who") or m.group("any")).split()), flags=re.I
    )
    return "" if not who or _NOT_A_SPEAKER.match(who) else who


def _aside_at(text: str) -> int | None:
    """Where a reader's aside that the sources disagree starts, after the first question mark or the question's
    first clause ("…? i keep seeing different numbers", "how many died, reports vary?"), or None."""
    head, mark, after = text.partition("?")
    if _DISAGREE.search(after):
        return len(head) + len(mark)
    # or what follows the first clause of a one-sentence question ("how many died, reports vary?")
    brk = _ASIDE_BREAK.search(head)
    return brk.start() if brk and _ASIDE_CLAUSE.search(head[brk.end() :]) else None


# How a reader asks for news ("what's the latest on", "any update on"): words no article about the story holds.
_NEWS_ON = re.compile(
    r"\b(?:(?:what(?:'s|\s+is|\s+are)\s+)?the\s+(?:latest|newest|most\s+recent)(?:\s+(?:news|updates?|developments?))?"
    r"(?:\s+(?:on|with|about|in|for|from)\b)?|(?:latest|newest)(?:\s+(?:news|updates?))?\s+(?:on|with|about)\b|"
    r"any\s+(?:new\s+)?(?:updates?|news|developments?)(?:\s+(?:on|with|about|in|from)\b)?|what'?s\s+new\s+(?:on|with|in)\b|"
    r"anything\s+new(?:\s+(?:on|with|about|in|from)\b)?|where\s+(?:do|does)\s+things\s+stand(?:\s+(?:with|on|in)\b)?|"
    r"(?:been\s+)?(?:doing\s+)?(?:lately|these\s+days)\b)",
    re.I,
)


# How a reader frames a request for an account ("so what came out of", "what's going on with", "X's take on"):
# words no article about the story holds, which would match any article that uses them.
_FRAMING = re.compile(
    r"^\s*(?:so|and|ok(?:ay)?|hey|also|well)\b[\s,]*|"
    r"\bwhat\s+came\s+(?:out\s+)?of\b|\bwhat(?:'s|’s|\s+is|\s+was|\s+has\s+been)\s+going\s+on\b(?:\s+(?:with|in|at|over)\b)?|"
    r"\bwhat\s+went\s+on\b(?:\s+(?:with|in|at)\b)?|\bwhat(?:'s|’s|\s+is)\s+(?:the\s+(?:deal|story)|up)\s+with\b|"
    r"\bwhatever\s+happened\s+(?:to|with)\b|\bwhat(?:'s|’s|\s+has)?\s+happened\b(?:\s+(?:with|to|at|in|between|over)\b)?|"
    r"\b(?:(?:can|could)\s+you\s+)?tell\s+me\s+(?:about|what)\b|"
    r"\b(?:(?:can|could)\s+you\s+)?(?:fill\s+me\s+in|catch\s+me\s+up|brief\s+me|bring\s+me\s+up\s+to\s+speed)"
    r"(?:\s+(?:on|about|with)\b)?|"
    r"\bgive\s+me\s+(?:an?\s+)?(?:overview|summary|rundown|recap)\b(?:\s+(?:of|on)\b)?|"
    r"(?<=['’]s)\s+take\s+on\b",
    re.I,
)
_ACCOUNTS = WRITTEN + ("timeline", "comparison", "conflict")


def _topic(text: str, date_range: DateRange | None, kind: str = "") -> str:
    aside = _aside_at(text)
    if aside is not None:  # the aside says how to answer, not what about
        text = text[:aside].rstrip(" ?") + "?"
    if kind == "latest":
        text = re.sub(r"\s{2,}", " ", _NEWS_ON.sub(" ", text)).strip() or text
    if kind in _ACCOUNTS and (went := _HOW_WENT.match(text)):
        text = f"{went.group('what')}{went.group('rest')}?"
    if kind in _ACCOUNTS:
        text = re.sub(r"\s{2,}", " ", _FRAMING.sub(" ", text)).strip() or text
    if date_range is None:
        return text
    return re.sub(r"\s{2,}", " ", text.replace(date_range.phrase, " ")).strip()


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    """The text with the given spans replaced by spaces (outlet names: "USA Today" is not today)."""
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


# Kinds a reader asks for in so many words ("the latest", "how has it unfolded", "the numbers vary").
_CUED = ("latest", "timeline", "conflict")


def read(
    text: str,
    outlets: list[str],
    as_of: date | None = None,
    default_year: int | None = None,
    asked: str = "",
) -> Question:
    """Read a (standalone) question against the corpus's outlets; relative dates resolve against `as_of`.
    `asked` is the follow-up as typed when `text` is its rewrite: the rewrite carries the previous question's
    words ("how did Nike's latest quarter go? what did they say about China?"), which do not make the follow-up
    ask for the latest news, a timeline or a conflict; its own words must."""
    default_year = default_year or (as_of.year if as_of else datetime.now(timezone.utc).year)
    mentions = outlet_spans(text, outlets, every=True)
    named = list(dict.fromkeys(o for _, _, o in mentions))
    kind = kind_of(text, len(named))
    if asked and kind in _CUED and kind_of(asked) != kind:
        kind = kind_of(asked, len(named))
        kind = "open" if kind == "choice" and not choice_options(text) else kind
    spans = [(start, end) for start, end, _ in mentions]
    date_range = resolve(_blank(text, spans), as_of) if as_of else None
    topic = _topic(text, date_range, kind)
    return Question(
        text=text,
        kind=kind,
        outlets=tuple(o for _, _, o in mentions),
        options=choice_options(text) if kind == "choice" else None,
        range=date_range,
        as_of=as_of,
        plan=plan(topic, outlets, default_year=default_year),
        unknown_publications=tuple(unknown_publications(text, outlets)),
        speaker=speaker_of(_blank(text, spans)) if kind == "position" else "",
    )


def as_question(question: Question | str, outlets: list[str] = ()) -> Question:
    """`question` itself, or a string read without an as-of date (for callers outside the answer path)."""
    return question if isinstance(question, Question) else read(question, list(outlets))
