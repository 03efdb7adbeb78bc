"""One loader per format: bytes in, articles out. A loader raises InputError for a bad input.

Every loader in LOADERS is `isolated`: whatever goes wrong inside it (a RecursionError on deeply
nested JSON, a bug in a parser) ends as one InputError line naming the input, never as another
exception, so one hostile file cannot stop a batch.
"""

from __future__ import annotations

import functools
import io
import json
import re
from collections.abc import Callable, Iterator
from datetime import date, datetime

from ingest.article import Article
from ingest.clean import clean_line, clean_text, html_to_text, no_surrogates
from ingest.dates import parse_date


class InputError(Exception):
    """An input that cannot be ingested; the message names the input and the reason, on one line."""

    def __init__(self, origin: str, reason: str):
        reason = _one_line(reason)
        super().__init__(f"{printable(origin)}: {reason}")
        self.origin = origin
        self.reason = reason


_CONTROL_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")  # and undecodable name bytes


def _one_line(text: object) -> str:
    return " ".join(str(text).splitlines()).strip()


def printable(origin: object) -> str:
    """The origin as shown in a message: control characters (a newline in a file name) escaped."""
    return _CONTROL_CHARS.sub(lambda m: f"\\x{ord(m.group()):02x}", str(origin))


def unexpected(origin: str, exc: BaseException) -> InputError:
    """An exception no loader anticipated, as one InputError line (the batch goes on)."""
    if isinstance(exc, RecursionError):
        return InputError(origin, "nested too deeply to read")
    if isinstance(exc, MemoryError):
        return InputError(origin, "too large to hold in memory")
    detail = _one_line(exc)[:200]
    return InputError(
        origin, f"unexpected error while loading ({type(exc).__name__}" + (f": {detail})" if detail else ")")
    )


Loader = Callable[..., Iterator["Article | InputError"]]


def isolated(loader: Loader) -> Loader:
    """Run a loader so that any exception inside it ends as an InputError naming the input.

    The unguarded function stays reachable as `.__wrapped__` (the fuzzing tests call it to check that
    no input needs this last line of defence)."""

    @functools.wraps(loader)
    def run(text: str, origin: str, *args, **kwargs) -> Iterator[Article | InputError]:
        try:
            yield from loader(text, origin, *args, **kwargs)
        except InputError:
            raise
        except Exception as exc:  # noqa: BLE001 - the loader boundary: one bad input never stops a batch
            raise unexpected(origin, exc) from None

    return run


# Field names seen in news dumps (MultiHop-RAG uses title, author, source, published_at, category, url, body).
FIELDS: dict[str, tuple[str, ...]] = {
    "title": ("title", "headline", "name"),
    "text": ("body", "text", "content", "article", "full_text", "description", "summary"),
    "source": ("source", "outlet", "publisher", "site_name", "sitename", "site", "publication"),
    "author": ("author", "authors", "byline", "creator"),
    "published_at": (
        "published_at",
        "published",
        "date",
        "pubDate",
        "datePublished",
        "published_time",
        "publishedAt",
        "pub_date",
        "time",
        "timestamp",
    ),
    "url": ("url", "link", "canonical_url", "href"),
    "category": ("category", "section", "categories", "topic"),
}

_MAX_NESTING = 20  # lists of lists (of dicts...) deeper than this in a field give no text


def _as_text(value: object, depth: int = 0) -> str:
    if value is None or depth > _MAX_NESTING:
        return ""
    if isinstance(value, list):
        return ", ".join(_as_text(v, depth + 1) for v in value if v)
    if isinstance(value, dict):
        return _as_text(value.get("name") or value.get("title") or "", depth + 1)
    return str(value)


