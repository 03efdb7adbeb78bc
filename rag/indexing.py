"""Ingest: load, diff against the manifest, chunk, embed, write. Idempotent and safe to kill.

Each article's chunks are written in one Chroma `add` after its old chunks are deleted, and the
manifest is derived from the stored chunks, so a re-run after a crash finds every article either
complete (unchanged) or incomplete/missing (re-written): never duplicated.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ingest import Article, LoadResult, chunk_article, load_inputs
from rag.backends.store import change_log, manifest
from rag.backends.story_index import Match, StoryIndex, ensure_bands, story_fields
from rag.settings import Settings

EMBED_BATCH = 64
log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    chunks_embedded: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)  # one line each: "<file>: <reason>"
    doc_ids: list[str] = field(default_factory=list)  # every article seen in this run
    replaced: list[str] = field(default_factory=list)  # stored articles superseded by one under a new id

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def summary(self) -> str:
        return (
            f"{self.new} new, {self.updated} updated, {self.unchanged} unchanged, {self.failed} failed "
            f"articles; {self.chunks_embedded} chunks embedded in {self.seconds:.1f} s"
        )

    def to_dict(self) -> dict:
        """The counts, and each failure as the input it names and the reason."""
        failures = []
        for line in self.errors:
            origin, sep, reason = line.partition(": ")
            failures.append({"input": origin, "reason": reason} if sep else {"input": "", "reason": line})
        return {
            "new": self.new,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "failed": self.failed,
            "chunks_embedded": self.chunks_embedded,
            "replaced": list(self.replaced),
            "seconds": round(self.seconds, 3),
            "errors": failures,
        }


Progress = Callable[[int, int], None]  # (done, total) articles written


def ingest(
    inputs: Iterable[str | Path],
    collection,
    embedder,
    settings: Settings,
    progress: Progress | None = None,
    allow_private: bool = False,
) -> IngestReport:
    """Load, chunk, embed and store; `allow_private` lets URLs on loopback and private addresses be fetched."""
    max_bytes = int(settings.max_file_mb * 1024 * 1024)
    loaded = load_inputs(inputs, max_bytes=max_bytes, allow_private=allow_private)
    return write(loaded, collection, embedder, settings, progress)


def write(
    results: Iterable[LoadResult], collection, embedder, settings: Settings, progress: Progress | None = None
) -> IngestReport:
    """Store what was loaded: new and changed articles (re)written, unchanged ones skipped, errors counted."""
    from llama_index.vector_stores.chroma import ChromaVectorStore

    started = time.perf_counter()
    report = IngestReport()
    articles: dict[str, Article] = {}
    for result in results:
        report.errors += [str(e) for e in result.errors]
        report.failed += len(result.errors)
        for article in result.articles:
            articles[article.doc_id] = article  # the same article twice in one run: the last wins
    report.doc_ids = list(articles)

    known = manifest(collection, list(articles))
    todo: list[tuple[Article, bool]] = []
    for doc_id, article in articles.items():
        entry = known.get(doc_id)
        if entry and entry.complete and entry.metadata.get("content_hash") == article.content_hash:
            report.unchanged += 1
        else:
            todo.append((article, entry is not None))

    if todo:
        ensure_bands(collection, change_log(settings))
    stories = StoryIndex(collection)
    grouping: dict[str, dict] = {}  # doc_id -> the story fields of its first chunk
    supersedes: dict[str, str] = {}  # new doc_id -> the stored article it replaces
    for i, (article, existed) in enumerate(todo):  # in load order: the first copy of a story names it
        before = known[article.doc_id].metadata.get("story_id") if existed else None
        article.story_id, sig, found = stories.assign(article.doc_id, article.text, before)
        grouping[article.doc_id] = story_fields(sig)
        old = None if existed else same_article(article, found, articles)
        if old:
            supersedes[article.doc_id] = old
            todo[i] = (article, True)
            report.replaced.append(old)

    store = ChromaVectorStore(chroma_collection=collection)
    done = 0
    if progress:
        progress(0, len(todo))
    # Embed in batches across articles; write article by article so each write is all-or-nothing.
    batch: list[tuple[Article, bool, list]] = []
    pending = 0
    for i, (article, existed) in enumerate(todo):
        nodes = chunk_article(article, settings.chunk_tokens, settings.chunk_overlap)
        nodes[0].metadata.update(grouping[article.doc_id])  # once per article, for later ingests
        batch.append((article, existed, nodes))
        pending += len(nodes)
        if pending >= EMBED_BATCH or i == len(todo) - 1:
            flat = [n for _, _, ns in batch for n in ns]
            vectors = embedder.embed([n.text for n in flat])
            for node, vec in zip(flat, vectors):
                node.embedding = vec.tolist()
            for art, was_there, ns in batch:
                gone = [art.doc_id] + ([supersedes[art.doc_id]] if art.doc_id in supersedes else [])
                collection.delete(where={"doc_id": {"$in": gone}})
                store.add(ns)
                report.chunks_embedded += len(ns)
                if was_there:
                    report.updated += 1
                else:
                    report.new += 1
                done += 1
                if progress:
                    progress(done, len(todo))
            batch, pending = [], 0
    report.seconds = time.perf_counter() - started
    return report


SAME_ARTICLE = 0.9  # estimated Jaccard from which a same-outlet, same-title copy is the same article


def same_article(article: Article, found: list[Match], loaded: dict) -> str | None:
    """The stored article this new one is a re-issue of, if any: same outlet, same title, nearly the same
    text, and not itself in this run's input (`found`: its story matches, best first). A feed that changed an item's
    guid, or a file moved to another folder (or stored under an older id scheme), then replaces its old
    record instead of duplicating it."""
    for match in found:
        if match.similarity < SAME_ARTICLE:
            break
        meta = match.stored
        if (
            meta is not None
            and match.doc_id not in loaded
            and (meta.get("source") or "").casefold() == article.source.casefold()
            and " ".join((meta.get("title") or "").split()).casefold()
            == " ".join(article.title.split()).casefold()
        ):
            return match.doc_id
    return None


def delete(collection, doc_id: str | None = None, url: str | None = None, source: str | None = None) -> int:
    """Remove every chunk of the matching articles; returns how many articles were removed."""
    from ingest.article import url_doc_id

    if doc_id:
        where = {"doc_id": doc_id}
    elif url:
        where = {"doc_id": url_doc_id(url)}
    elif source:
        where = {"source": source}
    else:
        raise ValueError("delete needs one of doc_id, url or source")
    got = collection.get(where=where, include=["metadatas"])
    removed = {m["doc_id"] for m in got["metadatas"]}
    if removed:
        collection.delete(where=where)
    return len(removed)


# ------------------------------------------------------------------ watching feeds


def _read_state(path: Path | None) -> dict[str, dict[str, str]]:
    """feed URL -> its saved validators; nothing when there is no (readable) state."""
    if path is None or not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("ignoring the watch state in %s (%s)", path, exc)
        return {}
    if not isinstance(data, dict):
        return {}
    return {
        str(url): {
            str(k): str(v) for k, v in got.items() if k in ("etag", "last_modified") and isinstance(v, str)
        }
        for url, got in data.items()
        if isinstance(got, dict)
    }


MAX_BACKOFF_POLLS = 8  # a failing feed is retried after 1, 2, 4… polls, at most this many


@dataclass
class PollReport:
    """One poll of a watch: what its feeds gave."""

    poll: int
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0
    not_modified: int = 0  # feeds that answered 304 to a conditional GET
    backing_off: int = 0  # feeds not fetched this poll because they failed recently
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        text = (
            f"poll {self.poll}: {self.new} new, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.failed} failed, {self.not_modified} not modified"
        )
        return text + (f", {self.backing_off} backing off" if self.backing_off else "")


@dataclass
class _Feed:
    url: str
    validators: dict[str, str] = field(default_factory=dict)  # etag, last_modified of the last stored fetch
    failures: int = 0  # in a row
    due: int = 0  # the first poll that fetches it again


class Watch:
    """Feeds polled again and again with conditional GETs; new items ingested, changed ones replaced.

    A feed's validators are kept only once what it gave is stored, so a failed write is fetched in full next
    time; with `state`, they are saved there too, so a restarted watch still asks conditionally. A feed that
    fails is retried after 1, 2, 4… polls (at most MAX_BACKOFF_POLLS); the others go on."""

    def __init__(
        self, urls: Iterable[str], max_bytes: int, allow_private: bool = False, state: Path | None = None
    ):
        self.state = state
        saved = _read_state(state)
        self.feeds = [_Feed(url, dict(saved.get(url, {}))) for url in dict.fromkeys(urls)]
        self.max_bytes = max_bytes
        self.allow_private = allow_private
        self.polls = 0

    def poll(self, store: Callable[[list[LoadResult]], IngestReport]) -> PollReport:
        """Fetch every feed that is due and store what changed with `store` (e.g. `write` on a collection)."""
        from ingest.sources import load_url

        self.polls += 1
        report = PollReport(self.polls)
        fetched: list[tuple[_Feed, LoadResult]] = []
        for feed in self.feeds:
            if feed.due > self.polls:
                report.backing_off += 1
                continue
            result = load_url(
                feed.url, self.max_bytes, allow_private=self.allow_private, validators=feed.validators
            )
            if result.not_modified:
                report.not_modified += 1
                feed.failures = 0
            elif result.errors and not result.articles:
                self._failed(feed, str(result.errors[0]))
                report.failed += len(result.errors)
                report.errors += [str(e) for e in result.errors]
            else:
                fetched.append((feed, result))
        if not fetched:
            return report
        try:
            stored = store([result for _, result in fetched])
        except Exception as exc:  # noqa: BLE001 - one poll's failure never stops the watch
            for feed, _ in fetched:
                self._failed(feed, f"{feed.url}: cannot store ({type(exc).__name__}: {exc})")
            report.failed += len(fetched)
            report.errors.append(f"cannot store what was fetched ({type(exc).__name__}: {exc})")
            return report
        for feed, result in fetched:
            feed.validators = {k: v for k, v in result.validators.items() if v}
            feed.failures, feed.due = 0, 0
        self._save()
        report.new, report.updated, report.unchanged = stored.new, stored.updated, stored.unchanged
        report.failed += stored.failed
        report.errors += stored.errors
        for line in stored.errors:
            log.warning("%s", line)
        return report

    def _save(self) -> None:
        if self.state is None:
            return
        saved = _read_state(self.state)
        saved.update({f.url: f.validators for f in self.feeds})
        try:
            self.state.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.state.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(saved, indent=1, sort_keys=True), encoding="utf-8")
            os.replace(tmp, self.state)  # a kill mid-write leaves the old state, never half of one
        except OSError as exc:
            log.warning(
                "cannot save the watch state to %s (%s); the next start fetches every feed", self.state, exc
            )

    def _failed(self, feed: _Feed, reason: str) -> None:
        feed.failures += 1
        wait = min(2 ** (feed.failures - 1), MAX_BACKOFF_POLLS)
        feed.due = self.polls + wait
        log.warning("%s (failure %d in a row; next try in %d poll(s))", reason, feed.failures, wait)
