"""The public API: `Assistant` ties the store, the retrievers, the LLM and the citation check together."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from llama_index.core.schema import NodeWithScore

from rag import indexing
from rag.answer import citations, compose, names
from rag.answer.answerable import unanswerable_reason
from rag.answer.result import NO_ANSWER, Answer
from rag.answer.sources import select_sources, sources_needed
from rag.backends import embeddings, llms
from rag.backends.embeddings import make_embedder
from rag.backends.keyword import KeywordIndex
from rag.backends.llms import LLM, complete, make_llm
from rag.backends.models import BUNDLED_YES_MARGIN, is_bundled
from rag.backends.store import all_chunks, manifest, open_collection
from rag.errors import EmptyIndexError
from rag.query.question import choice_options, expects_name, expects_yes_no
from rag.retrieval import Filters, hybrid_search
from rag.settings import Settings

History = list[dict[str, str]]


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
        self._keyword: KeywordIndex | None = None
        self._vectors = None  # the chunks' embeddings, rows in keyword-index order
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

    def keyword_index(self) -> KeywordIndex:
        with self._lock:
            if self._keyword is None:
                ids, texts, metas, self._vectors = all_chunks(self.collection)
                cache = Path(self.settings.data_dir) / "bm25" / self.settings.collection
                tuning = self.settings.tuning
                self._keyword = (
                    KeywordIndex.load_or_build(cache, ids, texts, metas, tuning)
                    if not self.settings.chroma_url
                    else KeywordIndex(ids, texts, metas, tuning=tuning)
                )
            return self._keyword

    def warm(self) -> None:
        """Load the store, the keyword index, the embedder and the LLM now rather than on first use."""
        self.keyword_index()
        self.embedder  # noqa: B018
        self.llm  # noqa: B018

    # -- corpus -----------------------------------------------------------------------------
    def ingest(
        self, paths_or_urls: Iterable[str | Path] | str | Path, progress=None
    ) -> indexing.IngestReport:
        if isinstance(paths_or_urls, (str, Path)):
            paths_or_urls = [paths_or_urls]
        report = indexing.ingest(paths_or_urls, self.collection, self.embedder, self.settings, progress)
        if report.new or report.updated:
            self._keyword = None
        return report

    def delete(self, doc_id: str | None = None, url: str | None = None, source: str | None = None) -> int:
        removed = indexing.delete(self.collection, doc_id=doc_id, url=url, source=source)
        if removed:
            self._keyword = None
        return removed

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
        self, question: str, k: int | None = None, filters: Filters | dict | None = None
    ) -> list[NodeWithScore]:
        with self._lock:
            index, vectors = self.keyword_index(), self._vectors
        if len(index) == 0:
            raise EmptyIndexError()
        return hybrid_search(
            question,
            index,
            vectors,
            self.embedder,
            k or self.settings.top_k,
            Filters.coerce(filters),
            self.settings.bm25_weight,
            self.settings.tuning,
        )

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
        return rewritten or compose.heuristic_rewrite(question, history)

    def stream(
        self,
        question: str,
        history: History | None = None,
        filters: Filters | dict | None = None,
        sources: int | None = None,
    ) -> Iterator[str | Answer]:
        """Yield text pieces as they are generated, then the final `Answer`; `sources` caps the sources shown."""
        t0 = time.perf_counter()
        flt = Filters.coerce(filters)
        query = self.standalone_query(question, history)
        t_rewrite = time.perf_counter()
        limit = sources or self.settings.context_sources
        hits = self.retrieve(query, k=max(self.settings.top_k, 2 * limit), filters=flt)
        tuning = self.settings.tuning
        sources = select_sources(query, hits, limit, tuning)
        t_retrieved = time.perf_counter()
        timings = {"rewrite_s": t_rewrite - t0, "retrieve_s": t_retrieved - t_rewrite}
        answer = Answer(
            question=question,
            query=query,
            text=NO_ANSWER,
            sources=sources,
            filters=flt.describe(),
            answered=False,
            timings=timings,
        )
        reason = unanswerable_reason(
            query, sources, self.outlets(), [h.node.get_content() for h in hits], tuning
        )
        if reason:
            answer.note = reason
            yield NO_ANSWER
        else:
            sources = answer.sources = sources[: sources_needed(query, self.outlets(), len(sources), tuning)]
            raw = None
            options = choice_options(query)
            if self.llm is not None and self._verdicts() and (options or expects_yes_no(query)):
                raw = self._verdict(query, sources, answer, t0, options)
            if raw is not None:
                yield raw
            if raw is None:
                raw = yield from self._write(query, sources, timings, t0)
            if raw != NO_ANSWER:
                answer.text, answer.citations = citations.check(raw, sources, query, tuning)
                answer.answered = True
        timings.setdefault("first_token_s", time.perf_counter() - t0)
        timings["total_s"] = time.perf_counter() - t0
        yield answer

    def _verdict(
        self, query: str, sources: list, answer: Answer, t0: float, options: tuple[str, str] | None = None
    ) -> str | None:
        """Yes or No from the LLM's first-word probabilities (or, for a question offering two answers, the
        `options` one it scores higher: no threshold, the model's own preference), then the sentences it rests
        on; None if the backend cannot score."""
        messages = compose.messages(query, sources)
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
            return compose.choice_answer(
                options[0] if margin > 0 else options[1], query, sources, self.outlets()
            )
        answer.yes_margin = margin
        return compose.verdict_answer(margin > self.yes_margin_threshold(), query, sources, self.outlets())

    def _write(self, query: str, sources: list, timings: dict, t0: float) -> Iterator[str]:
        """Stream the LLM's answer (or the extractive one); returns the whole text."""
        if self.llm is None:
            raw = compose.extractive(query, sources)
            yield raw
            return raw
        pieces = []
        name = expects_name(query)
        limit = (
            min(self.settings.tuning.name_tokens, self.settings.max_tokens)
            if name
            else self.settings.max_tokens
        )
        with self._generating:
            for piece in self.llm.stream(compose.messages(query, sources), limit):
                if not pieces:
                    timings["first_token_s"] = time.perf_counter() - t0
                pieces.append(piece)
                yield piece
        raw = "".join(pieces).strip()
        # Refusals are read in the model's own words only: quoted sources may say "no information".
        if compose.is_no_answer(raw):
            return NO_ANSWER
        if (
            name
        ):  # the name it gave (or, when the evidence does not bear it out, one it does), then its sentences
            raw = compose.named_answer(
                self._corroborated(compose.lead(raw), query, sources), query, sources, self.outlets()
            )
            yield "\n\n" + raw
        return raw

    def _corroborated(self, name: str, query: str, sources: list) -> str:
        """The LLM's name answer, or, when the sources hold it but their evidence does not bear it out
        (rag.answer.names), the best-corroborated name of the evidence (the LLM choosing among equals); a one-word
        name in its full form ("Altman" -> "Sam Altman")."""
        if compose.invented(name, sources):
            return name  # a name no source holds: no answer (named_answer), not a guess among others
        texts, tuning = self.keyword_index().texts, self.settings.tuning
        options = names.alternatives(
            name, query, sources, self.outlets(), lambda n: names.full_name(n, texts, tuning), tuning
        )
        if options:
            with self._generating:
                name = (
                    llms.pick(self.llm, compose.messages(query, sources), options[: tuning.max_name_options])
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
    ) -> Answer:
        final = None
        for item in self.stream(question, history=history, filters=filters, sources=sources):
            final = item
        assert isinstance(final, Answer)
        return final