def article_from_record(record: object, origin: str) -> Article:
    """Map a JSON object with any of the known field names onto an Article."""
    if not isinstance(record, dict):
        raise InputError(origin, f"expected a JSON object per article, got {type(record).__name__}")
    lower = {str(k).lower(): v for k, v in record.items()}
    got: dict[str, object] = {}
    for field, names in FIELDS.items():
        got[field] = next(
            (lower[n.lower()] for n in names if lower.get(n.lower()) not in (None, "", [])), None
        )
    text = _as_text(got["text"])
    if not text.strip():
        raise InputError(
            origin, "article has no text (expected one of the fields: " + ", ".join(FIELDS["text"]) + ")"
        )
    text = html_to_text(text) if re.search(r"</?(p|div|br|span|a)\b", text) else clean_text(text)
    if not text:
        raise InputError(origin, "article has no text (only control characters or markup)")
    raw_date = got["published_at"]
    published = parse_date(raw_date)
    if raw_date not in (None, "") and published is None:
        raise InputError(origin, f"field published_at: cannot read the date {str(raw_date)[:40]!r}")
    title = clean_line(_as_text(got["title"])) or _first_line(text)
    return Article(
        title=title,
        text=text,
        source=clean_line(_as_text(got["source"])),
        author=clean_line(_as_text(got["author"])),
        published_at=published,
        url=no_surrogates(_as_text(got["url"])).strip(),
        category=clean_line(_as_text(got["category"])),
        origin=origin,
    )


ITEM_IDS = ("id", "guid", "uuid", "_id", "article_id", "doc_id")


def _record(record: object, origin: str) -> Article | InputError:
    """One record of a batch (JSON array item, JSONL line, feed item), isolated from the others; its `key`
    is its own id, else its title and outlet (never its position: rows move when others are added)."""
    try:
        article = article_from_record(record, origin)
    except InputError as exc:
        return exc
    except Exception as exc:  # noqa: BLE001 - one bad record never stops the others
        return unexpected(origin, exc)
    lower = {str(k).lower(): v for k, v in record.items()}  # type: ignore[union-attr]
    own = next((clean_line(_as_text(lower[n])) for n in ITEM_IDS if lower.get(n) not in (None, "")), "")
    article.key = f"id:{own}" if own else f"title:{article.title.lower()}|{article.source.lower()}"
    return article


def _first_line(text: str) -> str:
    line = text.strip().split("\n", 1)[0]
    return line[:200]


