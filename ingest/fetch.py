"""Fetch one URL defensively: public addresses only, every redirect re-checked, one deadline, a size cap.

- The host name is resolved once (socket.getaddrinfo); if ANY of its addresses is loopback, private,
  link-local, multicast, reserved, unspecified or otherwise not public (IPv4-mapped, 6to4 and NAT64
  IPv6 forms are judged by the IPv4 address inside), the URL is refused, unless the caller allows
  private addresses or passes its own address policy.
- The connection goes to an address that was checked, never to a second resolution (DNS rebinding):
  a network backend pinned to those addresses replaces httpcore's own connect. The URL, the Host
  header, TLS SNI and certificate checks still use the host name.
- Redirects are followed by hand (at most MAX_REDIRECTS), each hop checked like the first; only
  http and https.
- One deadline covers the whole fetch, redirects included: every connect, TLS handshake, read and
  write gets only the time left, so a server dripping a byte every few seconds is cut off on time.
- The body is streamed and reading stops past max_bytes (a gzip or deflate body is decompressed
  with the same bound), so a huge or endless response is never held in memory.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import httpcore
import httpx

from ingest.loaders import InputError, printable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# Why an address may not be fetched ("a loopback address"), or None when it may.
AddressPolicy = Callable[[IPAddress], str | None]

MAX_REDIRECTS = 5
DEFAULT_TIMEOUT = 30.0  # seconds for the whole fetch, redirects included
PRIVATE_HINT = "pass --allow-private-urls to allow private addresses"
USER_AGENT = b"newsrag/0.1 (+https://pypi.org/project/newsrag)"
ACCEPT = b"text/html,application/xhtml+xml,application/rss+xml,application/atom+xml,application/xml;q=0.9,*/*;q=0.5"
REDIRECTS = (301, 302, 303, 307, 308)
_MB = 1024 * 1024  # the unit of NEWSRAG_MAX_FILE_MB
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


# ------------------------------------------------------------------ address policies


def public_only(ip: IPAddress) -> str | None:
    """The default policy: only public (globally routable) addresses may be fetched."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:127.0.0.1 is 127.0.0.1
            return public_only(ip.ipv4_mapped)
        embedded = ip.sixtofour or (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else None)
        if embedded is not None and (reason := public_only(embedded)):
            return reason
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_reserved:
        return "a reserved address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local:
        return "a site-local address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global:
        return "not a public address"
    return None


def allow_any(ip: IPAddress) -> str | None:
    """The policy of allow_private=True: any address."""
    return None


def allowing(*addresses: str, otherwise: AddressPolicy = public_only) -> AddressPolicy:
    """A policy that also allows these exact addresses (tests use it to treat 127.0.0.x as public)."""
    allowed = {ipaddress.ip_address(a) for a in addresses}

    def policy(ip: IPAddress) -> str | None:
        return None if ip in allowed else otherwise(ip)

    return policy


# ------------------------------------------------------------------ the fetch


@dataclass
class Fetched:
    url: str  # the final URL, after redirects: the identity of what was fetched
    content: bytes  # at most max_bytes, decompressed
    content_type: str
    redirects: int = 0
    etag: str = ""  # the validators of the response, for the next conditional GET
    last_modified: str = ""
    not_modified: bool = False  # HTTP 304 to a conditional GET: nothing changed, no content


class _Deadline(Exception):
    pass


