"""Names a name answer may be: those the evidence holds, how many sources hold each, and their full form.

A small model asked "who...?" sometimes gives a name that no sentence it was shown holds ("Sam Altman"
where every source says "Bankman-Fried"), or one source's name where the question's other claims, each
from another source, all point to someone else. Its answer is checked against that evidence: when the
answer's head word is in no source's sentences while another name is in two or more, or in one source
while another name is in three or more, the best-corroborated names of the evidence are the alternatives
it is asked to choose from. A source calling someone by initials ("SBF") holds that name.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Callable

from rag.answer.citations import Source
from rag.text import CALENDAR, NAME_SPAN, chunk_body, split_sentences, terms, words
from rag.tuning import DEFAULT, Tuning

_ACRONYM = re.compile(r"[A-Z]{2,5}")  # "SBF", "AOC": news shortens a name it has given in full

# Capitalised words that open a sentence or a span without being part of a name.
_LEADING = frozenset(
    "the a an in on but and for it this that these those he she they we i as at if when while after before with by "
    "from his her its their our there what who to so or not no yes mr ms mrs dr however meanwhile also according "
    "still now then here why how".split()
)
# Titles and roles that open a name's span ("French President Emmanuel Macron", "CEO Caroline Ellison").
_TITLES = frozenset(
    "president prime minister chancellor foreign defence defense finance home secretary deputy vice former chief "
    "executive ceo cfo cto coo chair chairman chairwoman judge justice senator sen rep representative governor gov "
    "mayor king queen prince princess pope general gen coach head director founder co-founder analyst commissioner "
    "ambassador attorney lawyer spokesperson spokesman spokeswoman captain manager officer leader premier professor "
    "prof sir dame lord lady dr mr mrs ms".split()
)


def _head(name: str) -> str:
    """The word a name is known by: its last ("Bankman-Fried" for "Sam Bankman-Fried")."""
    found = words(re.sub(r"['’]s$", "", name))
    return found[-1] if found else ""


def _clean(span: str) -> str:
    span = re.sub(r"['’]s$", "", span.strip(" .,;:'’\"“”"))
    kept = span.split()
    while kept and kept[0].lower() in _LEADING:
        kept = kept[1:]
    return " ".join(kept)


def _untitled(name: str) -> str:
    """The name without the titles, roles and possessives before it: "Fed Chair Paul Volcker" -> "Paul
    Volcker", "CNBC's Dawn Giel" -> "Dawn Giel" (a word before a title goes with it: "French President").
    Two words always stay: "General Motors", "Premier League" and "Justice Department" are names."""
    kept = name.split()
    while len(kept) > 2 and (
        kept[0].lower() in _TITLES or kept[1].lower() in _TITLES or kept[0].endswith(("'s", "’s"))
    ):
        kept = kept[1:]
    return " ".join(kept)


# "European troops", "British and French plans": a nationality before a noun describes, it names no one.
_DEMONYM = re.compile(r"[A-Z][a-z]+(?:ean|ian|ese|ish|ch|an|i)")
_NOUN_AFTER = re.compile(r"\s*[\"“]?(?:and\s+[A-Z][a-z]+\s+)?[a-z]")
_VERBS = frozenset("said says told added asked wrote warned spoke argued noted replied".split())


def _adjectival(name: str, after: str) -> bool:
    """A one-word nationality used as an adjective ("European troops"), not a name."""
    if " " in name or not _DEMONYM.fullmatch(name) or not _NOUN_AFTER.match(after):
        return False
    following = after.split()
    return bool(following) and following[0].strip('"“') not in _VERBS


def spans(text: str) -> list[tuple[str, bool]]:
    """Each capitalised span of the text (leading function words dropped, nationalities used as adjectives left
    out), and whether it opens its sentence."""
    out = []
    for sentence in split_sentences(text):
        for match in NAME_SPAN.finditer(sentence):
            name = _untitled(_clean(match.group(1)))
            if name and not _adjectival(name, sentence[match.end() :]):
                out.append((name, not sentence[: match.start()].strip(" \"'“‘(")))
    return out


def initials(name: str) -> str:
    """The capitals a name's words (and their hyphenated parts) begin with: "Sam Bankman-Fried" -> "SBF"."""
    return "".join(part[0] for part in re.split(r"[\s-]+", name) if part[:1].isupper())


def _same_as_acronym(acronym: str, name: str, expand: Callable[[str], str] | None) -> bool:
    """Whether an acronym ("SBF") stands for the name, as the sources give it or in its full form."""
    short = initials(name)
    if len(short) < 2 or not acronym.endswith(short) or name.isupper():
        return False
    return short == acronym or expand is not None and initials(expand(name)) == acronym


def _asked(question: str, outlets: list[str]) -> set[str]:
    """The question's own terms and the outlets': never the name it asks for."""
    return set(terms(question)) | {t for outlet in outlets for t in terms(outlet)}


