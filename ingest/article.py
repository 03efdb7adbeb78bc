"""The article record every loader produces, with its stable id and content hash."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_TRACKING = ("utm_", "fbclid", "gclid", "mc_cid", "mc_eid")


def canonical_url(url: str) -> str:
    """Lower-case scheme and host, drop fragment, tracking parameters and a trailing slash."""
    url = (url or "").strip()
    if not url:
        return ""
    parts = urlsplit(url)
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.lower().startswith(_TRACKING)
    ]
    path = parts.path.rstrip("/") or ""
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), path, urlencode(query), ""))


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def url_doc_id(url: str) -> str:
    """The doc_id of the article at this URL (its canonical form), or "" for no URL."""
    canonical = canonical_url(url)
    return "u-" + _digest(canonical)[:20] if canonical else ""


@dataclass
class Article:
    title: str
    text: str
    source: str = ""
    author: str = ""
    published_at: datetime | None = None
    url: str = ""
    category: str = ""
    origin: str = ""  # the file or URL it was read from, as shown in messages
    # Where it lives, as identity: the file's path relative to its input folder (or the feed's URL), plus,
    # in a file of many articles, the item's own id or its title and outlet. Set by ingest.sources.
    key: str = ""
    story_id: str = ""  # the doc_id of the first article of its near-duplicate group (set at ingest)

    @property
    def doc_id(self) -> str:
        """Stable id: from the canonical URL, else where it lives (`key`), else outlet+title+date, else the
        content. An article edited in place keeps its id, so re-ingesting replaces it."""
        if from_url := url_doc_id(self.url):
            return from_url
        if self.key:
            return "p-" + _digest(self.key)[:20]
        if self.title and (self.source or self.published_at):
            return "t-" + _digest(self.source.lower(), self.title.lower(), self.published_iso)[:20]
        return "c-" + _digest(self.title, self.text)[:20]

    @property
    def published_iso(self) -> str:
        if self.published_at is None:
            return ""
        return self.published_at.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    @property
    def published_ts(self) -> int:
        """Epoch seconds (Chroma filters ranges on numbers); -1 when the date is unknown."""
        return int(self.published_at.timestamp()) if self.published_at else -1

    @property
    def content_hash(self) -> str:
        return _digest(
            self.title, self.text, self.source, self.author, self.published_iso, self.url, self.category
        )[:32]

    def metadata(self) -> dict[str, str | int]:
        """Flat metadata (no None values: Chroma refuses them)."""
        return {
            "doc_id": self.doc_id,
            "title": self.title,
            "source": self.source,
            "author": self.author,
            "published_at": self.published_iso,
            "published_ts": self.published_ts,
            "url": self.url,
            "category": self.category,
            "content_hash": self.content_hash,
            "story_id": self.story_id or self.doc_id,
        }