def fetch(
    url: str,
    *,
    max_bytes: int,
    timeout: float = DEFAULT_TIMEOUT,
    allow_private: bool = False,
    address_policy: AddressPolicy | None = None,
    max_redirects: int = MAX_REDIRECTS,
    ssl_context: ssl.SSLContext | None = None,
    etag: str = "",
    last_modified: str = "",
) -> Fetched:
    """GET `url` under the rules above; every failure is an InputError naming `url`, on one line.

    With `etag` or `last_modified` (from an earlier response) the GET is conditional (If-None-Match,
    If-Modified-Since), and a 304 answer comes back as `Fetched(not_modified=True)` with no content."""
    policy = address_policy or (allow_any if allow_private else public_only)
    conditional = [(b"If-None-Match", etag.encode("latin-1", "replace"))] if etag else []
    if last_modified:
        conditional.append((b"If-Modified-Since", last_modified.encode("latin-1", "replace")))
    deadline = time.monotonic() + timeout
    current = _parse(url, url)
    try:
        for hop in range(max_redirects + 1):
            addresses = _checked_addresses(current, url, policy, deadline, redirect=hop > 0)
            got = _get(current, addresses, url, max_bytes, deadline, ssl_context, conditional)
            if isinstance(got, Fetched):
                got.redirects = hop
                return got
            current = got  # a redirect
        raise InputError(url, f"cannot fetch: more than {max_redirects} redirects")
    except (_Deadline, httpcore.TimeoutException):
        raise InputError(
            url,
            f"cannot fetch: timed out after {timeout:g} s "
            "(the limit for the whole fetch, redirects included)",
        ) from None


def _parse(text: str, origin: str, redirect: bool = False) -> httpx.URL:
    shown = printable(text)[:200]
    try:
        parsed = httpx.URL(text)
    except (httpx.InvalidURL, ValueError, TypeError) as exc:
        where = f"redirect to an invalid URL {shown!r}" if redirect else "invalid URL"
        raise InputError(origin, f"cannot fetch: {where} ({exc})") from None
    if parsed.scheme not in ("http", "https"):
        if redirect:
            raise InputError(origin, f"refused: redirect to {shown} (only http and https URLs are fetched)")
        raise InputError(origin, "refused: only http and https URLs are fetched")
    if not parsed.host:
        raise InputError(origin, f"cannot fetch: {'redirect to a URL' if redirect else 'URL'} without a host")
    return parsed


def _checked_addresses(
    target: httpx.URL, origin: str, policy: AddressPolicy, deadline: float, redirect: bool
) -> list[str]:
    """The addresses of the target's host, every one of them allowed by the policy (else InputError)."""
    host = target.raw_host.decode("ascii")
    port = target.port or (443 if target.scheme == "https" else 80)
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    addresses = [host] if literal is not None else _resolve(host, port, origin, deadline)
    hop = f"redirect to {printable(str(target))[:200]}: " if redirect else ""
    for address in addresses:
        ip = ipaddress.ip_address(address)
        reason = policy(ip)
        if reason:
            what = (
                f"{_shown(ip)} is {reason}"
                if literal is not None
                else f"{host} resolves to {_shown(ip)}, {reason}"
            )
            raise InputError(origin, f"refused: {hop}{what} ({PRIVATE_HINT})")
    return addresses


def _shown(ip: IPAddress) -> str:
    """An address as people write it: ::ffff:127.0.0.1 rather than ::ffff:7f00:1 (Python < 3.13)."""
    mapped = getattr(ip, "ipv4_mapped", None)
    return f"::ffff:{mapped}" if mapped is not None else str(ip)


def _resolve(host: str, port: int, origin: str, deadline: float) -> list[str]:
    """getaddrinfo, within the deadline (a resolver can hang well past it, so it runs in a thread)."""
    box: dict[str, object] = {}

    def work() -> None:
        try:
            box["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except Exception as exc:  # noqa: BLE001 - reported below
            box["error"] = exc

    worker = threading.Thread(target=work, name="newsrag-resolve", daemon=True)
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()))
    if worker.is_alive():
        raise _Deadline
    if "error" in box or not box.get("infos"):
        raise InputError(origin, f"cannot fetch: cannot resolve the host name {host!r}")
    addresses: list[str] = []
    for info in box["infos"]:  # type: ignore[union-attr]
        address = str(info[4][0])
        if address not in addresses:
            addresses.append(address)
    return addresses


