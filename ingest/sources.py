"""Walk files, folders and URLs; read each safely and hand it to the right loader.

Every input is loaded in isolation: whatever goes wrong with one (an unreadable file, a FIFO, a
symlink loop, a parser that blows up, a URL that is refused) ends as InputError line(s) in its own
LoadResult, and the rest of the batch is still loaded.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ingest.article import Article
from ingest.fetch import DEFAULT_TIMEOUT, AddressPolicy, fetch
from ingest.loaders import LOADERS, InputError, load_feed, load_html, unexpected

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
MAX_FOLDER_DEPTH = 32  # folders nested deeper than this below an input folder are reported, not walked
_READ_CHUNK = 1024 * 1024


@dataclass
class LoadResult:
    """What one input file or URL gave: its articles and its problems (one line each)."""

    origin: str
    articles: list[Article] = field(default_factory=list)
    errors: list[InputError] = field(default_factory=list)
    not_modified: bool = False  # a URL fetched conditionally answered 304: nothing to load
    validators: dict[str, str] = field(default_factory=dict)  # the URL's etag and last_modified, if any


def expand(inputs: Iterable[str | Path]) -> Iterator[str | Path | InputError]:
    """Files as given, folders walked recursively (supported types only, hidden files skipped), URLs as is.

    A problem met while walking (an unreadable folder, a symlink loop, nesting deeper than
    MAX_FOLDER_DEPTH) is yielded as an InputError in the walk's order. Symlinked folders inside a walk
    are not followed (no loops); a symlinked folder given as an input is."""
    for item in inputs:
        if isinstance(item, str) and item.startswith(("http://", "https://")):
            yield item
            continue
        path = Path(item)
        if path.is_dir():
            yield from _walk(path, 0)
        else:
            yield path


def _walk(folder: Path, depth: int) -> Iterator[Path | InputError]:
    try:
        with os.scandir(folder) as entries:
            listing = sorted(entries, key=lambda e: e.name)
    except OSError as exc:
        yield InputError(str(folder), f"cannot read the folder: {exc.strerror or exc}")
        return
    for entry in listing:
        if entry.name.startswith("."):
            continue
        path = folder / entry.name
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
        except OSError:
            is_dir = False
        if is_dir:
            if depth + 1 > MAX_FOLDER_DEPTH:
                yield InputError(
                    str(path),
                    f"folder nested more than {MAX_FOLDER_DEPTH} levels deep; "
                    "not walked (give it as an input of its own)",
                )
            else:
                yield from _walk(path, depth + 1)
        elif path.suffix.lower() in LOADERS:
            yield path  # load_path names it if it is a FIFO, a device, a loop or a broken link
        elif entry.is_symlink() and _is_loop(path):
            yield InputError(str(path), _LOOP)  # neither file nor folder: say so rather than skip it


_LOOP = "symbolic link loop (too many levels of symbolic links)"


def _is_loop(path: Path) -> bool:
    try:
        os.stat(path)
    except OSError as exc:
        return exc.errno == errno.ELOOP
    return False


def too_large(origin: str, size: int, max_bytes: int) -> InputError:
    mb = 1024 * 1024  # the unit of NEWSRAG_MAX_FILE_MB
    return InputError(
        origin,
        f"file is too large ({size / mb:.1f} MB > {max_bytes / mb:g} MB limit; "
        "raise NEWSRAG_MAX_FILE_MB to allow it)",
    )


def decode(data: bytes, origin: str, max_bytes: int, what: str = "file") -> str:
    if not data:
        raise InputError(origin, f"{what} is empty")
    if len(data) > max_bytes:
        raise too_large(origin, len(data), max_bytes)
    if b"\x00" in data[:8192]:
        raise InputError(origin, f"binary {what}, not text")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(
            origin,
            f"not UTF-8 text (invalid byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "convert it to UTF-8",
        ) from None
    if not text.strip():
        raise InputError(origin, f"{what} is empty")
    return text


_KINDS = (
    (stat.S_ISDIR, "a folder"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _not_regular(origin: str, mode: int) -> InputError:
    kind = next((name for test, name in _KINDS if test(mode)), "a special file")
    return InputError(origin, f"not a regular file but {kind}; skipped")


def _stat(path: Path, origin: str) -> os.stat_result:
    """stat (following symlinks), with every failure as a one-line InputError."""
    try:
        return os.stat(path)
    except FileNotFoundError:
        if os.path.lexists(path):
            raise InputError(origin, "broken symbolic link (its target does not exist)") from None
        raise InputError(origin, "no such file or folder") from None
    except PermissionError:
        raise InputError(origin, "cannot read the file: permission denied") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(origin, _LOOP) from None
        raise InputError(origin, f"cannot read the file: {exc.strerror or exc}") from None
    except ValueError as exc:  # a NUL in the name
        raise InputError(origin, f"cannot read the file: {exc}") from None


def read_file(path: Path, origin: str, max_bytes: int) -> bytes:
    """The bytes of a regular file, never more than max_bytes + 1 of them read.

    FIFOs, devices and sockets (a `.txt` symlink to /dev/zero or to a FIFO included) are refused
    without a blocking open or read: stat first, then a non-blocking open and fstat on the very file
    opened, in case it was swapped in between."""
    info = _stat(path, origin)
    if not stat.S_ISREG(info.st_mode):
        raise _not_regular(origin, info.st_mode)
    if info.st_size > max_bytes:
        raise too_large(origin, info.st_size, max_bytes)
    flags = (
        os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    )
    try:
        fd = os.open(path, flags)
    except PermissionError:
        raise InputError(origin, "cannot read the file: permission denied") from None
    except OSError as exc:
        raise InputError(origin, f"cannot read the file: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise _not_regular(origin, info.st_mode)
        chunks: list[bytes] = []
        total = 0
        while total <= max_bytes:  # a file that grows while read still stops at max_bytes + 1
            chunk = os.read(fd, min(_READ_CHUNK, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise InputError(origin, f"cannot read the file: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    if total > max_bytes:
        raise too_large(origin, max(info.st_size, total), max_bytes)
    return b"".join(chunks)


def location_key(path: Path, root: Path | None = None) -> str:
    """The file's identity: its path relative to the parent of the folder given as input (`root`), so the same
    folder read from another working directory gives the same ids; a file given alone is "<its folder>/<name>".
    The folder's own name is kept so that two input folders holding `a.txt` do not collide."""
    target = os.path.abspath(path)
    base = os.path.dirname(os.path.abspath(root) if root is not None else target)
    return Path(os.path.relpath(target, os.path.dirname(base) if root is None else base)).as_posix()