def _parse_json(text: str, origin: str, one_line: bool = False) -> object:
    """json.loads with every failure as an InputError (for one JSONL line, the column alone)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        at = f"column {exc.colno}" if one_line else f"line {exc.lineno} column {exc.colno}"
        raise InputError(origin, f"malformed JSON at {at}: {exc.msg}") from None
    except RecursionError:
        raise InputError(
            origin, "JSON nested too deeply (arrays or objects more than about 1000 levels deep)"
        ) from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise InputError(origin, f"malformed JSON: {_one_line(exc)[:200]}") from None


@isolated
def load_json(text: str, origin: str) -> Iterator[Article | InputError]:
    data = _parse_json(text, origin)
    if isinstance(data, dict):
        items = next(
            (data[k] for k in ("articles", "items", "data", "results") if isinstance(data.get(k), list)),
            [data],
        )
    elif isinstance(data, list):
        items = data
    else:
        raise InputError(origin, "expected a JSON object or an array of objects")
    if not items:
        raise InputError(origin, "no articles in the JSON (an empty array)")
    for i, record in enumerate(items):
        yield _record(record, f"{origin}[{i}]")


@isolated
def load_jsonl(text: str, origin: str) -> Iterator[Article | InputError]:
    seen = False
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        seen = True
        where = f"{origin}:{lineno}"
        try:
            record = _parse_json(line, where, one_line=True)
        except InputError as exc:
            yield exc
            continue
        yield _record(record, where)
    if not seen:
        raise InputError(origin, "file is empty")


# ------------------------------------------------------------------ markdown and its front matter

FRONT_MATTER_MAX_BYTES = 64 * 1024
FRONT_MATTER_MAX_DEPTH = 20
# Longest value accepted per front matter field (characters); a longer one refuses the file.
FRONT_MATTER_FIELD_LIMITS: dict[str, int] = {
    "title": 500,
    "source": 200,
    "author": 200,
    "category": 200,
    "published_at": 100,
    "url": 2000,
}
_FIELD_OF = {name.lower(): field for field, names in FIELDS.items() for name in names}
_DELIMITER = re.compile(r"^---[ \t\r]*$", re.M)


def split_front_matter(text: str, origin: str) -> tuple[str | None, str]:
    """(front matter block or None, rest): the block lies between a first line `---` and the next `---` line.

    Linear time: no regular expression here can backtrack over a long input."""
    first, newline, _ = text[:64].partition("\n")
    if not newline or first.rstrip(" \t\r") != "---":
        return None, text
    start = len(first) + 1
    close = _DELIMITER.search(text, start)
    if close is None:
        return None, text  # an opening rule with no closing one: plain markdown, as before
    block = text[start : close.start()]
    if len(block) > FRONT_MATTER_MAX_BYTES or len(block.encode("utf-8")) > FRONT_MATTER_MAX_BYTES:
        raise InputError(origin, f"front matter is too large (more than {FRONT_MATTER_MAX_BYTES // 1024} KB)")
    return block, text[close.end() + 1 :]


def parse_front_matter(block: str, origin: str) -> dict[str, object]:
    """YAML `key: value` lines, parsed safely: no aliases (no "billion laughs"), bounded nesting and sizes."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    if not block.strip():
        return {}
    try:
        depth = 0
        # The event stream first: it is flat (nothing recursive, nothing expanded), so aliases and deep
        # nesting are refused before any object is built.
        for event in yaml.parse(block, Loader=loader):
            if isinstance(event, yaml.AliasEvent):
                raise InputError(
                    origin,
                    f"front matter uses a YAML alias (*{str(event.anchor)[:40]}); aliases are not allowed",
                )
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > FRONT_MATTER_MAX_DEPTH:
                    raise InputError(
                        origin,
                        f"front matter is nested too deeply (more than {FRONT_MATTER_MAX_DEPTH} levels)",
                    )
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
        loaded = yaml.load(block, Loader=loader)  # noqa: S506 - a safe loader; aliases already refused
    except yaml.YAMLError as exc:
        raise InputError(origin, f"malformed front matter: {str(exc).splitlines()[0]}") from None
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:  # e.g. the date 2025-13-45
        raise InputError(origin, f"malformed front matter: {_one_line(exc)[:200]}") from None
    if not isinstance(loaded, dict):
        raise InputError(origin, "front matter must be `key: value` lines")
    meta: dict[str, object] = {}
    for key, value in loaded.items():
        key = str(key)
        if isinstance(value, (datetime, date)):
            value = value.isoformat()
        field = _FIELD_OF.get(key.lower())
        limit = FRONT_MATTER_FIELD_LIMITS.get(field or "")
        if limit is not None:
            size = len(_as_text(value))
            if size > limit:
                raise InputError(
                    origin,
                    f"front matter field {key[:40]!r} is too long ({size} characters; "
                    f"the limit is {limit}), file not loaded",
                )
        meta[key] = value
    return meta


_HEADING = re.compile(r"^#[ \t]+(\S.*)$", re.M)


@isolated
def load_markdown(text: str, origin: str) -> Iterator[Article | InputError]:
    meta: dict[str, object] = {}
    block, text = split_front_matter(text, origin)
    if block is not None:
        meta = parse_front_matter(block, origin)
    heading = _HEADING.search(text)
    if heading:
        title = heading.group(1).rstrip().rstrip("#").rstrip()  # "# Title ##" -> "Title"
        if title:
            meta.setdefault("title", title)
        text = text[: heading.start()] + text[heading.end() :]
    meta["body"] = _strip_markdown(text)
    yield article_from_record(meta, origin)


# Bracket contents exclude their own delimiters, so no pattern rescans a long run of "[" or "(".
_IMAGE = re.compile(r"!\[[^\[\]]*\]\([^()\n]*\)")
_LINK = re.compile(r"\[([^\[\]]+)\]\([^()\n]*\)")


def _strip_markdown(text: str) -> str:
    text = _IMAGE.sub("", text)  # images
    text = _LINK.sub(r"\1", text)  # links -> their text
    text = re.sub(r"^#{1,6}[ \t]*", "", text, flags=re.M)
    text = re.sub(r"(\*\*|__|`)", "", text)
    return text


# ------------------------------------------------------------------ plain text