def _get(
    target: httpx.URL,
    addresses: list[str],
    origin: str,
    max_bytes: int,
    deadline: float,
    ssl_context: ssl.SSLContext | None,
    conditional: list[tuple[bytes, bytes]] = (),  # type: ignore[assignment]
) -> Fetched | httpx.URL:
    """One request: the response (Fetched) or where it redirects to (httpx.URL)."""
    host = target.raw_host.decode("ascii")
    pool = httpcore.ConnectionPool(
        ssl_context=ssl_context,
        retries=0,
        http2=False,
        network_backend=_PinnedBackend(host, addresses, deadline),
    )
    left = max(0.001, deadline - time.monotonic())
    request_url = httpcore.URL(
        scheme=target.raw_scheme, host=target.raw_host, port=target.port, target=target.raw_path
    )
    headers = [
        (b"Host", target.netloc),
        (b"User-Agent", USER_AGENT),
        (b"Accept", ACCEPT),
        (b"Accept-Encoding", b"gzip, deflate"),
        *conditional,
    ]
    try:
        with pool.stream(
            "GET",
            request_url,
            headers=headers,
            extensions={"timeout": {"connect": left, "read": left, "write": left, "pool": left}},
        ) as response:
            fields = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in response.headers}
            status = response.status
            if status in REDIRECTS:
                location = fields.get("location", "").strip()
                if not location:
                    raise InputError(
                        origin, f"cannot fetch: HTTP {status} redirect without a Location header"
                    )
                try:
                    joined = str(target.join(location))
                except (httpx.InvalidURL, ValueError, TypeError) as exc:
                    raise InputError(
                        origin,
                        f"cannot fetch: redirect to an invalid URL {printable(location)[:200]!r} ({exc})",
                    ) from None
                return _parse(joined, origin, redirect=True)
            final = target.copy_with(userinfo=b"") if target.userinfo else target  # no credentials in ids
            validators = {
                "etag": fields.get("etag", "").strip(),
                "last_modified": fields.get("last-modified", "").strip(),
            }
            if status == 304 and conditional:
                return Fetched(url=str(final), content=b"", content_type="", not_modified=True, **validators)
            if not 200 <= status < 300:
                raise InputError(origin, f"cannot fetch: HTTP {status}")
            length = fields.get("content-length", "").strip()
            if length.isdigit() and int(length) > max_bytes:
                raise InputError(
                    origin,
                    f"response is too large ({int(length) / _MB:.1f} MB > "
                    f"{max_bytes / _MB:g} MB limit; raise NEWSRAG_MAX_FILE_MB to allow it)",
                )
            body = _read_capped(
                response.iter_stream(), fields.get("content-encoding", ""), origin, max_bytes, deadline
            )
            return Fetched(
                url=str(final), content=body, content_type=fields.get("content-type", ""), **validators
            )
    except httpcore.TimeoutException:
        raise
    except httpcore.ConnectError as exc:
        raise InputError(origin, f"cannot fetch: {_connect_problem(exc, host, target)}") from None
    except httpcore.ProtocolError as exc:
        raise InputError(origin, f"cannot fetch: the server broke the HTTP protocol ({_say(exc)})") from None
    except httpcore.NetworkError as exc:
        raise InputError(origin, f"cannot fetch: connection lost ({_say(exc)})") from None
    except httpcore.UnsupportedProtocol as exc:
        raise InputError(origin, f"cannot fetch: {_say(exc)}") from None
    finally:
        pool.close()


def _read_capped(
    chunks: Iterable[bytes], encoding: str, origin: str, max_bytes: int, deadline: float
) -> bytes:
    """The body, decompressed, stopping as soon as it passes max_bytes."""
    encoding = encoding.strip().lower()
    if encoding not in ("", "identity", "gzip", "x-gzip", "deflate"):
        raise InputError(origin, f"cannot fetch: unsupported Content-Encoding {printable(encoding)[:40]!r}")
    inflater = _Inflater(encoding) if encoding not in ("", "identity") else None
    body = bytearray()
    for chunk in chunks:
        try:
            for piece in inflater.pieces(chunk) if inflater is not None else (chunk,):
                body += piece
                if len(body) > max_bytes:
                    raise InputError(
                        origin,
                        f"response is too large (over the {max_bytes / _MB:g} MB limit; "
                        "raise NEWSRAG_MAX_FILE_MB to allow it)",
                    )
        except zlib.error:
            raise InputError(origin, f"cannot fetch: the {encoding} body is corrupt") from None
        if time.monotonic() > deadline:
            raise _Deadline
    return bytes(body)