def _locate(articles: list[Article], where: str) -> None:
    """Prefix each article's item key (set by multi-article loaders) with where it was read from."""
    for article in articles:
        article.key = f"{where}#{article.key}" if article.key else where


def load_path(path: Path, max_bytes: int = DEFAULT_MAX_BYTES, key: str | None = None) -> LoadResult:
    """Load one file; `key` is its identity (default: `location_key(path)`)."""
    path = Path(path)
    origin = str(path)
    result = LoadResult(origin)
    try:
        info = _stat(path, origin)
        if not stat.S_ISREG(info.st_mode):
            raise _not_regular(origin, info.st_mode)
        loader = LOADERS.get(path.suffix.lower())
        if loader is None:
            raise InputError(
                origin,
                f"unsupported file type {path.suffix or '(none)'!r} "
                f"(supported: {', '.join(sorted(LOADERS))})",
            )
        data = read_file(path, origin, max_bytes)
        _collect(result, loader(decode(data, origin, max_bytes), origin))
        _locate(result.articles, key or location_key(path))
    except InputError as exc:
        result.errors.append(exc)
    except Exception as exc:  # noqa: BLE001 - one input never stops the batch
        result.errors.append(unexpected(origin, exc))
    return result


def load_url(
    url: str,
    max_bytes: int = DEFAULT_MAX_BYTES,
    timeout: float = DEFAULT_TIMEOUT,
    allow_private: bool = False,
    address_policy: AddressPolicy | None = None,
    validators: dict[str, str] | None = None,
) -> LoadResult:
    """Fetch a page or feed (see ingest.fetch: public addresses only unless allow_private, redirects
    re-checked, `timeout` seconds for the whole fetch, at most max_bytes read) and load it.

    The final URL after redirects is the article's identity: a URL and its redirect target give the
    same article. Feed items keep their own links. With `validators` (the `etag` and `last_modified` of an
    earlier result) the fetch is conditional, and a 304 gives a result with `not_modified` and no articles."""
    result = LoadResult(url)
    try:
        got = fetch(
            url,
            max_bytes=max_bytes,
            timeout=timeout,
            allow_private=allow_private,
            address_policy=address_policy,
            **(validators or {}),
        )
        result.validators = {"etag": got.etag, "last_modified": got.last_modified}
        if got.not_modified:
            result.not_modified = True
            return result
        text = decode(got.content, url, max_bytes, what="response")
        ctype = got.content_type.lower()
        head = text.lstrip()[:300].lower()
        is_feed = (
            any(t in ctype for t in ("rss", "atom", "xml"))
            or head.startswith("<?xml")
            or "<rss" in head
            or "<feed" in head
        )
        articles = load_feed(text, url) if is_feed else load_html(text, url, url=got.url)
        _collect(result, articles)
        _locate(result.articles, got.url)
    except InputError as exc:
        result.errors.append(exc)
    except Exception as exc:  # noqa: BLE001 - one input never stops the batch
        result.errors.append(unexpected(url, exc))
    return result


def _collect(result: LoadResult, items: Iterable[Article | InputError]) -> None:
    try:
        for item in items:
            (result.errors if isinstance(item, InputError) else result.articles).append(item)
    except InputError as exc:
        result.errors.append(exc)
    except Exception as exc:  # noqa: BLE001 - a loader that failed half way: keep what it gave
        result.errors.append(unexpected(result.origin, exc))


def load_inputs(
    inputs: Iterable[str | Path], max_bytes: int = DEFAULT_MAX_BYTES, allow_private: bool = False
) -> Iterator[LoadResult]:
    """One LoadResult per file, URL or walking problem, in order; never raises for a bad input.

    allow_private=False (the default) refuses URLs whose host is loopback, private, link-local...;
    the CLI's --allow-private-urls sets it."""
    for given in inputs:
        root = None if isinstance(given, str) and given.startswith(("http://", "https://")) else Path(given)
        for item in expand([given]):
            if isinstance(item, InputError):
                yield LoadResult(item.origin, errors=[item])
            elif isinstance(item, str):
                yield load_url(item, max_bytes, allow_private=allow_private)
            else:
                walked = root is not None and root != item and root.is_dir()
                yield load_path(item, max_bytes, key=location_key(item, root if walked else None))
