"""The answer's text, shaped by the kind of question: the prompt the LLM reads, and the parts the code builds
from the sources (verdicts and names followed by the sentences that back them, dated timelines, one line per
outlet). A model this small writes short parts well and structure badly, so the structure is built here."""

from __future__ import annotations

import re

from rag.answer.answerable import named_entities
from rag.answer.citations import Source, markers, place_markers, strip_markers
from rag.answer.figures import Asked, asked_figure, asked_when, holds
from rag.answer.prompts import render
from rag.answer.result import NO_ANSWER
from rag.answer.sources import Embed, format_sources, is_instruction, is_promo, shared_terms, similarities
from rag.query.read import Question, as_question
from rag.text import chunk_body, named_outlet, numbers, of_outlet, split_sentences, terms
from rag.tuning import DEFAULT, Tuning

# The prompt instruction of each kind the LLM writes for (prompts/instruction_<name>.txt).
_INSTRUCTIONS = {
    "yes_no": "yes_no",
    "name": "name",
    "position": "position",
    "summary": "summary",
    "open": "open",
}


def instruction(question: Question | str) -> str:
    """The last line of the answer prompt, by the kind of answer the question expects."""
    question = as_question(question)
    if question.options:
        a, b = question.options
        return render("instruction_choice", a=a.capitalize(), b=b).strip()
    return render("instruction_" + _INSTRUCTIONS.get(question.kind, "open")).strip()


def messages(question: Question | str, sources: list[Source]) -> list[dict[str, str]]:
    """The answer prompt. For a question answered in the LLM's own sentences, the shape of the answer is left
    to its instruction (and `select_sources` gives it fewer words of evidence)."""
    question = as_question(question)
    shape = render("shape_written" if question.is_written else "shape_direct").strip()
    return [
        {"role": "system", "content": render("system", shape=shape)},
        {
            "role": "user",
            "content": render(
                "answer",
                sources=format_sources(sources),
                question=question.text,
                instruction=instruction(question),
            ),
        },
    ]


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
        best = next(
            (
                (n, sentence)
                for _, _, sentence, n in scored
                if of_outlet(outlet_of[n], outlet) and n not in chosen
            ),
            None,
        )
        if best:
            chosen[best[0]] = best[1]
    limit = max(max_sentences, len(chosen))
    for hit, _, sentence, n in scored:
        if len(chosen) >= limit or 2 * hit < scored[0][0]:
            break  # a sentence sharing one word of a long question is not evidence for it
        chosen.setdefault(n, sentence)
    picked = [place_markers(sentence.strip(), f"[{n}]") for n, sentence in chosen.items()]
    return " ".join(picked) if picked else NO_ANSWER


def verdict_answer(yes: bool, question: Question | str, sources: list[Source]) -> str:
    """A yes/no verdict followed by the source sentences it rests on, each cited: nothing left to invent.
    Each outlet the question names gets its own sentence."""
    return choice_answer("yes" if yes else "no", question, sources)


def choice_answer(option: str, question: Question | str, sources: list[Source]) -> str:
    """The answer chosen ("Yes", "Consistent"), then the source sentences it rests on, each cited; each outlet
    the question names gets its own sentence."""
    question = as_question(question)
    evidence = extractive(question.text, sources, max_sentences=2, outlets=question.named_outlets[:3])
    return _lead_and_quotes(option.capitalize(), evidence)


def _lead_and_quotes(lead: str, evidence: str) -> str:
    """ "Lead [1][2]. Quote one [1]. Quote two [2].": the lead carries the markers of the quotes after it."""
    if evidence == NO_ANSWER:
        return f"{lead}."
    marks = "".join(dict.fromkeys(re.findall(r"\[\d+\]", evidence)))
    return f"{lead} {marks}. {evidence}"


def lead(reply: str, question: str = "") -> str:
    """The name a reply gives: its first line and sentence without markers (or "[Source 1]"-style ones), cut
    at a clause when long, and without a tail that only repeats the question ("Starmer announced the coalition"
    to "Who announced the coalition?" is "Starmer")."""
    text = re.sub(r"\s*\[[^\]]*\]", "", strip_markers(reply)).split("\n")[0]
    text = re.split(r"(?<=[a-z0-9)%\"'”’])[.!?](?:\s|$)", text, maxsplit=1)[0].strip(" .,;:")
    if len(text.split()) > 12:
        text = re.split(r",|\s+(?:is|was|are|were|has|had|who|which)\s+", text, maxsplit=1)[0].strip(" .,;:")
    asked = set(terms(question))
    words = text.split()
    for at in range(1, len(words)):
        tail = set(terms(" ".join(words[at:])))
        # the tail starts with an auxiliary ("was convicted") or the question's verb and its object ("announced
        # the coalition"), not a name, "and", or the noun of a count ("620 flights")
        starts = _AUXILIARY_WORD.fullmatch(words[at]) or (
            len(words) - at >= 2 and words[at].islower() and set(terms(words[at])) & asked
        )
        if starts and tail and tail <= asked and terms(" ".join(words[:at])):
            return " ".join(words[:at]).strip(" .,;:")
    return text


