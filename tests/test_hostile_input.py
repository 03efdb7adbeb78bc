"""Hostile input: SSRF-safe URL fetching, safe front matter, every input in isolation, fuzzing of every
loader, and peak memory on the classic bombs.

The HTTP tests run real servers on loopback addresses. The "public" server listens on 127.0.0.3 and the
tests pass an address policy that treats exactly that address as public, so that a redirect from it
to 127.0.0.1, 127.0.0.2, [::1] or 'localhost' must be refused like one to any private address.
"""

from __future__ import annotations

import atexit
import gzip
import inspect
import json
import os
import random
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections import Counter
from contextlib import contextmanager
from datetime import timezone
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.article import Article
from ingest.fetch import allowing, fetch, public_only
from ingest.loaders import FIELDS, LOADERS, InputError, printable
from ingest.sources import load_inputs, load_path, load_url

ROOT = Path(__file__).resolve().parents[1]
HINT = "(pass --allow-private-urls to allow private addresses)"
MB = 1024 * 1024

BODY = (
    "<p>Ministers met in Brussels on Monday to agree a new package of measures for the energy market. "
    "The plan caps wholesale prices for two years and sets aside funds for households.</p>"
    "<p>Officials said the details would be published next week after a final round of talks with "
    "national regulators and the largest suppliers.</p>"
)


def page(title: str, canonical: str = "") -> bytes:
    link = f'<link rel="canonical" href="{canonical}">' if canonical else ""
    return (
        f"<html><head><title>{title}</title>{link}</head><body><article><h1>{title}</h1>{BODY}"
        "</article></body></html>"
    ).encode()