@isolated
def load_text(text: str, origin: str) -> Iterator[Article | InputError]:
    """Plain text: the first line is the headline when it is short, the rest the body."""
    body = clean_text(text)
    if not body:
        raise InputError(origin, "no text (only control characters or whitespace)")
    first, _, rest = body.partition("\n")
    if rest.strip() and len(first) <= 200:
        yield Article(title=first.strip(), text=clean_text(rest), origin=origin)
    else:
        yield Article(title=_first_line(body), text=body, origin=origin)


# ------------------------------------------------------------------ HTML


@isolated
def load_html(text: str, origin: str, url: str = "") -> Iterator[Article | InputError]:
    import trafilatura

    try:
        doc = trafilatura.bare_extraction(text, url=url or None, with_metadata=True, include_comments=False)
    except RecursionError:
        raise InputError(origin, "HTML nested too deeply to read") from None
    except Exception as exc:  # noqa: BLE001 - the extractor raises several types on junk
        raise InputError(origin, f"cannot extract the article from the HTML ({type(exc).__name__})") from None
    body = (getattr(doc, "text", "") if doc else "") or ""
    if not body.strip():
        raise InputError(origin, "no article text found in the HTML")
    meta = _html_meta(text)
    title = meta.get("title") or (doc.title if doc else "") or ""
    lines = clean_text(body).split("\n")
    # Extractors often keep a section label and the headline above the text: drop up to the headline.
    head = [line.strip() for line in lines[:4]]
    if title and title.strip() in head:
        lines = lines[head.index(title.strip()) + 1 :]
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


def _ld_items(data: object) -> list[object]:
    """The objects of a JSON-LD block: a list, a {"@graph": [...]} or one object."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        graph = data.get("@graph")
        return graph if isinstance(graph, list) else [data]
    return []


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
        except (ValueError, RecursionError):
            continue
        for item in _ld_items(data):
            if isinstance(item, dict) and "Article" in str(item.get("@type", ""))[:200]:
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
        "url": (str(canonical[0]).strip() if canonical else "") or meta("og:url"),
        "category": meta("article:section"),
    }
    for key, value in found.items():
        if value and not out.get(key):
            out[key] = value
    return {k: v for k, v in out.items() if v}


# ------------------------------------------------------------------ feeds


@isolated
def load_feed(text: str, origin: str) -> Iterator[Article | InputError]:
    """RSS 2.0 / Atom: every item is an article. XML is checked with defusedxml first."""
    import defusedxml.ElementTree as SafeET
    from defusedxml import DefusedXmlException

    data = text.encode("utf-8")
    try:
        SafeET.fromstring(data)
    except DefusedXmlException as exc:
        raise InputError(origin, f"unsafe XML refused ({type(exc).__name__})") from None
    except SafeET.ParseError as exc:
        raise InputError(origin, f"malformed XML: {exc}") from None
    except (LookupError, ValueError) as exc:  # an encoding declaration expat does not know or cannot use
        raise InputError(origin, f"malformed XML: {exc}") from None
    import feedparser

    # A stream, never a str: feedparser fetches a str that looks like a URL and opens one that names a file.
    try:
        feed = feedparser.parse(io.BytesIO(data))
    # feedparser's strict parser fails on a namespace URI holding a space-like character (U+0085, U+00A0)
    except ValueError as exc:
        raise InputError(origin, f"malformed feed XML: {exc}") from None
    if not feed.entries:
        raise InputError(origin, "XML is not an RSS or Atom feed with items")
    outlet = clean_line(_as_text(feed.feed.get("title", "")))
    for i, entry in enumerate(feed.entries):
        where = f"{origin} item {i + 1}"
        try:
            content = entry.get("content")
            body = content[0].get("value", "") if content else entry.get("summary", "")
            tags = entry.get("tags") or []
            guid = str(entry.get("id", "") or "")
            record = {
                "title": entry.get("title", ""),
                "body": html_to_text(body or ""),
                "source": outlet,
                "author": entry.get("author", ""),
                "published_at": entry.get("published") or entry.get("updated") or "",
                "url": entry.get("link", "") or (guid if guid.startswith(("http://", "https://")) else ""),
                "guid": guid,
                "category": tags[0].get("term", "") if tags else "",
            }
        except Exception as exc:  # noqa: BLE001 - one odd item never stops the others
            yield unexpected(where, exc)
            continue
        yield _record(record, where)


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