_AUXILIARY_WORD = re.compile(r"(?:is|was|are|were|has|had|have|will|would|did|does|do)", re.I)


def invented(name: str, sources: list[Source]) -> bool:
    """Whether a name answer holds a number, or most of a name, that no source holds."""
    everything = " ".join(src.text for src in sources)
    name_terms = set(terms(name))
    held = name_terms & set(terms(everything))
    return bool(numbers(name) - numbers(everything)) or bool(name_terms) and 2 * len(held) <= len(name_terms)


def named_answer(reply: str, question: Question | str, sources: list[Source]) -> str:
    """The name the LLM gave, then the source sentences that mention it and match the question best, each
    cited; the best-matching sentences when none mentions it beside a question term. Each outlet the
    question names comes first."""
    read = as_question(question)
    question = read.text
    name = lead(reply, question)
    if not terms(name) or invented(name, sources):
        return NO_ANSWER  # a lone letter or word like "it" names nothing; an invented name: the sources do not say
    name_terms, q_terms = set(terms(name)), set(terms(question))
    named = read.named_outlets[:3]
    need = max(
        1, len(name_terms) - (len(name_terms) >= 3)
    )  # "Sam Bankman-Fried" may appear as "Bankman-Fried"
    scored = []
    for src in sources:
        for sentence in split_sentences(chunk_body(src.text)):
            got = set(terms(sentence))
            hits = len((q_terms - name_terms) & got)
            if len(name_terms & got) >= need and hits:
                scored.append(
                    (
                        not named_outlet(src.source, named),
                        -len(name_terms & got),
                        -hits,
                        src.n,
                        sentence,
                    )
                )
    # two of the question's terms beside the name where some sentence has them, else one: a sentence that
    # holds the name beats the best-matching one that does not
    scored = sorted(x for x in scored if x[2] <= -2) or sorted(scored)
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
    return not lowered.strip() or any(
        p in lowered
        for p in (
            "sources do not say",
            "sources don't say",
            "do not contain",
            "does not contain",
            "not mentioned",
            "no information",
            "not enough information",
            "insufficient information",
            "cannot answer",
            "can't answer",
            "cannot be determined",
            "not provided",
        )
    )


def rewrite_messages(
    question: str, history: list[dict[str, str]], tuning: Tuning = DEFAULT
) -> list[dict[str, str]]:
    lines = [f"{turn['role']}: {content}" for turn, content in _shown(history, tuning)]
    return [{"role": "user", "content": render("rewrite", history="\n".join(lines), question=question)}]


def _shown(history: list[dict[str, str]], tuning: Tuning) -> list[tuple[dict[str, str], str]]:
    """The turns a rewrite is shown, each with its (shortened) text."""
    return [(turn, turn["content"][: tuning.history_chars]) for turn in history[-tuning.history_turns :]]


def heuristic_rewrite(question: str, history: list[dict[str, str]]) -> str:
    """Without an LLM: carry the previous question's terms into a follow-up."""
    previous = _previous_question(history)
    return f"{previous} {question}".strip() if previous else question


def with_context(question: str, history: list[dict[str, str]]) -> str:
    """The follow-up with the previous question's content words it lacks, in brackets: what a search needs from
    the conversation, while the follow-up's own words still decide its kind."""
    own = set(terms(question))
    words: list[str] = []
    for word in re.findall(r"[A-Za-z0-9][\w'’-]*", _previous_question(history)):
        found = terms(word)
        if found and found[0] not in own:
            own.add(found[0])
            words.append(word)
    return f"{question} ({' '.join(words)})" if words else question


def resolved(rewrite: str, question: str) -> bool:
    """Whether an LLM's standalone rewrite of a follow-up added anything to it (a name, a topic): a small model
    often hands back the follow-up as it was, which searches for nothing the conversation was about."""
    return bool(set(terms(rewrite)) - set(terms(question)))