FEED = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Loopback Wire</title>
<item><title>First</title><link>https://wire.example/first</link><description>First body.</description></item>
<item><title>Second</title><link>https://wire.example/second</link><description>Second body.</description></item>
</channel></rss>"""


def _gzip_bomb(megabytes: int) -> bytes:
    """One gzip member that inflates to `megabytes` MB (a few hundred KB on the wire)."""
    packer = zlib.compressobj(1, zlib.DEFLATED, 31)
    block = b"a" * MB
    return b"".join([packer.compress(block) for _ in range(megabytes)] + [packer.flush()])


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    title = "Public story"  # per server (see serve)

    def log_message(self, *args):
        pass

    def _send(self, status: int, body: bytes = b"", ctype: str = "text/html; charset=utf-8", **headers):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):  # noqa: C901 - a route table
        self.server.hits.append(self.path)
        self.server.hosts.append(self.headers.get("Host"))
        parts = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(parts.query).items()}
        route = parts.path
        try:
            if route == "/article":
                self._send(200, page(self.server.title))
            elif route == "/article-gzip":
                self._send(200, gzip.compress(page(self.server.title)), Content_Encoding="gzip")
            elif route == "/feed":
                self._send(200, FEED, "application/rss+xml")
            elif route == "/redirect":
                self._send(int(q.get("code", 302)), Location=q["to"])
            elif route == "/chain":  # n more redirects, then the article
                n = int(q["n"])
                self._send(302, Location=f"/chain?n={n - 1}" if n > 0 else "/article")
            elif route == "/slow-chain":  # n redirects, each answered after `wait` seconds
                time.sleep(float(q["wait"]))
                n = int(q["n"])
                self._send(302, Location=f"/slow-chain?n={n - 1}&wait={q['wait']}" if n > 0 else "/article")
            elif route == "/drip":  # headers at once, then one byte every `every` seconds, for ever
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                for _ in range(10_000):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(float(q["every"]))
            elif route == "/drip-head":  # the status line and headers themselves, one byte at a time
                for byte in b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Padding: " + b"p" * 10_000:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(float(q["every"]))
            elif route == "/big":  # `mb` MB of text, with or without a Content-Length
                size = int(q["mb"]) * MB
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                if q.get("length") == "1":
                    self.send_header("Content-Length", str(size))
                else:
                    self.send_header("Connection", "close")
                self.end_headers()
                chunk = b"<p>" + b"a" * (64 * 1024 - 7) + b"</p>\n"
                for _ in range(size // len(chunk)):
                    self.wfile.write(chunk)
                self.close_connection = True
            elif route == "/gzip-bomb":
                self._send(200, self.server.bomb(int(q["mb"])), Content_Encoding="gzip")
            else:
                self._send(404, b"not here")
        except OSError:  # the client hung up: expected for the hostile routes
            self.close_connection = True


_BOMBS: dict[int, bytes] = {}


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):  # clients hanging up on hostile routes: expected
        pass


def serve(host: str, port: int = 0, title: str = "Public story") -> ThreadingHTTPServer:
    server = QuietServer((host, port), Handler)
    server.hits, server.hosts, server.title = [], [], title
    server.bomb = lambda mb: _BOMBS.setdefault(mb, _gzip_bomb(mb))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="module")
def public():
    """The 'public' server, on 127.0.0.3 (any 127/8 address is loopback on Linux)."""
    try:
        server = serve("127.0.0.3")
    except OSError:
        pytest.skip("cannot listen on 127.0.0.3 here")
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def private():
    """A server on 127.0.0.1, the address an SSRF would aim at."""
    server = serve("127.0.0.1", title="Private story")
    yield server
    server.shutdown()
    server.server_close()


def base(server) -> str:
    host, port = server.server_address[:2]
    return f"http://{host}:{port}"


PUBLIC = allowing("127.0.0.3")  # the address policy of these tests: 127.0.0.3 counts as public


def errors(result) -> list[str]:
    return [str(e) for e in result.errors]


def only_error(result) -> str:
    assert result.articles == []
    assert len(result.errors) == 1, errors(result)
    return str(result.errors[0])


# ------------------------------------------------------------------ addresses refused by default


def test_loopback_refused_by_default(private):
    url = f"{base(private)}/article"
    assert only_error(load_url(url)) == f"{url}: refused: 127.0.0.1 is a loopback address {HINT}"
    assert private.hits == []  # refused before connecting


def test_localhost_name_refused_by_default(private):
    port = private.server_address[1]
    url = f"http://localhost:{port}/article"
    assert re.fullmatch(
        rf"{re.escape(url)}: refused: localhost resolves to (127\.0\.0\.1|::1), "
        rf"a loopback address {re.escape(HINT)}",
        only_error(load_url(url)),
    )


@pytest.mark.parametrize(
    ("host", "shown"),
    [
        ("10.1.2.3", "10.1.2.3 is a private address"),
        ("172.16.0.1", "172.16.0.1 is a private address"),
        ("192.168.1.1", "192.168.1.1 is a private address"),
        ("169.254.169.254", "169.254.169.254 is a link-local address"),
        ("0.0.0.0", "0.0.0.0 is an unspecified address"),
        ("224.0.0.1", "224.0.0.1 is a multicast address"),
        ("240.0.0.1", "240.0.0.1 is a reserved address"),
        ("100.64.0.1", "100.64.0.1 is not a public address"),
        ("[::1]", "::1 is a loopback address"),
        ("[::]", ":: is an unspecified address"),
        ("[fe80::1]", "fe80::1 is a link-local address"),
        ("[fc00::1]", "fc00::1 is a private address"),
        ("[ff02::1]", "ff02::1 is a multicast address"),
        ("[::ffff:127.0.0.1]", "::ffff:127.0.0.1 is a loopback address"),  # IPv4-mapped
        ("[::ffff:10.0.0.1]", "::ffff:10.0.0.1 is a private address"),
        ("[64:ff9b::a9fe:a9fe]", "64:ff9b::a9fe:a9fe is a link-local address"),  # NAT64 of 169.254.169.254
        ("[2002:7f00:1::]", "2002:7f00:1:: is a loopback address"),  # 6to4 of 127.0.0.1
        ("127.1", "127.1 resolves to 127.0.0.1, a loopback address"),  # inet_aton short form
        ("2130706433", "2130706433 resolves to 127.0.0.1, a loopback address"),  # 127.0.0.1 as one number
    ],
)
def test_non_public_addresses_refused(host, shown):
    url = f"http://{host}:9/x"
    assert only_error(load_url(url, timeout=5)) == f"{url}: refused: {shown} {HINT}"


def test_public_addresses_pass_the_default_policy():
    import ipaddress

    for address in ("8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8"):
        assert public_only(ipaddress.ip_address(address)) is None, address


def test_only_http_and_https():
    for url in ("file:///etc/passwd", "ftp://127.0.0.1/x", "gopher://127.0.0.1:70/_x"):
        assert only_error(load_url(url)) == f"{url}: refused: only http and https URLs are fetched"


def test_allowed_with_allow_private(private):
    url = f"{base(private)}/article"
    result = load_url(url, allow_private=True)
    assert errors(result) == []
    (article,) = result.articles
    assert article.title == "Private story"
    assert article.url == url and article.origin == url


def test_load_inputs_threads_allow_private(private):
    url = f"{base(private)}/article"
    (refused,) = load_inputs([url])
    assert errors(refused) == [f"{url}: refused: 127.0.0.1 is a loopback address {HINT}"]
    (allowed,) = load_inputs([url], allow_private=True)
    assert errors(allowed) == [] and [a.title for a in allowed.articles] == ["Private story"]
    defaults = inspect.signature(load_inputs).parameters
    assert defaults["allow_private"].default is False
    assert inspect.signature(load_url).parameters["allow_private"].default is False


# ------------------------------------------------------------------ redirects


@pytest.mark.parametrize(
    "target",
    [
        "http://127.0.0.2:{port}/article",
        "http://[::1]:{port}/article",
        "http://localhost:{port}/article",
        "http://127.0.0.1:{port}/article",
    ],
)
def test_redirect_from_public_to_loopback_refused(public, private, target):
    port = private.server_address[1]
    hop = target.format(port=port)
    # public /chain -> public /redirect -> the loopback target: the chain is followed, the last hop refused
    url = f"{base(public)}/redirect?to={base(public)}/redirect%3Fto%3D{hop}"
    before = len(private.hits)
    message = only_error(load_url(url, address_policy=PUBLIC))
    host = urlsplit(hop).hostname
    if host == "localhost":
        assert re.fullmatch(
            rf"{re.escape(url)}: refused: redirect to {re.escape(hop)}: localhost resolves to "
            rf"(127\.0\.0\.1|::1), a loopback address {re.escape(HINT)}",
            message,
        )
    else:
        assert message == f"{url}: refused: redirect to {hop}: {host} is a loopback address {HINT}"
    assert len(private.hits) == before  # never contacted


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://127.0.0.3/x", "gopher://127.0.0.3:70/_x"])
def test_redirect_to_another_scheme_refused(public, target):
    url = f"{base(public)}/redirect?to={target}"
    shown = target.replace("file:///", "file:/")  # how the URL library normalises it
    assert only_error(load_url(url, address_policy=PUBLIC)) == (
        f"{url}: refused: redirect to {shown} (only http and https URLs are fetched)"
    )


def test_redirect_limit(public):
    ok = load_url(f"{base(public)}/chain?n=4", address_policy=PUBLIC)  # 5 redirects: allowed
    assert errors(ok) == [] and [a.url for a in ok.articles] == [f"{base(public)}/article"]
    url = f"{base(public)}/chain?n=5"  # 6 redirects
    assert only_error(load_url(url, address_policy=PUBLIC)) == f"{url}: cannot fetch: more than 5 redirects"


def test_final_url_is_the_identity(public):
    direct = load_url(f"{base(public)}/article", address_policy=PUBLIC)
    for code in (301, 302, 303, 307, 308):
        via = load_url(f"{base(public)}/redirect?to=/article&code={code}", address_policy=PUBLIC)
        assert errors(via) == []
        assert [a.url for a in via.articles] == [f"{base(public)}/article"]
        assert [a.doc_id for a in via.articles] == [a.doc_id for a in direct.articles]
        assert via.articles[0].origin == f"{base(public)}/redirect?to=/article&code={code}"  # what was asked


def test_feed_items_keep_their_own_links(public):
    result = load_url(f"{base(public)}/redirect?to=/feed", address_policy=PUBLIC)
    assert errors(result) == []
    assert [(a.title, a.url, a.source) for a in result.articles] == [
        ("First", "https://wire.example/first", "Loopback Wire"),
        ("Second", "https://wire.example/second", "Loopback Wire"),
    ]


def test_gzip_body_is_decoded(public):
    result = load_url(f"{base(public)}/article-gzip", address_policy=PUBLIC)
    assert errors(result) == [] and [a.title for a in result.articles] == ["Public story"]


def test_http_errors_and_unreachable_hosts(public, monkeypatch):
    url = f"{base(public)}/missing"
    assert only_error(load_url(url, address_policy=PUBLIC)) == f"{url}: cannot fetch: HTTP 404"
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.3", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.3:{port}/x"
    assert only_error(load_url(url, address_policy=PUBLIC)) == (
        f"{url}: cannot fetch: cannot connect to 127.0.0.3 port {port}: Connection refused"
    )
    real = socket.getaddrinfo

    def no_such_host(host, *args, **kwargs):  # NXDOMAIN without asking a resolver
        if host == "no-such-host.invalid":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", no_such_host)
    url = "http://no-such-host.invalid/x"
    assert (
        only_error(load_url(url))
        == f"{url}: cannot fetch: cannot resolve the host name 'no-such-host.invalid'"
    )


# ------------------------------------------------------------------ DNS rebinding and TLS


@pytest.fixture
def fake_dns(monkeypatch):
    """Host names of our own: name -> list of addresses, served one list per lookup (the last repeats)."""
    table: dict[str, list[str]] = {}
    lookups: Counter = Counter()
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host in table:
            answers = table[host]
            address = answers[min(lookups[host], len(answers) - 1)]
            lookups[host] += 1
            return real(address, port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return table, lookups


def _twin_servers():
    """A 'public' server on 127.0.0.3 and a 'private' one on 127.0.0.1, on the same port."""
    for _ in range(20):
        public = serve("127.0.0.3", title="Checked address")
        try:
            private = serve("127.0.0.1", public.server_address[1], title="Rebound address")
        except OSError:
            public.shutdown()
            public.server_close()
            continue
        return public, private
    pytest.skip("no port free on both 127.0.0.3 and 127.0.0.1")


def test_dns_rebinding_connects_to_the_checked_address(fake_dns):
    table, lookups = fake_dns
    public, private = _twin_servers()
    try:
        port = public.server_address[1]
        table["rebind.test"] = ["127.0.0.3", "127.0.0.1"]  # the second lookup would answer 127.0.0.1
        result = load_url(f"http://rebind.test:{port}/article", address_policy=PUBLIC)
        assert errors(result) == []
        assert [a.title for a in result.articles] == ["Checked address"]
        assert lookups["rebind.test"] == 1  # resolved once, checked, connected to that address
        assert private.hits == [] and public.hosts == [f"rebind.test:{port}"]  # the name in the Host header
        table["evil.test"] = ["127.0.0.1"]
        url = f"http://evil.test:{port}/article"
        assert only_error(load_url(url, address_policy=PUBLIC)) == (
            f"{url}: refused: evil.test resolves to 127.0.0.1, a loopback address {HINT}"
        )
    finally:
        for server in (public, private):
            server.shutdown()
            server.server_close()


def test_any_refused_address_refuses_the_host(fake_dns, monkeypatch, public):
    table, _ = fake_dns
    real = socket.getaddrinfo

    def two_answers(host, port, *args, **kwargs):  # one public, one private address for one name
        if host == "mixed.test":
            return real("127.0.0.3", port, *args, **kwargs) + real("127.0.0.1", port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", two_answers)
    url = f"http://mixed.test:{public.server_address[1]}/article"
    assert only_error(load_url(url, address_policy=PUBLIC)) == (
        f"{url}: refused: mixed.test resolves to 127.0.0.1, a loopback address {HINT}"
    )


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    done = subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=news.test",
            "-addext",
            "subjectAltName=DNS:news.test",
        ],
        capture_output=True,
    )
    if done.returncode:
        pytest.skip("openssl cannot make a test certificate here")
    return cert, key


def test_https_connects_to_the_checked_address_and_verifies_the_name(fake_dns, certificate):
    table, lookups = fake_dns
    cert, key = certificate
    server = serve("127.0.0.3", title="Secure story")
    seen: list[str] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda sock, name, ctx: seen.append(name)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    try:
        port = server.server_address[1]
        table["news.test"] = ["127.0.0.3", "127.0.0.1"]
        trust = ssl.create_default_context(cafile=str(cert))
        got = fetch(
            f"https://news.test:{port}/article", max_bytes=MB, address_policy=PUBLIC, ssl_context=trust
        )
        assert got.url == f"https://news.test:{port}/article" and b"Secure story" in got.content
        assert (
            seen == ["news.test"] and lookups["news.test"] == 1
        )  # SNI is the name; the address the checked one
        url = f"https://127.0.0.3:{port}/article"  # the certificate names news.test, not the address
        with pytest.raises(InputError) as refused:
            fetch(url, max_bytes=MB, address_policy=PUBLIC, ssl_context=trust)
        assert str(refused.value) == (
            f"{url}: cannot fetch: TLS certificate not accepted for 127.0.0.3 "
            "(IP address mismatch, certificate is not valid for '127.0.0.3'.)"
        )
        table["news.test"] = ["127.0.0.3"]
        url = f"https://news.test:{port}/article"  # default trust store: a self-signed certificate is refused
        assert only_error(load_url(url, address_policy=PUBLIC)) == (
            f"{url}: cannot fetch: TLS certificate not accepted for news.test (self-signed certificate)"
        )
    finally:
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------ deadline and size cap


def timed(call):
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def test_default_deadline_is_30_seconds_for_the_whole_fetch():
    assert inspect.signature(load_url).parameters["timeout"].default == 30.0
    assert inspect.signature(fetch).parameters["timeout"].default == 30.0


@pytest.mark.parametrize(
    ("route", "timeout"),
    [
        ("/drip?every=5", 2.0),
        ("/drip?every=0.2", 1.5),
        ("/drip-head?every=0.2", 1.5),
        ("/slow-chain?n=3&wait=0.6", 1.5),
    ],
)
def test_deadline_cuts_off_slow_servers(public, route, timeout):
    url = f"{base(public)}{route}"
    result, took = timed(lambda: load_url(url, timeout=timeout, address_policy=PUBLIC))
    assert only_error(result) == (
        f"{url}: cannot fetch: timed out after {timeout:g} s "
        "(the limit for the whole fetch, redirects included)"
    )
    assert timeout - 0.1 <= took < timeout + 2.0


def test_size_cap_stops_reading(public):
    url = f"{base(public)}/big?mb=300"
    result, took = timed(lambda: load_url(url, max_bytes=MB, address_policy=PUBLIC))
    assert only_error(result) == (
        f"{url}: response is too large (over the 1 MB limit; raise NEWSRAG_MAX_FILE_MB to allow it)"
    )
    assert took < 5  # 300 MB were never read
    url = f"{base(public)}/big?mb=300&length=1"  # announced: refused before reading the body
    assert only_error(load_url(url, max_bytes=MB, address_policy=PUBLIC)) == (
        f"{url}: response is too large (300.0 MB > 1 MB limit; raise NEWSRAG_MAX_FILE_MB to allow it)"
    )
    url = f"{base(public)}/gzip-bomb?mb=50"
    assert only_error(load_url(url, max_bytes=MB, address_policy=PUBLIC)) == (
        f"{url}: response is too large (over the 1 MB limit; raise NEWSRAG_MAX_FILE_MB to allow it)"
    )


# ------------------------------------------------------------------ front matter


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def alias_bomb(levels: int = 9) -> str:
    """YAML "billion laughs": 10**levels strings from a few hundred bytes, all in the title."""
    names = "abcdefghijklmnop"
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"{names[i]}: &{names[i]} [" + ",".join([f"*{names[i - 1]}"] * 10) + "]")
    return "---\n" + "\n".join(lines) + f"\ntitle: *{names[levels - 1]}\n---\nBody text.\n"


def test_yaml_alias_bomb_is_one_line_fast(tmp_path):
    path = write(tmp_path / "bomb.md", alias_bomb())
    result, took = timed(lambda: load_path(path))
    assert only_error(result) == f"{path}: front matter uses a YAML alias (*a); aliases are not allowed"
    assert took < 1


def test_anchors_without_aliases_are_fine(tmp_path):
    path = write(tmp_path / "a.md", "---\ntitle: &t Anchored title\nsource: S\n---\nBody.\n")
    assert [a.title for a in load_path(path).articles] == ["Anchored title"]


def test_front_matter_size_and_depth_capped(tmp_path):
    big = write(tmp_path / "big.md", "---\ntitle: T\nnotes: " + "x" * 70_000 + "\n---\nBody.\n")
    assert only_error(load_path(big)) == f"{big}: front matter is too large (more than 64 KB)"
    deep = write(tmp_path / "deep.md", "---\ntitle: " + "[" * 21 + "x" + "]" * 21 + "\n---\nBody.\n")
    assert only_error(load_path(deep)) == f"{deep}: front matter is nested too deeply (more than 20 levels)"
    ok = write(tmp_path / "ok.md", "---\ntitle: T\nx: " + "[" * 19 + "x" + "]" * 19 + "\n---\nBody.\n")
    assert load_path(ok).errors == []
    deeper = write(tmp_path / "deeper.md", "---\ntitle: " + "[" * 50_000 + "\n---\nBody.\n")
    result, took = timed(
        lambda: load_path(deeper)
    )  # libyaml's own limit may speak first: one line all the same
    assert re.fullmatch(
        rf"{re.escape(str(deeper))}: (front matter is nested too deeply \(more than 20 levels\)"
        r"|malformed front matter: while increasing flow level)",
        only_error(result),
    )
    assert took < 1


@pytest.mark.parametrize(
    ("field", "limit"),
    [
        ("title", 500),
        ("source", 200),
        ("author", 200),
        ("category", 200),
        ("url", 2000),
        ("headline", 500),
        ("byline", 200),
    ],
)
def test_front_matter_field_lengths(tmp_path, field, limit):
    ok = write(tmp_path / "ok.md", f"---\n{field}: {'x' * limit}\n---\nBody.\n")
    assert load_path(ok).errors == []
    long = write(tmp_path / "long.md", f"---\n{field}: {'x' * (limit + 1)}\n---\nBody.\n")
    assert only_error(load_path(long)) == (
        f"{long}: front matter field '{field}' is too long "
        f"({limit + 1} characters; the limit is {limit}), file not loaded"
    )


@pytest.mark.parametrize(
    ("yaml_text", "reason"),
    [
        (
            "x: !!python/object/apply:os.system [ls]",
            "malformed front matter: could not determine a constructor for the tag "
            "'tag:yaml.org,2002:python/object/apply:os.system'",
        ),
        ("published_at: 2025-13-45", "malformed front matter: month must be in 1..12"),
        (
            "n: " + "1" * 5000,
            "malformed front matter: Exceeds the limit (4300 digits) for integer string conversion: "
            "value has 5000 digits; use sys.set_int_max_str_digits() to increase the limit",
        ),
        ("title: [unclosed", "malformed front matter: while parsing a flow sequence"),
    ],
)
def test_front_matter_errors_are_one_line(tmp_path, yaml_text, reason):
    path = write(tmp_path / "f.md", f"---\n{yaml_text}\n---\nBody.\n")
    assert only_error(load_path(path)) == f"{path}: {reason}"


def test_odd_but_valid_front_matter(tmp_path):
    path = write(
        tmp_path / "odd.md", "---\n1: one\nnull: x\ntitle: Odd keys\npublished_at: 2025-03-01\n---\nBody.\n"
    )
    (a,) = load_path(path).articles
    assert (a.title, a.published_iso) == ("Odd keys", "2025-03-01T00:00:00Z")


@pytest.mark.parametrize(
    "text",
    [
        "---" + "\n" * 200_000 + "x",  # front matter opening followed by blank lines: was quadratic
        "# a" + " " * 200_000 + "b\n",  # heading with trailing spaces: was cubic (3 KB took 40 s)
        "[" * 500_000,
        "![" * 500_000,
        "[a](" * 200_000,
        "# " * 500_000,
    ],
)
def test_markdown_patterns_that_used_to_backtrack_are_fast(tmp_path, text):
    path = write(tmp_path / "slow.md", text)
    _, took = timed(lambda: load_path(path))
    assert took < 2


# ------------------------------------------------------------------ every input in isolation


def load_in_thread(inputs, seconds: float = 20):
    """load_inputs in a thread: a blocking open of a FIFO would hang here, not the suite."""
    box: dict = {}
    worker = threading.Thread(
        target=lambda: box.setdefault("results", list(load_inputs(inputs))), daemon=True
    )
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), "loading blocked"
    return box["results"]


GOOD = {"title": "Good", "body": "A good body."}


def test_batch_goes_on_past_every_kind_of_bad_input(tmp_path):
    root = tmp_path / "batch"
    write(root / "a-deep.json", "[" * 100_000)
    write(
        root / "b-lines.jsonl",
        "\n".join([json.dumps(GOOD), "[" * 100_000, json.dumps(dict(GOOD, title="Also"))]),
    )
    write(root / "c-bomb.md", alias_bomb())
    write(root / "d-good.txt", "Good\nA good body.")
    os.mkfifo(root / "e-pipe.txt")
    os.symlink("/dev/zero", root / "f-zero.txt")
    os.symlink(root / "e-pipe.txt", root / "g-to-pipe.txt")
    os.symlink(root / "h-loop.txt", root / "h-loop.txt")
    os.symlink(root / "i-loop-b", root / "i-loop-a")  # a loop without a supported suffix: reported too
    os.symlink(root / "i-loop-a", root / "i-loop-b")
    os.symlink(root / "missing.txt", root / "j-broken.txt")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / "k-socket.txt"))
    try:
        results = load_in_thread([root])
    finally:
        sock.close()
    got = [(r.origin, [a.title for a in r.articles], errors(r)) for r in results]
    p = lambda name: str(root / name)  # noqa: E731
    assert got == [
        (
            p("a-deep.json"),
            [],
            [
                f"{p('a-deep.json')}: JSON nested too deeply (arrays or objects more than about "
                "1000 levels deep)"
            ],
        ),
        (
            p("b-lines.jsonl"),
            ["Good", "Also"],
            [
                f"{p('b-lines.jsonl')}:2: JSON nested too deeply (arrays or objects "
                "more than about 1000 levels deep)"
            ],
        ),
        (
            p("c-bomb.md"),
            [],
            [f"{p('c-bomb.md')}: front matter uses a YAML alias (*a); aliases are not allowed"],
        ),
        (p("d-good.txt"), ["Good"], []),
        (p("e-pipe.txt"), [], [f"{p('e-pipe.txt')}: not a regular file but a named pipe (FIFO); skipped"]),
        (p("f-zero.txt"), [], [f"{p('f-zero.txt')}: not a regular file but a character device; skipped"]),
        (
            p("g-to-pipe.txt"),
            [],
            [f"{p('g-to-pipe.txt')}: not a regular file but a named pipe (FIFO); skipped"],
        ),
        (p("h-loop.txt"), [], [f"{p('h-loop.txt')}: symbolic link loop (too many levels of symbolic links)"]),
        (p("i-loop-a"), [], [f"{p('i-loop-a')}: symbolic link loop (too many levels of symbolic links)"]),
        (p("i-loop-b"), [], [f"{p('i-loop-b')}: symbolic link loop (too many levels of symbolic links)"]),
        (p("j-broken.txt"), [], [f"{p('j-broken.txt')}: broken symbolic link (its target does not exist)"]),
        (p("k-socket.txt"), [], [f"{p('k-socket.txt')}: not a regular file but a socket; skipped"]),
    ]


def test_special_files_given_directly(tmp_path):
    os.mkfifo(tmp_path / "pipe.json")
    os.symlink(tmp_path / "loop.md", tmp_path / "loop.md")
    results = load_in_thread([tmp_path / "pipe.json", tmp_path / "loop.md", "/dev/null"])
    assert [errors(r) for r in results] == [
        [f"{tmp_path / 'pipe.json'}: not a regular file but a named pipe (FIFO); skipped"],
        [f"{tmp_path / 'loop.md'}: symbolic link loop (too many levels of symbolic links)"],
        ["/dev/null: not a regular file but a character device; skipped"],
    ]


def test_folder_recursion_is_bounded(tmp_path):
    folder = tmp_path / "deep"
    write(folder / "top.txt", "Top\nTop body.")
    for i in range(34):
        folder = folder / f"d{i}"
    write(folder / "bottom.txt", "Bottom\nBottom body.")
    results = list(load_inputs([tmp_path / "deep"]))
    too_deep = tmp_path / "deep" / "/".join(f"d{i}" for i in range(33))
    assert [(r.origin, errors(r)) for r in results] == [
        (
            str(too_deep),
            [
                f"{too_deep}: folder nested more than 32 levels deep; not walked (give it as an input "
                "of its own)"
            ],
        ),
        (str(tmp_path / "deep" / "top.txt"), []),
    ]


def test_reading_stops_after_max_bytes_plus_one(tmp_path, monkeypatch):
    import ingest.sources as sources

    if not Path("/proc/self/status").is_file():
        pytest.skip("needs /proc: a regular file whose size stat does not tell")
    os.symlink("/proc/self/status", tmp_path / "status.txt")  # st_size 0, about 1 KB of text
    read: list[int] = []
    real = os.read

    def counting(fd, n):
        data = real(fd, n)
        read.append(len(data))
        return data

    monkeypatch.setattr(sources.os, "read", counting)
    assert only_error(load_path(tmp_path / "status.txt", max_bytes=100)) == (
        f"{tmp_path / 'status.txt'}: file is too large (0.0 MB > 9.53674e-05 MB limit; "
        "raise NEWSRAG_MAX_FILE_MB to allow it)"
    )
    assert sum(read) == 101


def test_exceptions_inside_loaders_become_one_line(tmp_path, monkeypatch):
    import trafilatura

    import ingest.loaders as loaders

    def boom(*args, **kwargs):
        raise ValueError("boom\nsecond line")

    records = write(
        tmp_path / "a.json", json.dumps([dict(GOOD, date="2025-03-01"), dict(GOOD, date="2025-03-02")])
    )
    html = write(tmp_path / "b.html", page("Story").decode())
    real_parse_date = loaders.parse_date
    monkeypatch.setattr(loaders, "parse_date", lambda value: boom() if value else real_parse_date(value))
    monkeypatch.setattr(trafilatura, "bare_extraction", boom)

    def broken_loader(text, origin):
        yield Article(title="Half", text="Loaded before the failure.", origin=origin)
        raise TypeError("a bug in a loader")

    monkeypatch.setitem(LOADERS, ".txt", broken_loader)  # not even isolated: load_path still contains it
    text = write(tmp_path / "c.txt", "Anything\nat all")
    last = write(tmp_path / "d.jsonl", json.dumps(GOOD))
    results = list(load_inputs([records, html, text, last]))
    assert [(errors(r), [a.title for a in r.articles]) for r in results] == [
        (
            [
                f"{records}[0]: unexpected error while loading (ValueError: boom second line)",
                f"{records}[1]: unexpected error while loading (ValueError: boom second line)",
            ],
            [],
        ),
        ([f"{html}: cannot extract the article from the HTML (ValueError)"], []),
        ([f"{text}: unexpected error while loading (TypeError: a bug in a loader)"], ["Half"]),
        ([], ["Good"]),
    ]


def test_origin_with_a_newline_stays_one_line(tmp_path):
    path = write(tmp_path / "two\nlines.json", "[" * 5000)
    shown = str(path).replace("\n", "\\x0a")
    assert only_error(load_path(path)) == (
        f"{shown}: JSON nested too deeply (arrays or objects more than about 1000 levels deep)"
    )


# ------------------------------------------------------------------ peak memory, in a child process

MEMORY_PROBE = r"""
import gc, json, resource, sys, time
from pathlib import Path
kind, target, extra = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
from ingest.sources import load_path, load_url

