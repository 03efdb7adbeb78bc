"""The public API: `Assistant` ties the store, the retrievers, the LLM and the citation check together."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, timezone
from pathlib import Path

from chromadb.errors import ChromaError
from llama_index.core.schema import NodeWithScore

from ingest.article import url_doc_id
from ingest.dates import parse_date
from rag import indexing
from rag.answer import citations, compose, names
from rag.answer.answerable import unanswerable_reason
from rag.answer.figures import Asked, asked_figure, gives_figure
from rag.answer.result import NO_ANSWER, Answer, Retrieved
from rag.answer.sources import select_sources, sources_needed
from rag.backends import embeddings, llms
from rag.backends.embeddings import make_embedder
from rag.backends.keyword import KeywordIndex
from rag.backends.live import LiveIndex
from rag.backends.llms import LLM, complete, make_llm
from rag.backends.models import BUNDLED_YES_MARGIN, is_bundled
from rag.backends.store import log_change, manifest, open_collection
from rag.errors import ConfigError, EmptyIndexError
from rag.query.read import BUILT, WIDE, Question
from rag.query.read import read as read_question
from rag.retrieval import Filters, hybrid_search, node_at
from rag.settings import Settings
from rag.text import of_outlet, terms
from rag.tuning import Tuning

History = list[dict[str, str]]
log = logging.getLogger(__name__)
# Kinds whose sources are numbered by date: a latest answer's newest first, a timeline's oldest first.
_DATE_ORDERED = ("latest", "timeline")


class Assistant:
    """Ingest news, retrieve it, answer questions with checked citations. Parts load on first use."""

    def __init__(self, settings: Settings | None = None, llm: LLM | None = None):
        self.settings = settings or Settings()
        llms.check_name(self.settings.llm)
        embeddings.check_name(self.settings.embeddings)
        self._llm = llm
        self._llm_ready = llm is not None
        self._embedder = None
        self._collection = None
        self._live: LiveIndex | None = None  # keyword index and vectors, kept current with the store
        # The UI serves requests from several threads: parts are built once, under a lock.
        self._lock = threading.RLock()
        # A local model answers one request at a time.
        self._generating = threading.Lock()

    # -- parts ------------------------------------------------------------------------------
    @property
    def embedder(self):
        with self._lock:
            if self._embedder is None:
                self._embedder = make_embedder(self.settings)
            return self._embedder

    @property
    def collection(self):
        with self._lock:
            if self._collection is None:
                self._collection = open_collection(self.settings, embeddings.embedder_name(self.settings))
            return self._collection

    @property
    def llm(self) -> LLM | None:
        with self._lock:
            if not self._llm_ready:
                self._llm = make_llm(self.settings)
                self._llm_ready = True
            return self._llm

    def live_index(self, force: bool = False) -> LiveIndex:
        """The keyword index and vectors, with what other processes changed in the store applied (checked
        at most every `Settings.refresh_s`, unless `force`)."""
        with self._lock:
            if self._live is None:
                self._live = LiveIndex.open(self.collection, self.settings)
                return self._live
            try:
                self._live.refresh(force)
            except ChromaError as exc:
                # The embedded store cannot always read what another process just wrote into it: read it
                # all again, or, when that fails too, keep answering from what is held.
                log.warning("could not apply the store's latest changes (%s); re-reading it", exc)
                try:
                    self._live = LiveIndex.build(self.collection, self.settings)
                except ChromaError as again:
                    self._live.skip_pending()
                    log.warning(
                        "still cannot read the store (%s): answering from the index as it was; to share one "
                        "index between processes, run `chroma run` and set NEWSRAG_CHROMA_URL",
                        again,
                    )
            return self._live

    def keyword_index(self) -> KeywordIndex:
        return self.live_index().keyword

    def warm(self) -> None:
        """Load the store, the keyword index, the embedder and the LLM now rather than on first use."""
        self.keyword_index()
        self.embedder  # noqa: B018
        self.llm  # noqa: B018

    # -- corpus -----------------------------------------------------------------------------
    def ingest(
        self, paths_or_urls: Iterable[str | Path] | str | Path, progress=None, allow_private: bool = False
    ) -> indexing.IngestReport:
        """Ingest files, folders and URLs. URLs on loopback, private or link-local addresses are refused unless
        `allow_private` (the CLI's --allow-private-urls; the UI never allows them)."""
        if isinstance(paths_or_urls, (str, Path)):
            paths_or_urls = [paths_or_urls]
        report = indexing.ingest(
            paths_or_urls, self.collection, self.embedder, self.settings, progress, allow_private
        )
        if report.new or report.updated:
            self._changed({"doc_id": {"$in": report.doc_ids + report.replaced}})
        return report

    def watch(
        self,
        urls: Iterable[str],
        every_s: float,
        polls: int | None = None,
        on_poll: Callable[[indexing.PollReport], None] | None = None,
        allow_private: bool = False,
    ) -> int:
        """Poll feeds every `every_s` seconds (`polls` times, or until interrupted): conditional GETs, new items
        ingested, changed ones replaced, a failing feed retried with backoff. `on_poll` gets each poll's report.
        Returns how many polls ran."""
        state = Path(self.settings.data_dir) / "watch" / f"{self.settings.collection}.json"
        watcher = indexing.Watch(urls, int(self.settings.max_file_mb * 1024 * 1024), allow_private, state)

        def store(results: list) -> indexing.IngestReport:
            report = indexing.write(results, self.collection, self.embedder, self.settings)
            if report.new or report.updated:
                self._changed({"doc_id": {"$in": report.doc_ids + report.replaced}})
            return report

        next_at = time.monotonic()
        while polls is None or watcher.polls < polls:
            report = watcher.poll(store)
            if on_poll:
                on_poll(report)
            if polls is not None and watcher.polls >= polls:
                break
            next_at += every_s
            time.sleep(max(0.0, next_at - time.monotonic()))
        return watcher.polls

    def delete(self, doc_id: str | None = None, url: str | None = None, source: str | None = None) -> int:
        removed = indexing.delete(self.collection, doc_id=doc_id, url=url, source=source)
        if removed:
            self._changed(
                {"doc_id": doc_id} if doc_id else {"doc_id": url_doc_id(url)} if url else {"source": source}
            )
        return removed

    def _changed(self, where: dict) -> None:
        """Tell every process on this store (this one included) which chunks to re-read."""
        log_change(self.settings, where)
        with self._lock:
            if self._live is not None:
                self.live_index(force=True)

    def stats(self) -> dict:
        entries = manifest(self.collection)
        outlets: dict[str, int] = {}
        dates = []
        for e in entries.values():
            outlets[e.metadata["source"] or "(unknown)"] = (
                outlets.get(e.metadata["source"] or "(unknown)", 0) + 1
            )
            if e.metadata.get("published_at"):
                dates.append(e.metadata["published_at"])
        return {
            "articles": len(entries),
            "chunks": self.collection.count(),
            "incomplete": sum(not e.complete for e in entries.values()),
            "outlets": dict(sorted(outlets.items(), key=lambda kv: (-kv[1], kv[0]))),
            "first_published": min(dates) if dates else None,
            "last_published": max(dates) if dates else None,
        }

    def outlets(self) -> list[str]:
        return self.keyword_index().outlets

    # -- questions --------------------------------------------------------------------------
    def retrieve(
        self, question: str | Question, k: int | None = None, filters: Filters | dict | None = None
    ) -> list[NodeWithScore]:
        """The best chunks for a question (a string, or a `Question` already read)."""
        with self._lock:
            live = self.live_index()
            index, vectors = live.keyword, live.vectors
        if len(index) == 0:
            raise EmptyIndexError()
        read = question if isinstance(question, Question) else None
        return hybrid_search(
            read.topic if read else question,
            index,
            vectors,
            self.embedder,
            k or self.settings.top_k,
            Filters.coerce(filters),
            self.settings.bm25_weight,
            self.settings.tuning,
            qplan=read.plan if read else None,
            names_first=read.kind == "name" if read else None,
        )

    def read(self, query: str, as_of: date | str | None = None, asked: str = "") -> Question:
        """The question read once, against the index's outlets and the as-of date (`asked`: the follow-up
        `query` was rewritten from)."""
        index = self.keyword_index()
        return read_question(query, index.outlets, self.as_of(as_of), index.latest_year, asked)

    def as_of(self, value: date | str | None = None) -> date:
        """The date questions are asked on: `value`, else `Settings.as_of`, else today (UTC)."""
        value = value or self.settings.as_of
        if value is None:
            return datetime.now(timezone.utc).date()
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        parsed = parse_date(value)
        if parsed is None:
            raise ConfigError(f"as-of date {value!r}: cannot read it (use YYYY-MM-DD)")
        return parsed.date()

    def standalone_query(self, question: str, history: History | None) -> str:
        if not history:
            return question
        llm = self.llm
        if llm is None:
            return compose.heuristic_rewrite(question, history)
        tuning = self.settings.tuning
        with self._generating:
            rewritten = complete(
                llm, compose.rewrite_messages(question, history, tuning), max_tokens=tuning.rewrite_tokens
            )
        rewritten = rewritten.strip().strip('"').split("\n")[0].strip()
        if not rewritten:
            return compose.heuristic_rewrite(question, history)
        trusted = (
            compose.resolved(rewritten, question)
            and compose.asks_the_same(rewritten, question)
            and not compose.unsaid_names(rewritten, question, history, tuning)
        )
        return rewritten if trusted else compose.with_context(question, history)

    def stream(
        self,
        question: str,
        history: History | None = None,
        filters: Filters | dict | None = None,
        sources: int | None = None,
        as_of: date | str | None = None,
    ) -> Iterator[str | Retrieved | Answer]:
        """Yield the sources found (`Retrieved`) as soon as they are chosen, then text pieces as they are
        generated, then the final `Answer`; `sources` caps the sources shown."""
        t0 = time.perf_counter()
        flt = Filters.coerce(filters)
        query = self.standalone_query(question, history)
        t_rewrite = time.perf_counter()
        read = self.read(query, as_of, asked=question if query != question else "")
        tuning = self.settings.tuning
        limit = sources or self.settings.context_sources
        if read.kind in WIDE:
            limit = max(limit, tuning.built_sources)
        k = max(self.settings.top_k, 2 * limit, tuning.latest_pool if read.kind == "latest" else 0)
        hits, chosen, reason, flt = self._search(read, flt, k, limit)
        t_retrieved = time.perf_counter()
        timings = {"rewrite_s": t_rewrite - t0, "retrieve_s": t_retrieved - t_rewrite}
        answer = Answer(
            question=question,
            query=query,
            text=NO_ANSWER,
            sources=chosen,
            filters=flt.describe(),
            answered=False,
            timings=timings,
            kind=read.kind,
            as_of=read.as_of.isoformat() if read.as_of else "",
        )
        if not reason:
            chosen = answer.sources = chosen[: sources_needed(read, len(chosen), tuning)]
        yield Retrieved(query=query, kind=read.kind, sources=list(chosen))
        if reason:
            answer.note = reason
            yield NO_ANSWER
        else:
            raw = None
            if read.kind in BUILT:
                raw = compose.built(read, chosen, tuning)
                yield raw
            elif self.llm is not None and self._verdicts() and read.is_verdict:
                raw = self._verdict(read, chosen, answer, t0)
                if raw is not None:
                    yield raw
            written = raw is None and self.llm is not None and read.is_written
            if raw is None:
                raw = yield from self._write(read, chosen, timings, t0)
            if raw != NO_ANSWER:
                answer.text, answer.citations = citations.check(raw, chosen, read, tuning)
                if written and answer.text.strip():
                    # after the check, which moves a marker to the source that supports its sentence
                    more = compose.with_key_sentences(
                        answer.text, chosen, tuning.key_sentences, read, self.embedder.embed
                    )
                    if more != answer.text:
                        yield more[len(answer.text) :]
                        answer.text, answer.citations = citations.check(more, chosen, read, tuning)
                answer.answered = bool(answer.text.strip())
                if not answer.answered:
                    answer.text = NO_ANSWER
                    answer.note = "The model's answer held no claim the sources support."
        timings.setdefault("first_token_s", time.perf_counter() - t0)
        timings["total_s"] = time.perf_counter() - t0
        yield answer

    def _gather(self, read: Question, flt: Filters, k: int, limit: int) -> tuple[list, list, str | None]:
        """Hits, the sources chosen from them, and why they cannot answer (None when they can)."""
        tuning = self.settings.tuning
        hits = self.retrieve(read, k=k, filters=flt)
        chosen = select_sources(
            read, _arranged(read, hits, tuning), limit, tuning, self.embedder.embed, self._first_chunk
        )
        if read.kind == "latest":  # the best of them, before they are ordered by date
            chosen = chosen[: sources_needed(read, len(chosen), tuning)]
        if read.kind in _DATE_ORDERED:  # newest first / oldest first, numbered in that order
            chosen = _renumbered(sorted(chosen, key=lambda s: s.published_at, reverse=read.kind == "latest"))
        retrieved = [h.node.get_content() for h in hits]
        index = self.keyword_index()
        # a lower-case question's words are looked up in the whole corpus only while that is cheap: its texts
        # as one string, a line apart, read only when a word is not in the results
        corpus = (lambda: [index.texts.joined()]) if len(index) <= tuning.name_lookup_max_chunks else tuple
        return hits, chosen, unanswerable_reason(read, chosen, retrieved, tuning, corpus)

    def _first_chunk(self, doc_id: str) -> NodeWithScore | None:
        """An article's first chunk, from the keyword index (None when it is not there)."""
        index = self.keyword_index()
        for row in index.rows_of(doc_id):
            if index.metas[row].get("chunk_index") == 0:
                return node_at(index, row, 0.0)
        return None

    def _search(self, read: Question, flt: Filters, k: int, limit: int) -> tuple:
        """(hits, sources, reason they cannot answer, filters used). Within the dates a relative date
        names, unless the caller set dates. When nothing there answers, the search goes beyond them: if what
        answers there includes coverage from those dates or later (an event is often reported after it), it
        answers; when all of it is older, the question is not answered, and the reason says so and gives
        the date and outlet of the best match, the sources found shown."""
        if read.range is None or flt.since or flt.until:
            return *self._gather(read, flt, k, limit), flt
        since = datetime.combine(read.range.since, datetime.min.time(), tzinfo=timezone.utc)
        until = datetime.combine(read.range.until, datetime.min.time(), tzinfo=timezone.utc)
        ranged = Filters(sources=flt.sources, since=since, until=until)
        found = self._gather(read, ranged, k, limit)
        if found[2] is None:
            return *found, ranged
        wider = self._gather(read, flt, k, limit)
        if wider[2] is not None:
            return *found, ranged
        first, last = read.range.since.isoformat(), read.range.until.isoformat()
        if any(s.published_at[:10] >= first for s in wider[1] if s.published_at):
            # coverage from those dates or later can report on them, earlier cannot: the dates asked about
            # come first, then later ones (a timeline or latest answer keeps its own date order)
            chosen = wider[1] if read.kind in _DATE_ORDERED else _by_dates(wider[1], first, last)
            return wider[0], chosen, wider[2], flt
        reason = f"Nothing in the sources from {read.range.describe()} answers this"
        best = wider[1][0] if wider[1] else None  # the best match from other dates, whatever its date
        if best is not None and best.published_at:
            reason += (
                f"; the closest coverage is from {best.published_at[:10]} ({best.source or 'unknown outlet'})"
            )
        return wider[0], wider[1], reason + ".", flt

    def _verdict(self, read: Question, sources: list, answer: Answer, t0: float) -> str | None:
        """Yes or No from the LLM's first-word probabilities (or, for a question offering two answers, the
        option it scores higher: no threshold, the model's own preference), then the sentences it rests
        on; None if the backend cannot score."""
        messages = compose.messages(read, sources)
        options = read.options
        with self._generating:
            margin = (
                llms.choice_margin(self.llm, messages, options)
                if options
                else llms.yes_no_margin(self.llm, messages)
            )
        if margin is None:
            return None
        answer.timings["first_token_s"] = time.perf_counter() - t0
        if options:
            answer.choice_margin = margin
            return compose.choice_answer(options[0] if margin > 0 else options[1], read, sources)
        answer.yes_margin = margin
        return compose.verdict_answer(margin > self.yes_margin_threshold(), read, sources)

    def _write(self, read: Question, sources: list, timings: dict, t0: float) -> Iterator[str]:
        """Stream the LLM's answer (or the extractive one); returns the whole text."""
        if self.llm is None:
            raw = compose.extractive(read.text, sources)
            yield raw
            return raw
        pieces = []
        name = read.kind == "name"
        limit = (
            min(self.settings.tuning.name_tokens, self.settings.max_tokens)
            if name
            else self.settings.max_tokens
        )
        with self._generating:
            for piece in self.llm.stream(compose.messages(read, sources), limit):
                if not pieces:
                    timings["first_token_s"] = time.perf_counter() - t0
                pieces.append(piece)
                yield piece
        raw = "".join(pieces).strip()
        # Refusals are read in the model's own words only: quoted sources may say "no information".
        if compose.is_no_answer(raw):
            return NO_ANSWER
        if name:  # the name it gave (or one the evidence bears out), then the sentences that back it
            raw = compose.named_answer(
                self._corroborated(compose.lead(raw, read.text), read, sources), read, sources
            )
            yield "\n\n" + raw
        else:
            filled = compose.without_repeats(compose.beyond_header(raw, sources, read.text))
            if filled != raw:
                raw = filled
                yield "\n\n" + raw
        return raw

    def _corroborated(self, name: str, read: Question, sources: list) -> str:
        """The LLM's name answer, or, when the sources hold it but their evidence does not bear it out
        (rag.answer.names), the best-corroborated name of the evidence (the LLM choosing among equals); a
        one-word name in its full form ("Altman" -> "Sam Altman")."""
        if compose.invented(name, sources):
            return name  # a name no source holds: no answer (named_answer), not a guess among others
        texts, tuning = self.keyword_index().texts, self.settings.tuning
        options = names.alternatives(
            name, read.text, sources, self.outlets(), lambda n: names.full_name(n, texts, tuning), tuning
        )
        if options:
            with self._generating:
                name = (
                    llms.pick(
                        self.llm,
                        compose.messages(read, sources),
                        options[: tuning.max_name_options],
                    )
                    if len(options) > 1
                    else None
                ) or options[0]
        return names.full_name(name, texts, tuning)

    def _verdicts(self) -> bool:
        mode = self.settings.yes_no
        return mode == "verdict" or (mode == "auto" and self.settings.llm == "local")

    def yes_margin_threshold(self) -> float:
        """The yes/no margin above which a verdict is Yes (settings, else calibrated for the bundled model)."""
        if self.settings.yes_margin is not None:
            return self.settings.yes_margin
        return BUNDLED_YES_MARGIN if is_bundled(self.settings) else 0.0

    def ask(
        self,
        question: str,
        history: History | None = None,
        filters: Filters | dict | None = None,
        sources: int | None = None,
        as_of: date | str | None = None,
    ) -> Answer:
        final = None
        for item in self.stream(question, history=history, filters=filters, sources=sources, as_of=as_of):
            final = item
        assert isinstance(final, Answer)
        return final


def _arranged(read: Question, hits: list[NodeWithScore], tuning: Tuning) -> list[NodeWithScore]:
    """Hits in the order sources are taken from them: a comparison takes each named outlet's best hit first,
    a conflict each outlet's; a timeline takes one hit per publication day first, so it spans the coverage
    instead of one day's. For a question asking for a figure, each article is represented by its best chunk
    that gives a figure of that kind of what the question is about."""
    if asked := asked_figure(read.topic):
        hits = _figure_first(hits, read.topic, asked)
    if read.kind == "comparison":
        first = [
            next((h for h in hits if of_outlet(str(h.node.metadata.get("source", "")), o)), None)
            for o in read.named_outlets
        ]
        return _leading([h for h in first if h is not None], hits)
    if read.kind == "conflict":  # the disagreement is usually between outlets
        return _leading(_first_per(hits, lambda m: str(m.get("source", ""))), hits)
    if read.kind == "timeline":
        return _leading(_first_per(hits, lambda m: str(m.get("published_at", ""))[:10]), hits)
    if read.kind == "latest":  # only what bears on it: older or unrelated stories would pad the prompt
        return _newest_relevant(read, hits, tuning) or hits
    return hits


def _figure_first(
    hits: list[NodeWithScore], question: str, asked: Asked | None = None
) -> list[NodeWithScore]:
    """The hits grouped by article in order of each article's best hit, its chunks giving the asked figure of
    what the question is about first: an article is answered from one chunk, and the one with the figure
    answers "how much" (a chunk with any amount in it may not)."""
    by_doc: dict[str, list[NodeWithScore]] = {}
    for h in hits:
        by_doc.setdefault(str(h.node.metadata.get("doc_id") or h.node.node_id), []).append(h)
    return [
        h
        for group in by_doc.values()
        for h in sorted(group, key=lambda h: not gives_figure(question, h.node.get_content(), asked))
    ]


def _newest_relevant(read: Question, hits: list[NodeWithScore], tuning: Tuning) -> list[NodeWithScore]:
    """The hits that bear on a latest-news question, newest first: those scoring at least `latest_score` of the
    best hit's score and holding `latest_terms` of the question's terms. Rank decides relevance, not recency;
    among the relevant, the newest is the latest development."""
    if not hits:
        return []
    best = max(hits, key=lambda h: h.score or 0.0)
    top = best.score or 0.0
    wanted = set(terms(read.topic))
    # never more than the best hit holds: a question worded unlike its story ("how do CIOs feel about…")
    # would otherwise keep only newer pieces that share its common words
    need = min(
        math.ceil(tuning.latest_terms * len(wanted)), len(wanted & set(terms(best.node.get_content())))
    )
    now = read.as_of.isoformat() if read.as_of else "9999"  # news after the as-of date is not out yet
    relevant = [
        h
        for h in hits
        if (h.score or 0.0) >= tuning.latest_score * top
        and str(h.node.metadata.get("published_at", ""))[:10] <= now
        and len(wanted & set(terms(h.node.get_content()))) >= need
    ]
    return sorted(relevant, key=lambda h: str(h.node.metadata.get("published_at", "")), reverse=True)


def _first_per(hits: list[NodeWithScore], key: Callable[[dict], str]) -> list[NodeWithScore]:
    """The best hit for each value of `key` (of its metadata), in rank order."""
    first: dict[str, NodeWithScore] = {}
    for h in hits:
        first.setdefault(key(h.node.metadata), h)
    return list(first.values())


def _leading(lead: list[NodeWithScore], hits: list[NodeWithScore]) -> list[NodeWithScore]:
    """`lead` (each once), then the other hits in rank order."""
    lead = list({id(h): h for h in lead}.values())
    return lead + [h for h in hits if all(h is not x for x in lead)]


def _by_dates(sources: list, first: str, last: str) -> list:
    """The sources from `first` to `last` (ISO days) first, then later ones, then older or undated ones, each
    group in its order, renumbered."""

    def group(source) -> int:
        day = source.published_at[:10]
        return 0 if first <= day <= last else 1 if day > last else 2

    return _renumbered(sorted(sources, key=group))


def _renumbered(sources: list) -> list:
    for n, source in enumerate(sources, 1):
        source.n = n
    return sources
