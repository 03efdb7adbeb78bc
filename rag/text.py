"""The one vocabulary of newsrag: sentences, words, stems, stop words, calendar words and name patterns.

Three tokenisers serve three jobs, all with one Snowball stemmer:
    terms        stemmed content words (stop words and question scaffolding dropped): evidence and citations
    bm25_tokens  the keyword index's tokens (bm25s's English stop words, stemmed)
    words        plain lower-cased letter-and-digit words, unstemmed: comparing names and outlets
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

_SPLIT = re.compile(r"(?<=[.!?])([\"'”’)\]]*)\s+(?=[\"'“‘(\[]?[A-Z0-9])")
_ABBREV = {
    "mr",
    "mrs",
    "ms",
    "dr",
    "st",
    "vs",
    "no",
    "inc",
    "co",
    "corp",
    "jr",
    "sr",
    "gen",
    "gov",
    "sen",
    "rep",
    "jan",
    "feb",
    "mar",
    "apr",
    "jun",
    "jul",
    "aug",
    "sep",
    "sept",
    "oct",
    "nov",
    "dec",
    "u.s",
    "u.k",
    "e.g",
    "i.e",
    "etc",
    "prof",
    "lt",
    "col",
    "capt",
}
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’\-]*")
_NUMBER = re.compile(r"\d[\d,.]*\d|\d")

# Words that carry no claim: question scaffolding and reporting verbs.
EXTRA_STOP = {
    "its",
    "article",
    "articles",
    "report",
    "reported",
    "reports",
    "reporting",
    "according",
    "source",
    "sources",
    "news",
    "say",
    "says",
    "said",
    "mention",
    "mentioned",
    "mentions",
    "published",
    "publish",
    "which",
    "what",
    "who",
    "whom",
    "whose",
    "when",
    "where",
    "why",
    "how",
    "does",
    "did",
    "do",
    "is",
    "was",
    "were",
    "are",
    "has",
    "have",
    "had",
    "also",
    "both",
    "between",
    "after",
    "before",
    "than",
    "then",
    "yes",
    "no",
    "answer",
    "question",
    "based",
    "information",
    "provided",
    "one",
    "entity",
    "person",
    "company",
    "organization",
    "individual",
    "suggest",
    "suggests",
    "indicate",
    "indicates",
    "regarding",
    "about",
}

# A people or its adjective is its country ("Norwegian coast" answers "Norway"; "Russian officials", "Russia").
# Ambiguous ones ("American", "Polish", "English") are left out.
_COUNTRY_OF = {
    "afghan": "afghanistan",
    "argentine": "argentina",
    "argentinian": "argentina",
    "aussie": "australia",
    "australian": "australia",
    "austrian": "austria",
    "belgian": "belgium",
    "brazilian": "brazil",
    "british": "britain",
    "bulgarian": "bulgaria",
    "canadian": "canada",
    "chinese": "china",
    "croatian": "croatia",
    "danish": "denmark",
    "dutch": "netherlands",
    "egyptian": "egypt",
    "estonian": "estonia",
    "european": "europe",
    "finnish": "finland",
    "french": "france",
    "german": "germany",
    "greek": "greece",
    "hungarian": "hungary",
    "indian": "india",
    "iranian": "iran",
    "iraqi": "iraq",
    "irish": "ireland",
    "israeli": "israel",
    "italian": "italy",
    "japanese": "japan",
    "kenyan": "kenya",
    "korean": "korea",
    "latvian": "latvia",
    "lebanese": "lebanon",
    "lithuanian": "lithuania",
    "mexican": "mexico",
    "nigerian": "nigeria",
    "norwegian": "norway",
    "pakistani": "pakistan",
    "palestinian": "palestine",
    "portuguese": "portugal",
    "romanian": "romania",
    "russian": "russia",
    "saudi": "saudi",
    "scottish": "scotland",
    "serbian": "serbia",
    "spanish": "spain",
    "swedish": "sweden",
    "swiss": "switzerland",
    "syrian": "syria",
    "taiwanese": "taiwan",
    "turkish": "turkey",
    "ukrainian": "ukraine",
    "vietnamese": "vietnam",
    "welsh": "wales",
}

MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
# Months and weekdays: capitalised, but not the names a question is about or an answer gives.
CALENDAR = frozenset(MONTHS + WEEKDAYS)

# Capitalised names, three ways (each tuned to what it reads, so they differ in detail):
# a run of capitalised words joined by "of", "the", "de": the names a question is about;
CAPITALISED_RUN = re.compile(r"(?<![\w'’])([A-Z][\w'’&.-]*(?:\s+(?:of\s+|the\s+|de\s+)?[A-Z][\w'’&.-]*)*)")
# the same with initials, digits and more particles ("Bank of England", "Ludwig van Beethoven"): names in evidence;
NAME_SPAN = re.compile(
    r"(?<![\w'’])([A-Z][\w'’&-]*(?:\.[A-Z][\w'’&-]*)*\.?"
    r"(?:\s+(?:of\s+|the\s+|de\s+|van\s+|von\s+|&\s+)?[A-Z0-9][\w'’&-]*(?:\.[A-Z][\w'’&-]*)*)*)"
)
# a regex fragment for a publication's name, "|" and " - " allowed ("BBC News - Technology"): outlets cited.
PUBLICATION_NAME = r"((?:the\s+)?[A-Z][\w&.'’-]*(?:\s+(?:of\s+|and\s+|for\s+|\|\s+|-\s+)?[A-Z][\w&.'’-]*)*)"


@lru_cache(maxsize=1)
def _stop() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN) | EXTRA_STOP


@lru_cache(maxsize=1)
def stemmer():
    """The Snowball English stemmer every tokeniser here uses."""
    import Stemmer

    return Stemmer.Stemmer("english")


def chunk_body(chunk_text: str) -> str:
    """A chunk without its header (title / outlet | date / blank line): every chunk of an article shares it."""
    return chunk_text.split("\n\n", 1)[-1]


_DATELINE = re.compile(r"^[^\n]*\n[^\n]*\|\s*(\d{4}-\d{2}-\d{2})")


def chunk_title(chunk_text: str) -> str:
    """The headline in a chunk's header, or "" for a text without one."""
    return chunk_text.split("\n", 1)[0] if _DATELINE.match(chunk_text) else ""