def status_kb(field):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))

def max_rss_kb():
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak // 1024 if sys.platform == "darwin" else peak  # bytes on macOS, KB on Linux

gc.collect()
try:  # Linux: reset the peak (VmHWM) to the current RSS, so that import-time peaks cannot hide growth
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    baseline, peak = status_kb("VmRSS"), lambda: status_kb("VmHWM")
except OSError:  # elsewhere: the process's high-water mark since start (a coarser, upper-bound baseline)
    baseline, peak = max_rss_kb(), max_rss_kb
try:  # a guard rail, not the measure: a regression fails with MemoryError instead of swapping
    size = status_kb("VmSize") * 1024 + 2 * 1024**3
    resource.setrlimit(resource.RLIMIT_AS, (size, size))
except (OSError, ValueError, StopIteration):
    pass
started = time.monotonic()
result = load_url(target, **extra) if kind == "url" else load_path(Path(target))
print(json.dumps({"baseline_mb": baseline / 1024, "growth_mb": (peak() - baseline) / 1024,
                  "seconds": time.monotonic() - started, "errors": [str(e) for e in result.errors],
                  "articles": len(result.articles)}))
"""

MEMORY: dict[str, dict] = {}  # figures for the report (printed with -s)


def probe(kind: str, target: str, **extra) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, kind, target, json.dumps(extra)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "case", ["alias-bomb.md", "deep.json", "deep-line.jsonl", "big-response", "gzip-bomb"]
)
def test_peak_memory_of_hostile_inputs(tmp_path, private, case):
    if case == "big-response":  # 300 MB, no Content-Length, under the default 20 MB cap
        url = f"{base(private)}/big?mb=300"
        got = probe("url", url, allow_private=True)
        expected = [
            f"{url}: response is too large (over the 20 MB limit; raise NEWSRAG_MAX_FILE_MB to allow it)"
        ]
    elif case == "gzip-bomb":  # 300 MB once inflated
        url = f"{base(private)}/gzip-bomb?mb=300"
        got = probe("url", url, allow_private=True)
        expected = [
            f"{url}: response is too large (over the 20 MB limit; raise NEWSRAG_MAX_FILE_MB to allow it)"
        ]
    else:
        text = {
            "alias-bomb.md": alias_bomb(),
            "deep.json": "[" * 100_000,
            "deep-line.jsonl": json.dumps(GOOD) + "\n" + "[" * 100_000,
        }[case]
        path = write(tmp_path / case, text)
        got = probe("path", str(path))
        expected = {
            "alias-bomb.md": [f"{path}: front matter uses a YAML alias (*a); aliases are not allowed"],
            "deep.json": [
                f"{path}: JSON nested too deeply (arrays or objects more than about 1000 levels deep)"
            ],
            "deep-line.jsonl": [
                f"{path}:2: JSON nested too deeply (arrays or objects more than about 1000 levels deep)"
            ],
        }[case]
    MEMORY[case] = got
    print(
        f"\npeak memory {case}: +{got['growth_mb']:.1f} MB over a {got['baseline_mb']:.0f} MB baseline "
        f"in {got['seconds']:.2f} s"
    )
    assert got["errors"] == expected
    assert got["growth_mb"] < 300
    assert got["seconds"] < 10


# ------------------------------------------------------------------ fuzzing
#
# Every loader (the function behind each extension of LOADERS) gets at least FUZZ_INPUTS generated inputs.
# Each Hypothesis example draws one document from a strategy of that format (records, front matter,
# pages, feeds built from the field names the loaders look for, and plain junk) and a seed; the input
# set is the document plus MUTANTS seeded mutations of it (spans deleted, repeated, moved, truncated,
# odd characters and tokens put in), so the engine's per-example cost is paid once per 1 + MUTANTS
# inputs and a failure still shrinks to a (document, seed) pair.
#
# Each input must end as Article(s) or InputError line(s). The loaders are called unguarded
# (`__wrapped__`, without the `isolated` boundary), and no InputError may be the boundary's "unexpected
# error": the fuzzing checks the loaders themselves, not just the safety net.
#
# dateparser (the last resort for free-text dates) takes from 5 ms to over a second per junk string, which
# no CPU budget for 60,000 inputs allows; inside the fuzzing it answers from the real parser for the known
# date strings below and otherwise returns None or raises (both paths parse_date must survive).
# test_parse_date_survives_junk runs the real one on junk.

FUZZ_INPUTS = int(os.environ.get("FUZZ_INPUTS", "10000"))  # per loader; lower it locally for a quick run
MUTANTS = 4
FUZZED: Counter = Counter()
FUZZ = settings(
    max_examples=-(-FUZZ_INPUTS // (1 + MUTANTS)),
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)

ascii_junk = st.text(st.characters(min_codepoint=0, max_codepoint=127), max_size=30)
junk = st.one_of(ascii_junk, st.text(st.characters(blacklist_categories=("Cs",)), max_size=20))
junk_line = ascii_junk.map(lambda t: " ".join(t.splitlines()))
WORDS = (
    "the minister said on monday that energy prices rose in brussels and paris after long talks with "
    "regulators suppliers households union strike court appeal rocket orbit summit"
).split()
prose = st.lists(st.sampled_from(WORDS), min_size=1, max_size=20).map(" ".join)
ODD = [
    "<p>",
    "</p>",
    "<br>",
    "&amp;",
    "&#0;",
    "&lt;div&gt;",
    "\x00",
    "\x01",
    "\x7f",
    "\u2028",
    "\ufeff",
    "\r\n",
    "\r",
    "\t",
    "*",
    "**",
    "`",
    "[",
    "](",
    ")",
    "![",
    "# ",
    "#",
    "---",
    "\n---\n",
    "&",
    "*a",
    "&a ",
    "!!",
    "{",
    "}",
    "[[[[",
    "]]]]",
    "%",
    "@",
    "\\",
    '"',
    "'",
    "<",
    ">",
    "</",
    "/>",
    "<![CDATA[",
    "]]>",
    "<!--",
    "\u202e",
    "\U0001f600",
    "e\u0301",
    "\n\n\n",
    ":",
    ": ",
    "- ",
    "? ",
    "|",
    ">-",
    "\\u0000",
    "\\ud800",
    "NaN",
    "1e999",
    "-0",
    "null",
    "true",
    "{}",
    "[]",
]
inline = st.one_of(prose, junk, st.sampled_from(ODD))
blob = st.lists(inline, max_size=6).map("".join)

DATE_NAMES = set(FIELDS["published_at"])
DATES = [
    "2025-03-01",
    "2025-02-17T18:30:00+01:00",
    "2025-02-17T18:30:00Z",
    "Mon, 17 Feb 2025 18:30:00 +0100",
    "Tue, 25 Mar 2025 09:00:00 GMT",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "Sun, 31 Dec 9999 23:59:59 -2359",
    "20250217",
    " ",
    "March 3, 2025",
    "17 Feb 2025",
    "1739813400",
]
dates = st.one_of(
    st.sampled_from(DATES), st.integers(-(10**30), 10**30), st.floats(), st.none(), st.booleans(), junk
)
date_text = st.one_of(st.sampled_from(DATES), st.integers(-(10**12), 10**12).map(str), junk)
KEYS = sorted({n for names in FIELDS.values() for n in names} - DATE_NAMES) + [
    "articles",
    "items",
    "data",
    "results",
    "@type",
    "@graph",
]
key = st.one_of(st.sampled_from(KEYS), st.sampled_from(KEYS).map(str.upper), ascii_junk)
json_scalar = st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), junk, prose)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(key, inner, max_size=3),
    max_leaves=6,
)


@st.composite
def records(draw) -> dict:
    record: dict = {}
    for field in draw(st.lists(st.sampled_from(sorted(FIELDS)), max_size=7, unique=True)):
        name = draw(st.sampled_from(FIELDS[field]))
        record[name if draw(st.booleans()) else name.upper()] = draw(
            dates if field == "published_at" else st.one_of(prose, blob, json_value)
        )
    return record


def dumps(value, pretty: bool = False) -> str:
    return json.dumps(value, ensure_ascii=pretty, indent=2 if pretty else None)


json_docs = st.one_of(
    records().map(dumps),
    st.lists(records(), max_size=3).map(dumps),
    st.tuples(st.sampled_from(["articles", "items", "data", "results"]), st.lists(records(), max_size=3)).map(
        lambda kv: dumps({kv[0]: kv[1]}, pretty=True)
    ),
    json_value.map(dumps),
    st.integers(1, 3000).map(lambda n: "[" * n + "]" * n),
    st.integers(1, 3000).map(lambda n: '{"body":' * n + '"x"' + "}" * n),
    st.integers(1, 3000).map(lambda n: '{"body": "x", "title": ' + "[" * n + '"t"' + "]" * n + "}"),
    junk,
)
jsonl_docs = st.lists(
    st.one_of(records().map(dumps), json_value.map(dumps), st.just(""), junk_line), max_size=5
).map("\n".join)

YAML_ODD = [
    "a: &x [1, 2]",
    "b: *x",
    "<<: *x",
    "- item",
    "? complex",
    ": value",
    "x: !!python/object:os.system ls",
    "y: !!binary aGVsbG8=",
    "z: !!set {a, b}",
    "t: |",
    "  block text",
    "u: >",
    "  folded",
    "v: [1, {a: b}]",
    "w: {",
    "'q': \"unterminated",
    "%YAML 1.2",
    "...",
    "key: value # comment",
    "tab:\tvalue",
    "1: one",
    "null: x",
    "[a, b]: c",
    "n: .nan",
    "i: 123456789012345678901234567890",
    "title: [[[[[[x]]]]]]",
    "title: {name: Someone}",
    "author: [A, B, {name: C}]",
    "title:",
    "source: ~",
    "title: 'it''s'",
    "category: !!str 12",
    "url: http://x.example/a?b=c#d",
    "d: 2025-02-30",
    "e: 2025-03-01 10:00:00 +5",
    "published_at: 2025-03-01",
    "date: 12:30",
    "time: 2025-13-45",
    "title: " + "x" * 501,
]
front_line = st.one_of(
    st.tuples(key, st.one_of(prose, junk_line, json_value.map(json.dumps))).map(
        lambda kv: f"{kv[0]}: {kv[1]}"
    ),
    st.tuples(st.sampled_from(sorted(DATE_NAMES)), date_text).map(lambda kv: f"{kv[0]}: {kv[1]}"),
    st.sampled_from(YAML_ODD),
    junk_line,
)
markdown_body = st.lists(
    st.one_of(
        prose,
        st.sampled_from(
            [
                "# ",
                "## ",
                "[",
                "](",
                ")",
                "![",
                "**",
                "__",
                "`",
                "\n",
                "\n\n",
                "---",
                "#",
                " ",
                "[link](http://x.example)",
            ]
        ),
        junk,
    ),
    max_size=10,
).map("".join)
markdown_docs = st.one_of(
    st.tuples(st.lists(front_line, max_size=6).map("\n".join), markdown_body).map(
        lambda fb: f"---\n{fb[0]}\n---\n{fb[1]}"
    ),
    st.tuples(
        st.sampled_from(["---", "---  ", "---\r"]),
        st.lists(front_line, max_size=4).map("\n".join),
        st.sampled_from(["---", "--- ", "...", "----", ""]),
        markdown_body,
    ).map("\n".join),
    markdown_body,
    junk,
)

TAGS = [
    "<html>",
    "</html>",
    "<head>",
    "</head>",
    "<body>",
    "</body>",
    "<article>",
    "</article>",
    "<p>",
    "</p>",
    "<div>",
    "</div>",
    "<br>",
    "<h1>",
    "</h1>",
    "<title>",
    "</title>",
    "<nav>",
    "</nav>",
    "<!--",
    "-->",
    "<![CDATA[",
    "]]>",
    "<script>",
    "</script>",
    "<style>",
    "</style>",
    "<svg>",
    "<math>",
    "<template>",
    "<table><tr><td>",
    "&amp;",
    "&#0;",
    "&#x110000;",
    "&nbsp;",
    "<",
    ">",
    '"',
    "'",
    "<?xml version='1.0'?>",
    "<!DOCTYPE html>",
    "<meta charset='utf-16'>",
    "<base href='javascript:x'>",
    "<a href='#'>",
    "</a>",
]
META_NAMES = [
    "og:title",
    "og:site_name",
    "author",
    "article:author",
    "article:section",
    "og:url",
    "twitter:title",
    "byl",
    "application-name",
]
DATE_META = ["article:published_time", "datePublished", "pubdate", "date"]
html_meta = st.one_of(
    st.tuples(st.sampled_from(META_NAMES), st.one_of(prose, junk)).map(
        lambda nv: f'<meta property="{nv[0]}" content="{escape(nv[1])}">'
    ),
    st.tuples(st.sampled_from(DATE_META), date_text).map(
        lambda nv: f'<meta name="{nv[0]}" content="{escape(nv[1])}">'
    ),
    st.one_of(prose, junk).map(lambda u: f'<link rel="canonical" href="{escape(u)}">'),
)
ld_item = st.fixed_dictionaries(
    {"@type": st.sampled_from(["NewsArticle", "Article", "Thing", ""])},
    optional={
        "headline": json_value,
        "datePublished": date_text,
        "author": json_value,
        "publisher": json_value,
        "articleSection": json_value,
        "url": json_value,
        "mainEntityOfPage": json_value,
    },
)
html_ld = st.one_of(
    ld_item, st.lists(ld_item, max_size=2), ld_item.map(lambda i: {"@graph": [i]}), json_value
).map(lambda d: f'<script type="application/ld+json">{dumps(d)}</script>')
paragraphs = st.lists(prose, max_size=4).map(lambda ps: "".join(f"<p>{escape(p)}</p>" for p in ps))
html_docs = st.lists(
    st.one_of(st.sampled_from(TAGS), html_meta, html_ld, paragraphs, prose, junk), max_size=10
).map("".join)

xml_text = st.one_of(prose, junk.map(escape), blob.map(lambda s: f"<![CDATA[{s.replace(']]>', '')}]]>"), blob)
rss_item = st.fixed_dictionaries(
    {},
    optional={
        "title": xml_text,
        "link": st.one_of(prose, junk).map(escape),
        "pubDate": date_text.map(escape),
        "description": xml_text,
        "category": xml_text,
        "dc:creator": xml_text,
        "guid": junk.map(escape),
    },
).map(lambda d: "<item>" + "".join(f"<{k}>{v}</{k}>" for k, v in d.items()) + "</item>")
atom_entry = st.fixed_dictionaries(
    {},
    optional={
        "title": xml_text,
        "id": junk.map(escape),
        "published": date_text.map(escape),
        "updated": date_text.map(escape),
        "content": xml_text,
        "summary": xml_text,
    },
).map(lambda d: "<entry>" + "".join(f"<{k}>{v}</{k}>" for k, v in d.items()) + "</entry>")
feed_docs = st.one_of(
    st.tuples(xml_text, st.lists(rss_item, max_size=3)).map(
        lambda t: (
            '<?xml version="1.0"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
            f"<title>{t[0]}</title>{''.join(t[1])}</channel></rss>"
        )
    ),
    st.tuples(xml_text, st.lists(atom_entry, max_size=3)).map(
        lambda t: f'<feed xmlns="http://www.w3.org/2005/Atom"><title>{t[0]}</title>{"".join(t[1])}</feed>'
    ),
    st.sampled_from(
        [
            '<!DOCTYPE x [<!ENTITY a "b">]><rss><channel><item><title>&a;</title></item></channel></rss>',
            '<!DOCTYPE x SYSTEM "http://127.0.0.1:9/x.dtd"><rss/>',
            "http://127.0.0.1:9/feed.xml",
            '<?xml version="1.0" encoding="UTF-16"?><rss/>',
            "/etc/hostname",
            "<rss><channel><item><description>x</description></item></channel></rss>",
        ]
    ),
    st.lists(
        st.sampled_from(
            [
                "<rss>",
                "</rss>",
                "<channel>",
                "</channel>",
                "<item>",
                "</item>",
                "<title>",
                "</title>",
                "<feed>",
                "<entry>",
                "</entry>",
                "&amp;",
                "&bogus;",
                "<![CDATA[",
                "]]>",
            ]
        ),
        max_size=10,
    ).map("".join),
    junk,
)

text_docs = st.one_of(junk, blob, st.tuples(prose, blob).map("\n".join))

DOCUMENTS = {
    "load_text": text_docs,
    "load_markdown": markdown_docs,
    "load_html": html_docs,
    "load_json": json_docs,
    "load_jsonl": jsonl_docs,
    "load_feed": feed_docs,
}
LOADER_FUNCTIONS = {f.__name__: f for f in LOADERS.values()}
EXTENSION = {name: next(ext for ext, f in LOADERS.items() if f.__name__ == name) for name in LOADER_FUNCTIONS}
FROM_BOUNDARY = ("unexpected error while loading", "nested too deeply to read", "too large to hold in memory")
ODD_CHARS = [0, 1, 0x7F, 0x85, 0xA0, 0x2028, 0xFEFF, 0xFFFE, 0xFFFF, 0xE000, 0x10FFFF, 0x202E]


def mutants(text: str, seed: int, count: int) -> list[str]:
    """`count` variants of `text`, one to three random edits each (deterministic in `seed`)."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        s = text
        for _ in range(rng.randint(1, 3)):
            i = rng.randint(0, len(s))
            j = rng.randint(i, min(len(s), i + 40))
            op = rng.randrange(7)
            if op == 0:
                s = s[:i] + s[j:]  # delete a span
            elif op == 1:
                s = s[:i] + s[i:j] * rng.randint(2, 30) + s[j:]  # repeat a span
            elif op == 2:
                s = s[:i] + rng.choice(ODD) + s[j:]  # put an odd token in
            elif op == 3:
                s = s[:i]  # truncate
            elif op == 4:
                s = (
                    s[:i]
                    + chr(
                        rng.choice(
                            ODD_CHARS + [rng.choice([rng.randrange(0xD800), rng.randrange(0xE000, 0x110000)])]
                        )
                    )
                    + s[i:]
                )
            elif op == 5:
                k = rng.randint(0, len(s))
                s = s[:k] + s[i:j] + s[k:]  # copy a span elsewhere
            else:
                s = s[:i] + s[i:j][::-1] + s[j:]  # reverse a span (closing before opening)
        out.append(s)
    return out