_WH_WORD = re.compile(r"\b(who|whom|whose|what|when|where|why|how|which)\b", re.I)


def asks_the_same(rewrite: str, question: str) -> bool:
    """Whether a rewrite still asks what the follow-up asks: one asking who, when or where, where the follow-up
    asked something else ("how did they meet?" -> "Who did Eileen and Jeff Shiffrin meet…?"), asks for
    another kind of answer. "how big was the fine?" -> "What was the fine…?" is the same question."""
    asked, now = _WH_WORD.search(question), _WH_WORD.search(rewrite)
    if not now or now.group(1).lower() not in ("who", "whom", "when", "where"):
        return True
    return not asked or asked.group(1).lower() == now.group(1).lower()


def unsaid_names(
    rewrite: str, question: str, history: list[dict[str, str]], tuning: Tuning = DEFAULT
) -> list[str]:
    """Names an LLM's rewrite of a follow-up gives that the conversation it was shown never mentions: a small
    model invents who "they" met ("What did Trump say when he met with Putin?"). A name counts as said when
    one of its words is (a demonym for its country: "Russian" for "Russia") or its initials are ("EU")."""
    shown = [question] + [content for _, content in _shown(history, tuning)]
    said = set(re.findall(r"\w+", " ".join(shown).lower()))
    unsaid = []
    for name in named_entities(rewrite):
        words = [w.lower() for w in re.findall(r"\w+", name) if w[0].isupper()]
        initials = "".join(w[0] for w in words)
        if not any(shared_terms({w}, said, loose=True) for w in words) and not (
            len(words) > 1 and initials in said
        ):
            unsaid.append(name)
    return unsaid


def _previous_question(history: list[dict[str, str]]) -> str:
    return next((t["content"] for t in reversed(history) if t.get("role") == "user"), "")


def _day(source: Source) -> str:
    return source.published_at[:10] or "undated"


def _label(source: Source, by_title: bool = True) -> str:
    """ "Outlet (date)"; a source with no outlet (a user's own text file) is named by its headline instead."""
    title = source.title.strip()
    name = source.source or (f"“{title}”" if by_title and title else "Unknown outlet")
    return f"{name} ({_day(source)})"


def _best_sentence(source: Source, q_terms: set[str], asked: Asked | None) -> str:
    """The source's evidence sentence holding most of the question's terms (the first among equals; a demonym
    counts for its country), a question ("Will the Panthers fire Reich?") counting one term less: it reports
    nothing; for a question asking for a figure, one holding a figure of that kind first."""
    sentences = split_sentences(source.evidence) or [source.title]
    return max(
        sentences,
        key=lambda s: (
            bool(asked and holds(asked, s)),
            shared_terms(q_terms, set(terms(s)), loose=True) - s.rstrip(" ”\"'").endswith("?"),
        ),
    )


def _bearing(question: str, sources: list[Source], asked: Asked | None = None) -> list[tuple[Source, str]]:
    """Each source with its best sentence, leaving out a source whose evidence holds fewer than half the
    question's terms the best source's does (unless its sentence holds the figure `asked` for, by default the
    question's): a built answer shows every line it is given, so an unrelated source is a wrong line."""
    q_terms = set(terms(question))
    asked = asked or asked_figure(question)
    found = [
        (s, _best_sentence(s, q_terms, asked), shared_terms(q_terms, set(terms(s.evidence)), loose=True))
        for s in sources
    ]
    top = max((n for _, _, n in found), default=0)
    return [
        (s, sentence)
        for s, sentence, n in found
        if (n or not top) and (2 * n >= top or (asked and holds(asked, sentence)))
    ]


def timeline(question: Question, sources: list[Source]) -> str:
    """Dated bullets, oldest first, one per source that bears on the question (its best sentence holds enough
    of the question's terms): each with that source's evidence, cited."""
    ordered = sorted(_bearing(question.text, sources), key=lambda x: (x[0].published_at or "9999", x[0].n))
    lines = [
        f"- {_day(s)} ({s.source or 'unknown outlet'}){_headline(s, *shown)}: {_cited(s, shown)}"
        for s, _ in ordered
        if (shown := _with_speakers(s))
    ]
    return "\n".join(lines) if lines else NO_ANSWER


def _headline(source: Source, *shown: str) -> str:
    """ " “Headline”" for a built line: a headline says what the development was, which the sentence quoted
    from the article often assumes; "" when the lines shown already hold all its words but one ("out of
    Europe" shown, "after defeat to Bayern Munich" not: the headline is shown)."""
    title = source.title.strip()
    title_terms = set(terms(title))
    if not title_terms or len(title_terms - set(terms(" ".join(shown)))) <= 1:
        return ""
    return f" “{title}”"