class _Inflater:
    """gzip / deflate (zlib-wrapped or raw) decompression, at most 1 MB of output at a time, so that a
    decompression bomb is stopped by the size cap after at most 1 MB more than it."""

    STEP = 1024 * 1024

    def __init__(self, encoding: str):
        self._deflate = encoding == "deflate"
        self._started = False
        self._d = zlib.decompressobj(zlib.MAX_WBITS if self._deflate else zlib.MAX_WBITS | 32)

    def pieces(self, data: bytes) -> Iterator[bytes]:
        while data:
            try:
                out = self._d.decompress(data, self.STEP)
            except zlib.error:
                if self._deflate and not self._started:  # "deflate" sent as a raw stream, as some servers do
                    self._deflate = False
                    self._d = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                raise
            self._started = True
            rest = self._d.unconsumed_tail
            if out:
                yield out
            elif rest == data:  # no progress (cannot happen with zlib; never loop on it)
                return
            data = rest


def _say(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:200] or type(exc).__name__


def _connect_problem(exc: httpcore.ConnectError, host: str, target: httpx.URL) -> str:
    cause = exc.__cause__ or exc.__context__
    port = target.port or (443 if target.scheme == "https" else 80)
    if isinstance(cause, ssl.SSLCertVerificationError):
        return f"TLS certificate not accepted for {host} ({_say(cause.verify_message or cause)})"
    if isinstance(cause, ssl.SSLError):
        return f"TLS handshake with {host} failed ({_say(cause.reason or cause)})"
    if isinstance(cause, OSError) and cause.strerror:
        return f"cannot connect to {host} port {port}: {cause.strerror}"
    return f"cannot connect to {host} port {port}: {_say(exc)}"


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every operation gets at most the time left before the deadline."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: float):
        self._stream = stream
        self._deadline = deadline

    def _left(self, timeout: float | None, exc: type[Exception]) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise exc("the deadline of the fetch has passed")
        return left if timeout is None else min(timeout, left)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        stream = self._stream.start_tls(
            ssl_context, server_hostname, self._left(timeout, httpcore.ConnectTimeout)
        )
        return _DeadlineStream(stream, self._deadline)

    def get_extra_info(self, info: str):
        return self._stream.get_extra_info(info)


class _PinnedBackend(httpcore.NetworkBackend):
    """Connects to the addresses that were checked, whatever name httpcore asks for: no second lookup."""

    def __init__(self, host: str, addresses: list[str], deadline: float):
        self._host = host
        self._addresses = addresses
        self._deadline = deadline
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options=None,
    ) -> httpcore.NetworkStream:
        if host != self._host:  # never happens: one backend per request; refuse rather than resolve
            raise httpcore.ConnectError(f"unexpected host {host!r}")
        failure: Exception = httpcore.ConnectError("no address")
        for address in self._addresses:
            left = self._deadline - time.monotonic()
            if left <= 0:
                raise httpcore.ConnectTimeout("the deadline of the fetch has passed")
            try:
                stream = self._inner.connect_tcp(
                    address,
                    port,
                    left if timeout is None else min(timeout, left),
                    local_address,
                    socket_options,
                )
            except httpcore.ConnectError as exc:
                failure = exc
                continue
            return _DeadlineStream(stream, self._deadline)
        raise failure

    def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options=None):
        raise httpcore.ConnectError("unix sockets are not fetched")

    def sleep(self, seconds: float) -> None:
        time.sleep(min(seconds, max(0.0, self._deadline - time.monotonic())))