def check_outcome(items: list, origin: str) -> None:
    """Article(s) or InputError line(s), at least one, each sound."""
    assert items, "neither an article nor an error"
    for item in items:
        if isinstance(item, InputError):
            line = str(item)
            assert "\n" not in line and "\r" not in line, line
            assert line.startswith(printable(origin)) and item.reason, line
            assert not item.reason.startswith(FROM_BOUNDARY), line
        else:
            assert isinstance(item, Article), item
            assert item.text.strip() and isinstance(item.title, str)
            assert item.origin.startswith(origin)
            assert re.fullmatch(r"[utcp]-[0-9a-f]{20}", item.doc_id)
            assert all(v is not None for v in item.metadata().values())
            assert item.published_at is None or item.published_at.tzinfo == timezone.utc


def run_loader(name: str, text: str) -> None:
    raw = LOADER_FUNCTIONS[name].__wrapped__  # without the isolation boundary
    origin = f"fuzz{EXTENSION[name]}"
    try:
        try:
            items = list(raw(text, origin))
        except InputError as exc:
            items = [exc]
        check_outcome(items, origin)
    except Exception as exc:
        raise AssertionError(f"{name} on {text[:3000]!r}: {type(exc).__name__}: {exc}") from exc
    FUZZED[name] += 1


