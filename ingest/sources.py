"""Walk files, folders and URLs; read each safely and hand it to the right loader."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ingest.article import Article
from ingest.loaders import LOADERS, InputError, load_feed, load_html

DEFAULT_MAX_BYTES = 20 * 1024 * 1024


@dataclass
class LoadResult:
    """What one input file or URL gave: its articles and its problems (one line each)."""

    origin: str
    articles: list[Article] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)


def expand(inputs: Iterable[str | Path]) -> Iterator[str | Path]:
    """Files as given, folders walked recursively (supported types only, hidden files skipped), URLs as is."""
    for item in inputs:
        if isinstance(item, str) and item.startswith(("http://", "https://")):
            yield item
            continue
        path = Path(item)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                rel = child.relative_to(path)
                if child.is_file() and not any(p.startswith(".") for p in rel.parts) \
                        and child.suffix.lower() in LOADERS:
                    yield child
        else:
            yield path


def too_large(origin: str, size: int, max_bytes: int) -> InputError:
    mb = 1024 * 1024  # the unit of NEWSRAG_MAX_FILE_MB
    return InputError(origin, f"file is too large ({size / mb:.1f} MB > {max_bytes / mb:g} MB limit; "
                      "raise NEWSRAG_MAX_FILE_MB to allow it)")


def decode(data: bytes, origin: str, max_bytes: int) -> str:
    if not data:
        raise InputError(origin, "file is empty")
    if len(data) > max_bytes:
        raise too_large(origin, len(data), max_bytes)
    if b"\x00" in data[:8192]:
        raise InputError(origin, "binary file, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(origin, f"not UTF-8 text (invalid byte 0x{data[exc.start]:02x} at offset {exc.start}); "
                         "convert it to UTF-8") from None
    if not text.strip():
        raise InputError(origin, "file is empty")
    return text


def load_path(path: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> LoadResult:
    origin = str(path)
    result = LoadResult(origin)
    try:
        if not path.exists():
            raise InputError(origin, "no such file or folder")
        loader = LOADERS.get(path.suffix.lower())
        if loader is None:
            raise InputError(origin, f"unsupported file type {path.suffix or '(none)'!r} "
                             f"(supported: {', '.join(sorted(LOADERS))})")
        try:
            size = path.stat().st_size
            if size > max_bytes:
                raise too_large(origin, size, max_bytes)
            data = path.read_bytes()
        except PermissionError:
            raise InputError(origin, "cannot read the file: permission denied") from None
        except OSError as exc:
            raise InputError(origin, f"cannot read the file: {exc.strerror or exc}") from None
        _collect(result, loader(decode(data, origin, max_bytes), origin))
    except InputError as exc:
        result.errors.append(exc)
    return result


def load_url(url: str, max_bytes: int = DEFAULT_MAX_BYTES, timeout: float = 20.0) -> LoadResult:
    import httpx

    result = LoadResult(url)
    try:
        try:
            with httpx.Client(follow_redirects=True, timeout=timeout,
                              headers={"User-Agent": "newsrag/0.1 (+https://pypi.org/project/newsrag)"}) as client:
                response = client.get(url)
        except httpx.HTTPError as exc:
            raise InputError(url, f"cannot fetch: {exc}") from None
        if response.status_code >= 400:
            raise InputError(url, f"cannot fetch: HTTP {response.status_code}")
        data = response.content
        text = decode(data, url, max_bytes)
        ctype = response.headers.get("content-type", "").lower()
        head = text.lstrip()[:300].lower()
        is_feed = any(t in ctype for t in ("rss", "atom", "xml")) or head.startswith("<?xml") \
            or "<rss" in head or "<feed" in head
        articles = load_feed(text, url) if is_feed else load_html(text, url, url=str(response.url))
        _collect(result, articles)
    except InputError as exc:
        result.errors.append(exc)
    return result


def _collect(result: LoadResult, items: Iterable[Article | InputError]) -> None:
    try:
        for item in items:
            (result.errors if isinstance(item, InputError) else result.articles).append(item)
    except InputError as exc:
        result.errors.append(exc)


def load_inputs(inputs: Iterable[str | Path], max_bytes: int = DEFAULT_MAX_BYTES) -> Iterator[LoadResult]:
    """One LoadResult per file or URL, in order; never raises for a bad input."""
    for item in expand(inputs):
        if isinstance(item, str):
            yield load_url(item, max_bytes)
        else:
            yield load_path(item, max_bytes)
