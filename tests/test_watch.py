"""`watch`: feeds polled with conditional GETs against a local server that changes, answers 304, 500 or junk."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.test_indexing import newsrag

ITEM = (
    "<item><title>{title}</title><link>https://quay.example/{slug}</link>"
    "<pubDate>Mon, 03 Mar 2025 09:00:00 GMT</pubDate><description>{body}</description></item>"
)


def rss(outlet: str, *items: tuple[str, str]) -> bytes:
    body = "".join(
        ITEM.format(title=t, slug=t.lower().replace(" ", "-"), body=f"{b} The port authority confirmed it.")
        for t, b in items
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{outlet}</title>{body}</channel></rss>'
    ).encode()


A = ("Cranes arrive", "Two new quay cranes arrived by barge on Monday morning.")
A2 = ("Cranes arrive", "Two new quay cranes arrived by barge on Monday morning, a day late.")
B = ("Ferry fares frozen", "Ferry fares will stay at last year's level until October.")
C = ("Dredging starts", "Dredging of the outer channel starts next week.")
D = ("Night shifts end", "Night shifts at the southern terminal end on Friday.")
E = ("Lighthouse repainted", "The harbour lighthouse was repainted red and white.")


class FeedServer:
    """Serves /one.xml (ETag) and /two.xml (Last-Modified); `script` forces the next answers of /one.xml."""

    def __init__(self):
        self.one = rss("Quay Times", A, B)
        self.one_tag = '"v1"'
        self.two = rss("Harbour Gazette", E)
        self.two_date = formatdate(1740992400, usegmt=True)
        self.script: list[str] = []  # "500" or "broken", consumed one per request to /one.xml
        self.requests: list[tuple[str, str, str]] = []  # (path, If-None-Match, If-Modified-Since)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the http.server API
                server.requests.append(
                    (
                        self.path,
                        self.headers.get("If-None-Match", ""),
                        self.headers.get("If-Modified-Since", ""),
                    )
                )
                if self.path == "/one.xml" and server.script:
                    forced = server.script.pop(0)
                    if forced == "500":
                        return self._send(500, b"oops", {})
                    return self._send(200, b"<?xml version='1.0'?><rss><channel><item>", {"ETag": '"junk"'})
                if self.path == "/one.xml":
                    if self.headers.get("If-None-Match") == server.one_tag:
                        return self._send(304, b"", {"ETag": server.one_tag})
                    return self._send(200, server.one, {"ETag": server.one_tag})
                if self.headers.get("If-Modified-Since") == server.two_date:
                    return self._send(304, b"", {})
                return self._send(200, server.two, {"Last-Modified": server.two_date})

            def _send(self, status, body, headers):
                self.send_response(status)
                self.send_header("Content-Type", "application/rss+xml")
                for k, v in headers.items():
                    self.send_header(k, v)
                if status != 304:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if status != 304:
                    self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = FeedServer()
    yield s
    s.close()


COUNTS = ("new", "updated", "unchanged", "failed", "not_modified", "backing_off")


def test_watch_polls_with_conditional_gets_and_survives_failures(settings, server):
    from rag.assistant import Assistant

    a = Assistant(settings)
    # What changes on the server before each poll.
    before = {
        3: lambda: (setattr(server, "one", rss("Quay Times", A2, B, C)), setattr(server, "one_tag", '"v2"')),
        4: lambda: server.script.append("500"),
        5: lambda: server.script.append("broken"),
        8: lambda: (
            setattr(server, "one", rss("Quay Times", A2, B, C, D)),
            setattr(server, "one_tag", '"v3"'),
        ),
    }
    seen = []

    def on_poll(report):
        seen.append(tuple(getattr(report, k) for k in COUNTS))
        before.get(report.poll + 1, lambda: None)()

    urls = [f"{server.base}/one.xml", f"{server.base}/two.xml"]
    assert a.watch(urls, every_s=0, polls=8, on_poll=on_poll, allow_private=True) == 8
    assert seen == [
        (3, 0, 0, 0, 0, 0),  # both feeds new
        (0, 0, 0, 0, 2, 0),  # both 304
        (1, 1, 1, 0, 1, 0),  # one.xml: C new, A changed, B unchanged
        (0, 0, 0, 1, 1, 0),  # one.xml: HTTP 500
        (0, 0, 0, 1, 1, 0),  # one.xml: a broken feed
        (0, 0, 0, 0, 1, 1),  # one.xml backs off one poll
        (0, 0, 0, 0, 2, 0),  # one.xml: the validators of the last stored fetch still hold
        (1, 0, 3, 0, 1, 0),  # D new
    ]
    one = [r for r in server.requests if r[0] == "/one.xml"]
    assert [r[1] for r in one] == ["", '"v1"', '"v1"', '"v2"', '"v2"', '"v2"', '"v2"']
    assert {r[2] for r in server.requests if r[0] == "/two.xml"} == {"", server.two_date}
    assert a.stats()["articles"] == 5
    texts = " ".join(a.collection.get(include=["documents"])["documents"])
    assert "a day late" in texts


def test_a_refused_private_url_is_a_failure_not_a_crash(settings, server):
    from rag.assistant import Assistant

    reports = []
    Assistant(settings).watch([f"{server.base}/one.xml"], every_s=0, polls=2, on_poll=reports.append)
    assert [(r.failed, r.backing_off) for r in reports] == [(1, 0), (1, 0)]
    assert "--allow-private-urls" in reports[0].errors[0]


def test_cli_watch_prints_one_line_per_poll(tmp_path, server):
    run = newsrag(
        "--data-dir",
        str(tmp_path / "data"),
        "watch",
        f"{server.base}/one.xml",
        "--every",
        "0s",
        "--polls",
        "2",
        "--allow-private-urls",
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines() == [
        "poll 1: 2 new, 0 updated, 0 unchanged, 0 failed, 0 not modified",
        "poll 2: 0 new, 0 updated, 0 unchanged, 0 failed, 1 not modified",
    ]


def test_cli_watch_stops_cleanly_on_ctrl_c_and_a_restart_after_kill_duplicates_nothing(tmp_path, server):
    exe = [sys.executable, "-m", "rag.cli", "--data-dir", str(tmp_path / "data"), "watch"]
    args = [f"{server.base}/one.xml", "--every", "1h", "--allow-private-urls"]
    proc = subprocess.Popen(exe + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline()  # the first poll is done; now it sleeps
    assert first.startswith("poll 1: 2 new")
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "stopped after 1 poll(s)" in err

    server.one, server.one_tag = rss("Quay Times", A2, B, C), '"v2"'
    asked = len(server.requests)
    proc = subprocess.Popen(exe + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(server.requests) == asked:
        time.sleep(0.01)  # killed as soon as the second watch has fetched: before or while it stores
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)

    run = newsrag(
        "--data-dir", str(tmp_path / "data"), "watch", *args[:1], "--every", "0", "--polls", "1", args[-1]
    )
    assert run.returncode == 0, run.stderr
    stats = newsrag("--data-dir", str(tmp_path / "data"), "stats", "--json")
    info = json.loads(stats.stdout)
    assert (info["articles"], info["incomplete"]) == (3, 0)


def test_a_restarted_watch_still_asks_conditionally(settings, server):
    from rag.assistant import Assistant

    urls = [f"{server.base}/one.xml", f"{server.base}/two.xml"]
    first = []
    Assistant(settings).watch(urls, every_s=0, polls=1, on_poll=first.append, allow_private=True)
    again = []
    Assistant(settings).watch(urls, every_s=0, polls=1, on_poll=again.append, allow_private=True)
    assert [(r.new, r.not_modified) for r in first + again] == [(3, 0), (0, 2)]
    assert server.requests[-2:] in (
        [("/one.xml", '"v1"', ""), ("/two.xml", "", server.two_date)],
        [("/two.xml", "", server.two_date), ("/one.xml", '"v1"', "")],
    )
    state = json.loads((settings.data_dir / "watch" / f"{settings.collection}.json").read_text())
    assert state == {urls[0]: {"etag": '"v1"'}, urls[1]: {"last_modified": server.two_date}}


def test_an_unreadable_watch_state_is_ignored(settings, server):
    from rag.assistant import Assistant

    path = settings.data_dir / "watch" / f"{settings.collection}.json"
    path.parent.mkdir(parents=True)
    path.write_text("{not json", encoding="utf-8")
    reports = []
    Assistant(settings).watch(
        [f"{server.base}/one.xml"], 0, polls=1, on_poll=reports.append, allow_private=True
    )
    assert reports[0].new == 2
    assert json.loads(path.read_text()) == {f"{server.base}/one.xml": {"etag": '"v1"'}}