_REAL_DATEPARSE = None
_KNOWN_DATES: dict[str, object] = {}


def quick_dateparse(text, *args, **kwargs):
    """dateparser.parse for the fuzzing: the real answer for known strings, else None or an exception."""
    if text in DATES:
        if text not in _KNOWN_DATES:
            _KNOWN_DATES[text] = _REAL_DATEPARSE(text, *args, **kwargs)
        return _KNOWN_DATES[text]
    if len(text) % 5 == 0:
        raise ValueError("dateparser gave up")
    return None


@contextmanager
def fast_dateparser():
    global _REAL_DATEPARSE
    import dateparser

    _REAL_DATEPARSE = dateparser.parse
    dateparser.parse = quick_dateparse
    try:
        yield
    finally:
        dateparser.parse = _REAL_DATEPARSE


def test_parse_date_survives_junk():
    from ingest.dates import parse_date

    for value in [
        "True",
        "T",
        "nan",
        "2025-03-01T00:00:00+25:00",
        "0001-01-01T00:00:00+01:00",
        "\x00",
        "9" * 300,
        float("nan"),
        float("inf"),
        -(10**30),
        10**30,
        1e300,
        True,
        [],
        {},
        "March 3, 2025",
    ]:
        got = parse_date(value)
        assert got is None or got.tzinfo == timezone.utc, value
    assert parse_date("March 3, 2025").isoformat() == "2025-03-03T00:00:00+00:00"