def evidence_names(
    question: str, sources: list[Source], outlets: list[str], expand: Callable[[str], str] | None = None
) -> list[tuple[str, int]]:
    """The names in the sources' evidence sentences that the question does not itself name (nor an outlet),
    each in its fullest form in the sources and with the number of stories whose evidence holds it; the most
    corroborated first, then by the first source holding it. An acronym counts as the name whose initials it
    is ("SBF" for "Bankman-Fried", whose full form, by `expand`, is "Sam Bankman-Fried")."""
    asked = _asked(question, outlets)
    bodies = " ".join(chunk_body(s.text) for s in sources)
    inside = {name for name, opens in spans(bodies) if not opens}  # where a capital marks a name
    inside_words = {w for name in inside for w in name.split()}
    fuller: dict[str, list[str]] = defaultdict(list)  # by head word: the longer forms a name may take
    for name in inside:
        if len(name.split()) <= 4:
            fuller[_head(name)].append(name)
    held: dict[str, set[str | int]] = defaultdict(set)
    first: dict[str, tuple[int, int]] = {}
    form: dict[str, str] = {}
    for s in sources:
        for place, (name, opens) in enumerate(spans(s.evidence)):
            if opens and len(name.split()) == 1 and name not in inside_words:
                continue  # "Back", "International": a sentence's first word, not a name
            own = set(terms(name))
            key = _head(name)
            if not own or own <= asked or key in CALENDAR or not key or key.isdigit():
                continue
            held[key].add(
                s.story_id or s.n
            )  # copies of one wire story corroborate nothing: one story, one count
            first.setdefault(key, (s.n, place))
            best = max(fuller[key] + [name], key=lambda n: (len(n.split()), n == name))
            if key not in form or len(best.split()) > len(form[key].split()):
                form[key] = best
    for key in [k for k in held if _ACRONYM.fullmatch(form[k].split()[-1])]:  # "SBF", "the SBF"
        acronym = form[key].split()[-1]
        same = next((k for k in held if k != key and _same_as_acronym(acronym, form[k], expand)), None)
        if same:
            held[same] |= held.pop(key)
            first[same] = min(first[same], first.pop(key))
    order = sorted(held, key=lambda k: (-len(held[k]), first[k]))
    return [(form[k], len(held[k])) for k in order]


def leading_name(
    question: str, chunks: list[tuple[str, str]], outlets: list[str], tuning: Tuning = DEFAULT
) -> str | None:
    """The name that the most articles among these chunks ((article id, text) pairs) hold, the question's own
    names and outlets aside, when at least `tuning.leading_articles` hold it and more than hold any other name: what
    the results for a who/which question are about ("FTX", "Google")."""
    asked = _asked(question, outlets)
    held: dict[str, set[str]] = defaultdict(set)
    form: dict[str, str] = {}
    for article, text in chunks:
        for name, opens in spans(chunk_body(text)):
            own = set(terms(name))
            if opens and len(name.split()) == 1 or not own or own <= asked:
                continue  # a sentence's first word, or a name the question gives
            key = _head(name)
            if key in CALENDAR:
                continue
            held[key].add(article)
            form.setdefault(key, name)
    ranked = sorted(held, key=lambda key: -len(held[key]))
    if (
        not ranked
        or len(held[ranked[0]]) < tuning.leading_articles
        or len(ranked) > 1
        and len(held[ranked[1]]) == len(held[ranked[0]])
    ):
        return None
    return form[ranked[0]]


def alternatives(
    answer: str,
    question: str,
    sources: list[Source],
    outlets: list[str],
    expand: Callable[[str], str] | None = None,
    tuning: Tuning = DEFAULT,
) -> list[str]:
    """The best-corroborated names of the evidence when the answer (a name) is not corroborated by it, best
    first; empty when the answer stands. `expand` gives a name's full form (see `evidence_names`)."""
    head = _head(answer)
    if not head or len(words(answer)) > tuning.longest_answer:
        return []
    holding = sum(1 for s in sources if head in words(f"{s.source} {s.evidence}"))
    names = evidence_names(question, sources, outlets, expand)
    if not names:
        return []
    most = names[0][1]
    if not (holding == 0 and most >= tuning.corroborated or holding <= 1 and most >= tuning.widely):
        return []
    return [name for name, count in names if count == most and _head(name) != head]


def _is_name(word: str, text: str) -> bool:
    """Capitalised in the text more often than not, and no title or function word."""
    return (
        word.lower() not in _TITLES
        and word.lower() not in _LEADING
        and len(re.findall(rf"\b{re.escape(word)}\b", text))
        > len(re.findall(rf"\b{re.escape(word.lower())}\b", text))
    )


def full_name(name: str, texts: list[str], tuning: Tuning = DEFAULT) -> str:
    """A one-word name with the names that news puts before it on first mention ("Bankman-Fried" -> "Sam
    Bankman-Fried", "Chiefs" -> "Kansas City Chiefs"): those that most often precede the name's first mention
    in the texts holding it, when they do so in at least `tuning.first_mention` of them, clearly more often than any
    others, and are names themselves (capitalised more often than not, no titles); else the name as it is
    ("Apple", not "Prime Day Apple")."""
    if len(name.split()) != 1:
        return name
    pattern = re.compile(rf"(?<![\w'’-])((?:[A-Z][\w'’-]+ ){{0,2}}){re.escape(name)}(?![\w-])")
    firsts = []
    for text in texts:
        if name in text:
            match = pattern.search(chunk_body(text))
            if match:
                firsts.append((text, match.group(1).split()))
    joined = "\n".join(text for text, _ in firsts)
    checked: dict[str, bool] = {}

    def is_name(word: str) -> bool:
        if word not in checked:
            checked[word] = _is_name(word, joined)
        return checked[word]

    before: Counter[str] = Counter()
    for _, words_before in firsts:
        while words_before and (
            not is_name(words_before[0]) or len(words_before) > 1 and words_before[1].lower() in _TITLES
        ):
            words_before = words_before[1:]  # "But Sam Bankman-Fried": "Sam"; "Chinese President Xi": none
        before[" ".join(words_before)] += 1
    named = [(count, form) for form, count in before.most_common() if form]
    if (
        not named
        or named[0][0] < 2
        or named[0][0] < tuning.first_mention * len(firsts)
        or len(named) > 1
        and named[0][0] <= 2 * named[1][0]
    ):
        return name
    return f"{named[0][1]} {name}"
