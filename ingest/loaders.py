"""One loader per format: bytes in, articles out. A loader raises InputError for a bad input."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from datetime import datetime

from ingest.article import Article
from ingest.clean import clean_line, clean_text, html_to_text
from ingest.dates import parse_date


class InputError(Exception):
    """An input that cannot be ingested; the message names the input and the reason."""

    def __init__(self, origin: str, reason: str):
        super().__init__(f"{origin}: {reason}")
        self.origin = origin
        self.reason = reason


# Field names seen in news dumps (MultiHop-RAG uses title, author, source, published_at, category, url, body).
FIELDS: dict[str, tuple[str, ...]] = {
    "title": ("title", "headline", "name"),
    "text": ("body", "text", "content", "article", "full_text", "description", "summary"),
    "source": ("source", "outlet", "publisher", "site_name", "sitename", "site", "publication"),
    "author": ("author", "authors", "byline", "creator"),
    "published_at": ("published_at", "published", "date", "pubDate", "datePublished", "published_time",
                     "publishedAt", "pub_date", "time", "timestamp"),
    "url": ("url", "link", "canonical_url", "href"),
    "category": ("category", "section", "categories", "topic"),
}


def _as_text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return ", ".join(_as_text(v) for v in value if v)
    if isinstance(value, dict):
        return _as_text(value.get("name") or value.get("title") or "")
    return str(value)


def article_from_record(record: object, origin: str) -> Article:
    """Map a JSON object with any of the known field names onto an Article."""
    if not isinstance(record, dict):
        raise InputError(origin, f"expected a JSON object per article, got {type(record).__name__}")
    lower = {k.lower(): v for k, v in record.items()}
    got: dict[str, object] = {}
    for field, names in FIELDS.items():
        got[field] = next((lower[n.lower()] for n in names if lower.get(n.lower()) not in (None, "", [])), None)
    text = _as_text(got["text"])
    if not text.strip():
        raise InputError(origin, "article has no text (expected one of the fields: "
                         + ", ".join(FIELDS["text"]) + ")")
    text = html_to_text(text) if re.search(r"</?(p|div|br|span|a)\b", text) else clean_text(text)
    raw_date = got["published_at"]
    published = parse_date(raw_date)
    if raw_date not in (None, "") and published is None:
        raise InputError(origin, f"field published_at: cannot read the date {str(raw_date)[:40]!r}")
    title = clean_line(_as_text(got["title"])) or _first_line(text)
    return Article(title=title, text=text, source=clean_line(_as_text(got["source"])),
                   author=clean_line(_as_text(got["author"])), published_at=published,
                   url=_as_text(got["url"]).strip(), category=clean_line(_as_text(got["category"])),
                   origin=origin)


def _first_line(text: str) -> str:
    line = text.strip().split("\n", 1)[0]
    return line[:200]


def load_json(text: str, origin: str) -> Iterator[Article | InputError]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(origin, f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    if isinstance(data, dict):
        items = next((data[k] for k in ("articles", "items", "data", "results") if isinstance(data.get(k), list)),
                     [data])
    elif isinstance(data, list):
        items = data
    else:
        raise InputError(origin, "expected a JSON object or an array of objects")
    for i, record in enumerate(items):
        try:
            yield article_from_record(record, f"{origin}[{i}]")
        except InputError as exc:
            yield exc


def load_jsonl(text: str, origin: str) -> Iterator[Article | InputError]:
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{origin}:{lineno}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            yield InputError(where, f"malformed JSON at column {exc.colno}: {exc.msg}")
            continue
        try:
            yield article_from_record(record, where)
        except InputError as exc:
            yield exc


_FRONT = re.compile(r"\A---\s*\n(.*?)\n---\s*\n", re.S)


def load_markdown(text: str, origin: str) -> Iterator[Article | InputError]:
    meta: dict[str, object] = {}
    match = _FRONT.match(text)
    if match:
        import yaml

        try:
            loaded = yaml.safe_load(match.group(1))
        except yaml.YAMLError as exc:
            raise InputError(origin, f"malformed front matter: {str(exc).splitlines()[0]}") from None
        if not isinstance(loaded, dict):
            raise InputError(origin, "front matter must be `key: value` lines")
        meta = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in loaded.items()}
        text = text[match.end():]
    heading = re.search(r"^#\s+(.+?)\s*#*\s*$", text, re.M)
    if heading:
        meta.setdefault("title", heading.group(1))
        text = text[:heading.start()] + text[heading.end():]
    meta["body"] = _strip_markdown(text)
    yield article_from_record(meta, origin)


def _strip_markdown(text: str) -> str:
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", text)  # images
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)  # links -> their text
    text = re.sub(r"^#{1,6}\s*", "", text, flags=re.M)
    text = re.sub(r"(\*\*|__|`)", "", text)
    return text


def load_text(text: str, origin: str) -> Iterator[Article | InputError]:
    """Plain text: the first line is the headline when it is short, the rest the body."""
    body = clean_text(text)
    first, _, rest = body.partition("\n")
    if rest.strip() and len(first) <= 200:
        yield Article(title=first.strip(), text=clean_text(rest), origin=origin)
    else:
        yield Article(title=_first_line(body), text=body, origin=origin)


def load_html(text: str, origin: str, url: str = "") -> Iterator[Article | InputError]:
    import trafilatura

    doc = trafilatura.bare_extraction(text, url=url or None, with_metadata=True, include_comments=False)
    body = (doc.text if doc else "") or ""
    if not body.strip():
        raise InputError(origin, "no article text found in the HTML")
    meta = _html_meta(text)
    title = meta.get("title") or (doc.title if doc else "") or ""
    lines = clean_text(body).split("\n")
    # Extractors often keep a section label and the headline above the text: drop up to the headline.
    head = [line.strip() for line in lines[:4]]
    if title and title.strip() in head:
        lines = lines[head.index(title.strip()) + 1:]
    record = {
        "title": title,
        "body": "\n\n".join(line for line in lines if line.strip()),
        "source": meta.get("source") or (doc.sitename if doc else "") or "",
        "author": meta.get("author") or (doc.author if doc else "") or "",
        "published_at": meta.get("published_at") or (doc.date if doc else "") or "",
        "url": meta.get("url") or (doc.url if doc else "") or url,
        "category": meta.get("category") or "",
    }
    yield article_from_record(record, origin)


def _html_meta(text: str) -> dict[str, str]:
    """Metadata from <meta>, canonical link and JSON-LD NewsArticle; full timestamps, unlike trafilatura."""
    import lxml.html

    try:
        root = lxml.html.fromstring(text)
    except Exception:  # noqa: BLE001 - lxml raises several types on junk input
        return {}
    out: dict[str, str] = {}

    def meta(*keys: str) -> str:
        for key in keys:
            for el in root.xpath(f'//meta[@property="{key}" or @name="{key}"]'):
                value = (el.get("content") or "").strip()
                if value:
                    return value
        return ""

    for script in root.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(script.text or "")
        except json.JSONDecodeError:
            continue
        for item in data if isinstance(data, list) else data.get("@graph", [data]):
            if isinstance(item, dict) and "Article" in str(item.get("@type", "")):
                out.setdefault("title", _as_text(item.get("headline")))
                out.setdefault("published_at", _as_text(item.get("datePublished")))
                out.setdefault("author", _as_text(item.get("author")))
                out.setdefault("source", _as_text(item.get("publisher")))
                out.setdefault("category", _as_text(item.get("articleSection")))
                out.setdefault("url", _as_text(item.get("url") or item.get("mainEntityOfPage")))
    canonical = root.xpath('//link[@rel="canonical"]/@href')
    found = {
        "title": meta("og:title", "twitter:title") or "".join(root.xpath("//title/text()")).strip(),
        "source": meta("og:site_name", "application-name"),
        "author": meta("author", "article:author", "byl"),
        "published_at": meta("article:published_time", "datePublished", "pubdate", "date"),
        "url": (canonical[0].strip() if canonical else "") or meta("og:url"),
        "category": meta("article:section"),
    }
    for key, value in found.items():
        if value and not out.get(key):
            out[key] = value
    return {k: v for k, v in out.items() if v}


def load_feed(text: str, origin: str) -> Iterator[Article | InputError]:
    """RSS 2.0 / Atom: every item is an article. XML is checked with defusedxml first."""
    import defusedxml.ElementTree as SafeET
    from defusedxml import DefusedXmlException

    try:
        SafeET.fromstring(text.encode("utf-8"))
    except DefusedXmlException as exc:
        raise InputError(origin, f"unsafe XML refused ({type(exc).__name__})") from None
    except SafeET.ParseError as exc:
        raise InputError(origin, f"malformed XML: {exc}") from None
    import feedparser

    feed = feedparser.parse(text)
    if not feed.entries:
        raise InputError(origin, "XML is not an RSS or Atom feed with items")
    outlet = clean_line(feed.feed.get("title", ""))
    for i, entry in enumerate(feed.entries):
        content = entry.get("content")
        body = content[0].get("value", "") if content else entry.get("summary", "")
        tags = entry.get("tags") or []
        record = {
            "title": entry.get("title", ""),
            "body": html_to_text(body or ""),
            "source": outlet,
            "author": entry.get("author", ""),
            "published_at": entry.get("published") or entry.get("updated") or "",
            "url": entry.get("link", "") or entry.get("id", ""),
            "category": tags[0].get("term", "") if tags else "",
        }
        try:
            yield article_from_record(record, f"{origin} item {i + 1}")
        except InputError as exc:
            yield exc


Loader = Callable[[str, str], Iterator[Article | InputError]]

LOADERS: dict[str, Loader] = {
    ".txt": load_text,
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".html": load_html,
    ".htm": load_html,
    ".json": load_json,
    ".jsonl": load_jsonl,
    ".ndjson": load_jsonl,
    ".xml": load_feed,
    ".rss": load_feed,
    ".atom": load_feed,
}