def test_every_loader_is_fuzzed():
    assert set(LOADER_FUNCTIONS) == set(DOCUMENTS), "a loader without a fuzzing strategy"
    assert all(hasattr(f, "__wrapped__") for f in LOADERS.values()), "a loader outside the isolation boundary"


def _fuzz(name: str):
    @FUZZ
    @given(document=DOCUMENTS[name], seed=st.integers(0, 2**32 - 1))
    def fuzz(document, seed):
        for text in [document, *mutants(document, seed, MUTANTS)]:
            run_loader(name, text)

    def test():
        FUZZED[name] = 0
        with fast_dateparser():
            fuzz()
        print(f"\nfuzzed {name}: {FUZZED[name]} inputs")
        assert FUZZED[name] >= FUZZ_INPUTS

    test.__name__ = f"test_fuzz_{name}"
    return test


test_fuzz_load_text = _fuzz("load_text")
test_fuzz_load_markdown = _fuzz("load_markdown")
test_fuzz_load_html = _fuzz("load_html")
test_fuzz_load_json = _fuzz("load_json")
test_fuzz_load_jsonl = _fuzz("load_jsonl")
test_fuzz_load_feed = _fuzz("load_feed")

any_document = st.one_of(*DOCUMENTS.values())
raw_bytes = st.one_of(
    st.binary(max_size=300),
    any_document.map(lambda s: s.encode("utf-8")),
    any_document.map(lambda s: "\ufeff".encode() + s.encode("utf-8")),
    any_document.map(lambda s: s.encode("utf-16")),
    any_document.map(lambda s: s.encode("latin-1", "replace")),
)
FILES = tempfile.mkdtemp(prefix="newsrag-fuzz-")
atexit.register(shutil.rmtree, FILES, True)
PATH_EXAMPLES = 2_000