def comparison(question: Question, sources: list[Source]) -> str:
    """One line per outlet the question names (with fewer than two named, every outlet among the sources that
    bear on the question): its evidence, dated and cited; an outlet with no source says so."""
    lines = []
    outlets = question.named_outlets
    if len(outlets) < 2:
        outlets = outlets + [
            s.source for s, _ in _bearing(question.topic, sources) if not named_outlet(s.source, outlets)
        ]
    for outlet in dict.fromkeys(outlets):
        own = [s for s in sources if of_outlet(s.source, outlet)]
        if not own:
            lines.append(f"- {outlet}: nothing in the sources found.")
            continue
        s = own[0]  # its evidence whole: one sentence rarely says how an outlet covered a story
        shown = _with_speakers(s)
        cited = _cited(s, shown)
        lines.append(f"- {outlet} ({_day(s)}){_headline(s, *shown)}: {cited}")
    return "\n".join(lines) if lines else NO_ANSWER


# A quote whose speaker is only a pronoun ("…," she said.): the sentence before it names them.
_PRONOUN_SPEAKER = re.compile(
    r"\b(?:he|she|they)\s+(?:said|says|added|told|warned|wrote)\b|\b(?:said|says|added)\s+(?:he|she)\b", re.I
)


def _cited(source: Source, sentences: list[str]) -> str:
    """The sentences of one source, each cited to it."""
    return " ".join(place_markers(x.strip(), f"[{source.n}]") for x in sentences)


def _with_speakers(source: Source) -> list[str]:
    """The source's evidence sentences, each quote whose speaker is only "he" or "she" preceded by the chunk's
    sentence before it (where the speaker is named), unless that one is shown already."""
    evidence = split_sentences(source.evidence)
    body = split_sentences(chunk_body(source.text))
    out: list[str] = []
    for sentence in evidence:
        at = body.index(sentence) if sentence in body else -1
        if at > 0 and _PRONOUN_SPEAKER.search(sentence) and body[at - 1] not in evidence + out:
            out.append(body[at - 1])
        out.append(sentence)
    return out


def conflict(question: Question, sources: list[Source]) -> str:
    """Sources that may disagree, side by side and never merged: one line per source that bears on the
    question, oldest first, with its outlet, date and the sentence that bears on it (a figure of the kind
    asked for first), cited."""
    asked = asked_when(question.topic)
    bearing = _bearing(question.topic, sources, asked)
    # when some give the figure asked for, the others are no side of the disagreement (a count may be of
    # another noun: "18 leaders", "19 delegations")
    side = Asked("figure") if asked and asked.kind == "count" else asked
    giving = [(s, x) for s, x in bearing if side and holds(side, x)]
    ordered = sorted(giving or bearing, key=lambda x: (x[0].published_at or "9999", x[0].n))
    lines = []
    for s, sentence in ordered:
        # one article can hold both figures ("Adobe puts it at $5.6B ... Salesforce at $7.5B")
        figures = [x for x in split_sentences(s.evidence) if asked and holds(asked, x)][:2]
        shown = figures if len(figures) > 1 else [sentence]
        lines.append(f"- {_label(s, by_title=False)}{_headline(s, *shown)}: " + _cited(s, shown))
    return "\n".join(lines) if lines else NO_ANSWER


# An answer that is a source's header as the prompt shows it: "Title (Outlet, 2023-12-18) [1]".
_HEADER_ECHO = re.compile(r"^(?P<title>.+?)\s*\([^()]*,\s*\d{4}-\d\d-\d\d\)\s*\[(?P<n>\d+)\]\.?$", re.S)


def beyond_header(answer: str, sources: list[Source], question: str = "") -> str:
    """An answer that only repeats sources' headers ("Title (Outlet, date) [1]", a small model's habit), with
    at most a copy of the `question` besides, as those sources' dated lines with their evidence: a headline
    alone rarely holds what was asked ("IPL auction: Starc, Cummins in spotlight")."""
    rest, echoed = answer, []
    for s in sources:
        header = re.compile(re.escape(s.title.strip()) + r"\s*\([^()]*\d{4}-\d\d-\d\d\)\s*(?:\[\d+\])?\.?")
        if s.title.strip() and header.search(rest):
            echoed.append(s)
            rest = header.sub(" ", rest)
    if not echoed and (m := _HEADER_ECHO.match(answer.strip())):  # a header with its title reworded
        echoed, rest = [x for x in sources if x.n == int(m.group("n"))], ""
    asked = set(terms(question))
    if not echoed or any(set(terms(x)) - asked for x in split_sentences(strip_markers(rest))):
        return answer
    return "\n".join(
        f"{_label(s, by_title=False)} “{s.title.strip()}”: " + _cited(s, _with_speakers(s))
        for s in echoed[:2]
    )


