"""Attribution: whether a sentence gives someone's own words ("Lavrov said…"), for questions that ask what a
person or body said."""

from __future__ import annotations

import re

from rag.text import chunk_title, split_sentences, terms

# Words that make the name before them a speaker ("Lavrov said", "Warren shamed Apple in a post"), and those that
# make the name after them one ("said Lavrov", "according to Lavrov").
_SPEECH = re.compile(
    r"(?:said|says|saying|told|tells|wrote|writes|posted|posts|tweeted|added|adds|argued|argues|warned|warns|"
    r"stated|states|claimed|claims|insisted|insists|denied|denies|announced|announces|responded|responds|"
    r"replied|replies|declared|declares|noted|notes|called|calls|urged|urges|critici[sz]ed|slammed|blasted|"
    r"shamed|praised|hailed|welcomed|rejected|dismissed|accused|admitted|acknowledged|commented|testified|"
    r"explained|described|believes|thinks|threatened|vowed|promised|pledged|suggested|questioned|predicted|"
    r"conceded|countered|stressed|emphasi[sz]ed|messages?|statement|remarks|comments|interview|letter|tweet)",
    re.I,
)
_SPEAKER_AFTER = re.compile(r"(?:said|says|according|added|wrote|per)", re.I)
_OBJECT_OF = {"to", "at", "asked", "with", "against", "about", "urged", "told", "by"}
_TOKEN = re.compile(r"[\w'’.-]+|[:“\"]")


# A speaker named by role ("twitch's monetization boss", "the coach"): the articles name the person, and a
# role's words ("boss") are rarely theirs, so whose words they are cannot be checked by name.
_ROLE = re.compile(
    r"\b(?:boss|bosses|chief|ceo|cfo|cto|head|executive|exec|officer|spokes(?:person|man|woman)|minister|"
    r"president|chair(?:man|woman|person)?|director|manager|coach|founder|leader|official|officials|lawyer|"
    r"lawyers|analyst|analysts|regulators?|owner|owners|founders|governor|mayor|secretary|commissioner|"
    r"economist|economists|experts?|critics?|fans|players?|staff|employees|workers|unions?)$",
    re.I,
)


def by_role(speaker: str) -> bool:
    """Whether the speaker is named by role, not by name ("Twitch's monetization boss"), or is a group named by a
    plural common noun ("relationship therapists", "pet owners"): whose words they are cannot be checked by name
    either."""
    last = (speaker.split() or [""])[-1]
    group = len(last) > 4 and last.islower() and last.endswith("s") and not last.endswith("ss")
    return bool(_ROLE.search(speaker.strip())) or group


def speaks(speaker: str, sentence: str) -> bool:
    """Whether the sentence gives words of the speaker's: its last name or word with a speech word within the
    next four ("Lavrov said", "Cue had two messages:"), a quote or colon right after it, or "said"/"according
    to" just before it."""
    key = terms(speaker)[-1:]
    tokens = _TOKEN.findall(sentence)
    for at, token in enumerate(tokens):
        if not key or terms(token)[:1] != key:
            continue
        after = tokens[at + 1 : at + 5]
        if after and after[0] in (":", "“", '"'):
            return True
        if at and tokens[at - 1].lower() in _OBJECT_OF:
            continue  # "a letter to Musk, Breton writes": spoken to, not speaking
        if any(_SPEECH.fullmatch(t.strip(".,:;")) for t in after):
            return True
        if any(_SPEAKER_AFTER.fullmatch(t) for t in tokens[max(0, at - 3) : at]):
            return True
    return False


# Words that ask for a view rather than say what it is about.
_VIEW_WORDS = frozenset(
    terms("think believe feel view stance position opinion reckon actually react response reaction comment")
)


def quoted(speaker: str, texts: list[str], topic: str = "") -> bool:
    """Whether one of the texts gives the speaker's words, and the texts hold the rest of the speaker's name;
    with a `topic` (the question), words on it: the sentence or one beside it holds one of its other terms, or
    the article's headline two of them."""
    if not set(terms(speaker)) <= {t for text in texts for t in terms(text)}:
        return False
    about = set(terms(topic)) - set(terms(speaker)) - _VIEW_WORDS
    for text in texts:
        # words quoted in an article whose headline names the topic are on it ("we were poor", in a match report)
        on_topic = len(about & set(terms(chunk_title(text)))) >= min(2, len(about))
        sentences = split_sentences(text)
        for at, sentence in enumerate(sentences):
            if not speaks(speaker, sentence):
                continue
            near = " ".join(sentences[max(0, at - 1) : at + 2])
            if not about or on_topic or about & set(terms(near)):
                return True
    return False


def as_written(name: str, texts: list[str]) -> str:
    """The name as the texts capitalise it ("putin" -> "Putin"), or as given."""
    for text in texts:
        for m in re.finditer(rf"\b{re.escape(name)}\b", text, re.I):
            if m.group(0)[0].isupper():
                return m.group(0)
    return name