def chunk_day(chunk_text: str) -> str:
    """The publication day in a chunk's header ("Title\nOutlet | 2025-03-06"), or "9999" when undated."""
    m = _DATELINE.match(chunk_text)
    return m.group(1) if m else "9999"


def split_sentences(text: str) -> list[str]:
    out: list[str] = []
    for para in re.split(r"\n+", text):
        pieces = _SPLIT.split(para)
        # re.split keeps the captured closing quotes: glue them back onto their sentence.
        merged: list[str] = []
        for i in range(0, len(pieces), 2):
            piece = pieces[i] + (pieces[i + 1] if i + 1 < len(pieces) else "")
            if merged and _ends_with_abbrev(merged[-1]):
                merged[-1] = f"{merged[-1]} {piece}"
            else:
                merged.append(piece)
        out += [m.strip() for m in merged if m.strip()]
    return out


def _ends_with_abbrev(sentence: str) -> bool:
    if not sentence.endswith("."):
        return False
    word = sentence[:-1].rsplit(None, 1)[-1].lower() if sentence[:-1].split() else ""
    return word in _ABBREV or (len(word) == 1 and word.isalpha())


@lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    return stemmer().stemWord(word)


# The country written as such (or "the us", as people type it); otherwise a lower-case "us" is the pronoun
# ("those of us"), not a term.
_US = re.compile(r"\bU\.S\.(?:A\.)?|\bUSA?\b|\bUnited States\b|\bunited states\b|(?<=\b[Tt]he )us\b")


def terms(text: str) -> list[str]:
    """Lower-cased, stemmed content words (stop words and question scaffolding dropped)."""
    stop = _stop()
    out = []
    text = _US.sub(" usa ", text)
    for w in _WORD.findall(text.lower()):
        w = w.strip("'’-").replace("’", "'")
        if w.endswith("'s"):
            w = w[:-2]
        if len(w) < 2 and not w.isdigit() or w in stop or w == "us":
            continue
        if w[-1] == "s" and w[:-1] in _COUNTRY_OF:  # "Ukrainians"
            w = w[:-1]
        out.append(_stem(_COUNTRY_OF.get(w, w)))
    return out


def bm25_tokens(texts: list[str]) -> list[list[str]]:
    """The keyword index's tokens of each text (bm25s's tokenizer: English stop words, stemmed)."""
    import bm25s

    return bm25s.tokenize(texts, stopwords="en", stemmer=stemmer(), return_ids=False, show_progress=False)


def bm25_corpus(texts: list[str]):
    """`bm25_tokens` of a corpus, in the id form `bm25s.BM25.index` takes."""
    import bm25s

    return bm25s.tokenize(texts, stopwords="en", stemmer=stemmer(), show_progress=False)


_SECTION = re.compile(r"\s+[|–-]\s+|:\s+")


def outlet_head(outlet: str) -> str:
    """The outlet's name before its tagline or section: "The Independent - Sports" -> "The Independent"."""
    return _SECTION.split(outlet.strip(), maxsplit=1)[0]


def of_outlet(source: str, named: str) -> bool:
    """Whether an article's `source` is the outlet `named`, or one of its sections when `named` is the name they
    share ("The Independent - Sports" is of "The Independent"). Case does not matter."""
    source, named = source.lower(), named.lower()
    return source == named or outlet_head(source) == named


def named_outlet(source: str, named: Iterable[str]) -> str:
    """The first of the `named` outlets that `source` is (or is a section of: `of_outlet`), or ""."""
    return next((o for o in named if of_outlet(source, o)), "")


def words(text: str) -> list[str]:
    """Lower-cased letters-and-digits words: "Bankman-Fried's" -> ["bankman", "fried", "s"]."""
    return re.findall(r"[a-z0-9]+", text.lower())


def numbers(text: str) -> set[str]:
    return {n.replace(",", "").rstrip(".") for n in _NUMBER.findall(text)}


def overlap(claim_terms: list[str], evidence_terms: set[str]) -> float:
    """Share of the claim's distinct terms found in the evidence."""
    distinct = set(claim_terms)
    return len(distinct & evidence_terms) / len(distinct) if distinct else 0.0