@settings(
    max_examples=PATH_EXAMPLES,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
@given(
    ext=st.sampled_from(sorted(LOADERS) + [".pdf", ""]),
    data=raw_bytes,
    max_bytes=st.sampled_from([64, 4096, MB]),
)
def _fuzz_load_path(ext, data, max_bytes):
    path = Path(FILES) / f"doc{ext}"
    path.write_bytes(data)
    result = load_path(path, max_bytes=max_bytes)
    check_outcome(result.articles + result.errors, str(path))
    FUZZED["load_path"] += 1


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [  # inputs the fuzzers found
        (
            "load_feed",
            '<feed xmlns="http://\x85www.w3.org/\xa02005/Atom"><title></title></feed>',
            "fuzz.xml: malformed feed XML: too many values to unpack (expected 2)",
        ),
        ("load_markdown", "0\ufffe000<br>0\ufffe000<br>", None),  # loads: lxml refused U+FFFE
    ],
)
def test_inputs_the_fuzzers_found_load_or_are_refused_by_name(name, text, expected):
    raw = LOADER_FUNCTIONS[name].__wrapped__
    origin = f"fuzz{EXTENSION[name]}"
    if expected is None:
        check_outcome(list(raw(text, origin)), origin)
    else:
        with pytest.raises(InputError) as refused:
            list(raw(text, origin))
        assert str(refused.value) == expected


def test_fuzz_load_path_on_written_files():
    FUZZED["load_path"] = 0
    with fast_dateparser():
        _fuzz_load_path()
    print(f"\nfuzzed load_path: {FUZZED['load_path']} files")
    assert FUZZED["load_path"] >= PATH_EXAMPLES