def without_repeats(answer: str) -> str:
    """The answer without a sentence that says again, from the same sources, what an earlier one said (most of
    the same words): a small model sometimes loops over its sources. Another source saying it corroborates."""
    kept: list[tuple[set[str], set[str]]] = []
    out = answer
    for sentence in split_sentences(answer):
        said, cites = set(terms(strip_markers(sentence))), set(re.findall(r"\[\d+\]", sentence))
        if said and any(len(said & k) >= 0.8 * len(said | k) and cites <= c for k, c in kept):
            at = out.rfind(sentence)
            if at > 0:
                out = (out[:at].rstrip() + " " + out[at + len(sentence) :].lstrip()).strip()
        else:
            kept.append((said, cites))
    return out


def with_key_sentences(
    answer: str,
    sources: list[Source],
    most: int = 2,
    question: Question | None = None,
    embed: Embed | None = None,
) -> str:
    """A written answer followed by up to `most` sentences of the source it cites first (else the first source)
    that say what it does not (most of their terms new to it, two at least), dated and cited: a small model's
    short answer often leaves out the fact its source states. They are taken from the source's whole chunk,
    not only the evidence the model read, the ones bearing most on the `question` first (its terms, then, with
    `embed`, closeness in meaning), and shown in text order."""
    cited = markers(answer)
    s = next((x for x in sources if cited and x.n == cited[0]), sources[0] if sources else None)
    if s is None or most <= 0:
        return answer
    have = set(terms(strip_markers(answer)))

    def says_more(sentence: str) -> bool:
        said = set(terms(sentence))
        return len(said - have) >= 2 and 2 * len(said - have) > len(said)

    body = split_sentences(chunk_body(s.text) if s.text else s.evidence)
    fresh = [x for x in body if not is_instruction(x) and not is_promo(x) and says_more(x)]
    if not fresh:
        return answer
    q = question.topic if question else ""
    q_terms = set(terms(q))
    sims = similarities(q, fresh, embed) if q and embed else None
    score = [shared_terms(q_terms, set(terms(x)), True) + (float(sims[i]) if sims is not None else 0.0)
             for i, x in enumerate(fresh)]  # fmt: skip
    extra: list[str] = []
    for i in sorted(range(len(fresh)), key=lambda i: (-score[i], i)):
        if says_more(fresh[i]):  # beside those added before it too
            extra.append(fresh[i])
            have |= set(terms(fresh[i]))
        if len(extra) == most:
            break
    extra.sort(key=fresh.index)
    return f"{answer}\n\n{_label(s)}: " + _cited(s, extra)


def latest(question: Question, sources: list[Source], tuning: Tuning = DEFAULT) -> str:
    """The newest development: the newest source that bears on the question and scores at least
    `latest_pick` of the best (a newer article sharing a few of its words is another story), dated, with its
    evidence whole. Older coverage is left out: a small model asked to lead with the newest copied an older
    source as often."""
    bearing = _bearing(question.topic, sources)
    if not bearing:
        return NO_ANSWER
    top = max(b.score for b, _ in bearing)
    picked = [b for b, _ in bearing if b.score >= tuning.latest_pick * top]
    # news of the subject is in a piece whose headline names it; a newer list or round-up that mentions it
    # in passing ("the top free games included Roblox") is not the latest on it
    key = set(terms(" ".join(named_entities(question.topic)))) or set(terms(question.topic))
    titled = [b for b in picked if key & set(terms(b.title))]
    s = max(titled or picked, key=lambda b: (b.published_at or "", -b.n))
    shown = _with_speakers(s)
    return f"As of {_day(s)} ({s.source or 'unknown outlet'}){_headline(s, *shown)}: " + _cited(s, shown)


def built(question: Question, sources: list[Source], tuning: Tuning = DEFAULT) -> str:
    """The answer of a kind the code lays out itself (see rag.query.read.BUILT)."""
    if question.kind == "latest":
        return latest(question, sources, tuning)
    if question.kind == "timeline":
        return timeline(question, sources)
    if question.kind == "conflict":
        return conflict(question, sources)
    return comparison(question, sources)
