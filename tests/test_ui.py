"""The chat UI: a live server driven through gradio_client, its handlers, rendering and the bind check."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager

import pytest
from conftest import DEMO, ROOT, ScriptedLLM

from rag.answer.citations import Citation
from rag.answer.result import NO_ANSWER, Answer
from rag.errors import ConfigError
from ui import render
from ui.app import (
    build_app,
    chat_turn,
    check_bind,
    delete_articles,
    ingest_uploads,
    launch,
    new_conversation,
    page_options,
)
from ui.uploads import safe_name

AERLUME_Q = "What did the Aerlume pilots' strike do to flights?"
AERLUME_A = "Aerlume cancelled 620 flights during the 48-hour pilots' strike [1]."
AERLUME_TITLE = "Aerlume pilots' 48-hour strike cancels 620 flights"
AERLUME_URL = "https://harbour-post.example/2025/03/07/aerlume-pilots-strike-cancels-flights"
REFUSAL = (
    'refusing to serve the UI on 0.0.0.0 without authentication: set NEWSRAG_UI_AUTH="user:password" '
    "or bind to 127.0.0.1 (--host 127.0.0.1)"
)
EVIL_TITLE = '<img src=x onerror="window.__pwned=1">'


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve(assistant):
    """The page for `assistant` on a free local port; yields its URL."""
    app = build_app(assistant)
    _, url, _ = app.launch(
        prevent_thread_lock=True,
        server_name="127.0.0.1",
        server_port=free_port(),
        quiet=True,
        show_error=False,
        **page_options(assistant.settings),
    )
    try:
        yield url
    finally:
        app.close()


@pytest.fixture
def client_for(monkeypatch):
    from gradio_client import Client

    monkeypatch.setenv("GRADIO_ANALYTICS_ENABLED", "False")  # the client would otherwise send telemetry
    return lambda url: Client(url, verbose=False, analytics_enabled=False)


def scripted(demo, *replies):
    from rag.assistant import Assistant

    return Assistant(demo.settings, llm=ScriptedLLM(*replies))


def ask(assistant, question, display=None, history=None, outlets=None, since=None, until=None, n_sources=4):
    """Run one chat turn like the page does; returns (frames, display, history) after the last frame."""
    frames = list(
        chat_turn(assistant, question, display or [], history or [], outlets, since, until, n_sources)
    )
    _, _, display, history = frames[-1]
    return frames, display, history


# -- the live server, through Gradio's API ------------------------------------------------------
def test_chat_api_answers_with_cited_sources(demo, client_for):
    assistant = scripted(demo, AERLUME_A)
    with serve(assistant) as url:
        result = client_for(url).predict(AERLUME_Q, api_name="/chat")
    said, rest = result.split("\n\nFilters: none\n")
    assert said.startswith(f"{AERLUME_A}\n\nHarbour Post (2025-03-07): Pilots at low-cost airline Aerlume")
    assert "Filters: none\n" + rest == "\n".join(
        [
            "Filters: none",
            "",
            "Sources:",
            f"- [1] [{AERLUME_TITLE}]({AERLUME_URL}) — Harbour Post, 2025-03-07 (verified)",
            "  > Pilots at low-cost airline Aerlume began a 48-hour strike on Friday, 7 March, forcing the carrier "
            "to cancel 620 flights and disrupting travel for an estimated 95,000 passengers across Europe.",
        ]
    )
    prompt = assistant.llm.prompts[0][-1]["content"]
    assert f"[1] {AERLUME_TITLE} (Harbour Post, 2025-03-07)" in prompt


def test_chat_api_streams_the_answer_token_by_token(demo, client_for):
    with serve(scripted(demo, AERLUME_A)) as url:
        job = client_for(url).submit(AERLUME_Q, api_name="/chat")
        outputs = list(job)
    partials, final = outputs[:-1], outputs[-1]
    assert len(partials) >= 3
    # the model's words as they come, then what its source says that they do not
    assert all(AERLUME_A.startswith(p.strip()) or p.startswith(AERLUME_A + "\n\n") for p in partials)
    assert [len(p) for p in partials] == sorted(len(p) for p in partials)
    assert final.startswith(AERLUME_A + "\n") and "Harbour Post, 2025-03-07 (verified)" in final


def test_chat_api_says_plainly_when_the_sources_do_not_answer(demo, client_for):
    question = "Who won the 2031 Martian presidential election?"
    why = demo.ask(question).note
    assistant = scripted(demo, "Made-up answer [1].")
    with serve(assistant) as url:
        result = client_for(url).predict(question, api_name="/chat")
    assert why and result.startswith(f"{NO_ANSWER}\n\n{why} There is no answer to show.\n")
    assert "Sources:" not in result and "Made-up" not in result
    assert assistant.llm.prompts == []


def test_chat_api_errors_are_short_messages(settings, client_for):
    from gradio_client.exceptions import AppError

    from rag.assistant import Assistant

    with serve(Assistant(settings)) as url:
        client = client_for(url)
        for _ in range(2):  # and the server keeps working
            with pytest.raises(AppError) as err:
                client.predict("What happened in Paris?", api_name="/chat")
            assert str(err.value) == "no articles ingested yet: run `newsrag ingest PATH` first"


# -- the chat handler ----------------------------------------------------------------------------
def test_chat_turn_streams_then_shows_answer_with_source_cards(demo):
    frames, display, history = ask(scripted(demo, AERLUME_A), AERLUME_Q)
    assert frames[0][0] == ""  # the question box is cleared at once
    streamed = [f[1][-1]["content"] for f in frames[:-1]]
    assert streamed[0] == render.pending()
    assert streamed[1].startswith(
        '<div class="nr-answer"><p class="nr-text">…</p><div class="nr-meta">Sources found'
    )
    assert len(streamed) >= 4 and streamed[-1].startswith(
        render.streaming(AERLUME_A).removesuffix("</p></div>")
    )
    html = display[-1]["content"]
    assert '<a class="nr-cite" href="#nr-0-1">&#91;1&#93;</a>' in html
    assert '<div class="nr-card" id="nr-0-1">' in html
    assert (
        f'<a href="{AERLUME_URL}" target="_blank" rel="noopener noreferrer">{render.text(AERLUME_TITLE)}</a>'
        in html
    )
    assert '<span class="nr-outlet">Harbour Post</span>' in html
    assert f'<span class="nr-date">{render.text("2025-03-07")}</span>' in html
    assert '<span class="nr-ok">✓ verified</span>' in html
    assert [h["role"] for h in history] == ["user", "assistant"] and history[0]["content"] == AERLUME_Q
    assert history[1]["content"].startswith(f"{AERLUME_A}\n\nHarbour Post (2025-03-07): Pilots at low-cost")


def test_follow_up_uses_the_conversation_and_shows_the_search(demo):
    _, display, history = ask(demo, AERLUME_Q)
    _, display, history = ask(demo, "What did the union want?", display, history)
    assert len(display) == 4 and len(history) == 4
    searched = f"{AERLUME_Q} What did the union want?"  # the extractive backend's rewrite
    assert f"Searched: “{render.text(searched)}”" in display[-1]["content"]
    assert 'id="nr-1-1"' in display[-1]["content"]  # anchors are unique per turn
    assert new_conversation() == ([], [], [], "")


def test_filters_are_applied_and_shown(demo):
    assistant = scripted(demo, "Reply.")
    _, display, _ = ask(
        assistant,
        "What did Starmer and Macron say about Ukraine?",
        outlets=["Northern Wire"],
        since="2025-02-01",
        until="2025-03-31",
        n_sources=2,
    )
    prompt = assistant.llm.prompts[0][-1]["content"]
    assert "(Northern Wire, " in prompt and "[2] " in prompt and "[3] " not in prompt
    for other in ("Harbour Post", "Continental Ledger", "Daily Meridian"):
        assert f"({other}, " not in prompt
    shown = (
        "Filters: "
        + render.text("outlets: Northern Wire; since 2025-02-01; until 2025-03-31")
        + " · up to 2 sources"
    )
    assert shown in display[-1]["content"]
    assert assistant.settings.context_sources == 4  # the shared settings are untouched


def test_bad_filter_and_errors_become_messages_and_the_chat_goes_on(demo):
    _, display, history = ask(demo, AERLUME_Q, since="not a date")
    assert display[-1]["content"] == render.error(
        "filter since: cannot read the date 'not a date' (use YYYY-MM-DD)"
    )
    assert history == []
    _, display, history = ask(demo, AERLUME_Q, display, history)
    assert "nr-card" in display[-1]["content"] and len(history) == 2


@pytest.fixture
def silent_port():
    """A port that accepts connections and never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        yield s.getsockname()[1]


@pytest.mark.parametrize("case", ["unreachable", "timeout"])
def test_llm_backend_failures_say_what_to_do(demo, silent_port, case):
    from rag.assistant import Assistant

    port = free_port() if case == "unreachable" else silent_port
    settings = demo.settings.model_copy(
        update={"llm": "openai", "openai_timeout": 0.5, "openai_base_url": f"http://127.0.0.1:{port}/v1"}
    )
    _, display, _ = ask(Assistant(settings), AERLUME_Q)
    expected = {
        "unreachable": f"cannot reach the LLM endpoint http://127.0.0.1:{port}/v1; check "
        "NEWSRAG_OPENAI_BASE_URL or use --llm local / extractive",
        "timeout": f"the LLM endpoint http://127.0.0.1:{port}/v1 timed out; try again, raise "
        "NEWSRAG_OPENAI_TIMEOUT, or use --llm extractive",
    }[case]
    assert display[-1]["content"] == render.error(expected)


def test_empty_index_then_upload_then_answer(settings, tmp_path):
    from rag.assistant import Assistant

    assistant = Assistant(settings)
    _, display, _ = ask(assistant, AERLUME_Q)
    assert display[-1]["content"] == render.error("no articles ingested yet: run `newsrag ingest PATH` first")
    report, stats, outlets, files, url = ingest_uploads(
        assistant, [str(DEMO / "json" / "briefs.json")], "", progress=lambda *a, **k: None
    )
    assert report.startswith(render.text("3 new, 0 updated, 0 unchanged, 0 failed articles"))
    assert stats.startswith("**3 articles**, 3 chunks, 2 outlets")
    assert outlets["choices"] == ["Continental Ledger", "Harbour Post"] and files is None and url == ""
    _, display, _ = ask(assistant, AERLUME_Q, display)
    assert "nr-card" in display[-1]["content"]


def test_delete_needs_confirmation_then_removes_by_url_id_or_outlet(demo):
    from conftest import demo_url

    url = demo_url("kestrel-microsystems-q4-earnings")
    articles = demo.stats()["articles"]
    report, *_, sure = delete_articles(demo, url, None, False)
    assert render.text("I'm sure") in report and sure is False and demo.stats()["articles"] == articles
    report, *_ = delete_articles(demo, url, "Harbour Post", True)
    assert report.startswith("Give an article") and demo.stats()["articles"] == articles
    report, stats, outlets, target, outlet, sure = delete_articles(demo, url, None, True)
    assert report == render.text("Deleted 1 article(s) matching that URL or id.")
    assert (target, outlet, sure) == ("", None, False) and demo.stats()["articles"] == articles - 1
    assert delete_articles(demo, url, None, True)[0] == render.text("No article matching that URL or id.")
    doc_id = demo.collection.get(where={"source": "Northern Wire"}, include=["metadatas"])["metadatas"][0][
        "doc_id"
    ]
    assert delete_articles(demo, doc_id, None, True)[0] == render.text(
        "Deleted 1 article(s) matching that URL or id."
    )
    report, stats, outlets, *_ = delete_articles(demo, "", "Harbour Post", True)
    assert report == render.text("Deleted 4 article(s) of Harbour Post.")
    assert "Harbour Post" not in outlets["choices"] and demo.stats()["articles"] == articles - 6


def test_cards_say_which_other_outlets_ran_the_story():
    answer = evil_answer()
    answer.citations[0].also = [
        {"source": "Morning Anchor", "title": "T", "url": "https://anchor.example/t"},
        {"source": "Inland <Courier>", "title": "T", "url": "javascript:alert(3)"},
        {"source": "Morning Anchor", "title": "T again", "url": "https://anchor.example/t2"},
    ]
    html = render.answer_html(answer, turn=0)
    assert (
        'Also reported by <a href="https://anchor.example/t" target="_blank" rel="noopener noreferrer">'
        "Morning Anchor</a>, Inland &lt;Courier&gt;</div>" in html
    )
    assert "  Also reported by [Morning Anchor](https://anchor.example/t), Inland \\<Courier\\>" in (
        render.answer_markdown(answer)
    )


# -- uploads ------------------------------------------------------------------------------------
def test_uploads_are_renamed_limited_and_failures_listed(demo, tmp_path):
    from rag.assistant import Assistant

    uploads = tmp_path / "uploads"
    uploads.mkdir()
    good = uploads / "good brief (1).json"
    good.write_text(
        json.dumps(
            {
                "title": "Quokka count rises",
                "source": "Isle Gazette",
                "body": "Rangers counted 12,000 quokkas on the island this spring.",
                "published_at": "2025-04-01",
            }
        )
    )
    (uploads / "broken.json").write_text("{not json")
    (uploads / "big.md").write_text("# Big\n\n" + "word " * 4000)
    (uploads / "tool.exe").write_bytes(b"MZ")
    small = Assistant(demo.settings.model_copy(update={"max_file_mb": 0.01}))
    files = [str(uploads / n) for n in ("good brief (1).json", "broken.json", "big.md", "tool.exe")]
    report, stats, *_ = ingest_uploads(small, files, "", progress=lambda *a, **k: None)
    assert report.startswith(render.text("1 new, 0 updated, 0 unchanged, 1 failed articles"))
    rows = [
        ("big.md", "file is too large (0.0 MB > 0.010485 MB limit; raise NEWSRAG_MAX_FILE_MB to allow it)"),
        (
            "tool.exe",
            "unsupported file type '.exe' (supported: .atom, .htm, .html, .json, .jsonl, .markdown, "
            ".md, .ndjson, .rss, .txt, .xml)",
        ),
        (
            "broken.json",
            "malformed JSON at line 1 column 2: Expecting property name enclosed in double quotes",
        ),
    ]
    assert report == render.ingest_markdown(report.split("<table")[0], rows)
    assert stats.startswith("**21 articles**") and "Isle Gazette (1)" in stats


def test_url_must_be_http(demo):
    report, *_ = ingest_uploads(demo, [], "javascript:alert(1)", progress=lambda *a, **k: None)
    assert report == "Paste an http:// or https:// address of a feed or an article."


@pytest.mark.parametrize(
    "name, safe",
    [
        ("../../etc/passwd.json", "passwd.json"),
        ("..\\..\\win.ini.md", "win.ini.md"),
        (".hidden.txt", "hidden.txt"),
        ("a b<script>.JSON", "a_b_script.json"),
        ("", "upload"),
        ("....", "upload"),
        ("x" * 300 + ".xml", "x" * 100 + ".xml"),
    ],
)
def test_safe_name(name, safe):
    assert safe_name(name) == safe


# -- rendering ----------------------------------------------------------------------------------
def evil_answer() -> Answer:
    cite = Citation(
        n=1,
        doc_id="d",
        chunk_id="c",
        title=EVIL_TITLE,
        source="<script>x()</script>",
        published_at="2025-01-01T00:00:00Z",
        url="javascript:alert(1)",
        quote="[click](javascript:alert(2)) <b>bold</b>",
        verified=False,
        support=0.1,
    )
    return Answer(question="q", query="q", text="It is <i>so</i> [1].", citations=[cite])


def test_rendering_escapes_everything_and_links_only_http():
    html = render.answer_html(evil_answer(), turn=0)
    assert "<img" not in html and "<script" not in html and "<b>" not in html and "<i>" not in html
    assert "javascript:" not in html and 'href="java' not in html
    assert f"<strong>&#91;1&#93;</strong> {render.text(EVIL_TITLE)} <span" in html
    assert render.text(EVIL_TITLE).startswith(
        "&lt;img src=x onerror=&quot;window.&#95;&#95;pwned=1&quot;&gt;"
    )
    assert "(address not shown as a link: javascript&#58;alert&#40;1&#41;)" in html
    assert '<span class="nr-warn">⚠ not verified' in html
    markdown = render.answer_markdown(evil_answer())
    assert (
        '- [1] \\<img src=x onerror="window.\\_\\_pwned=1"\\> — \\<script\\>x()\\</script\\>, 2025-01-01'
        in markdown
    )
    assert markdown.startswith("It is \\<i\\>so\\</i\\> [1].\n")
    assert "  > \\[click\\](javascript:alert(2)) \\<b\\>bold\\</b\\>" in markdown


@pytest.mark.parametrize(
    "url, ok",
    [
        ("https://a.example/x", True),
        ("http://a.example", True),
        ("HTTPS://A.EXAMPLE/", True),
        ("javascript:alert(1)", False),
        (" javascript:alert(1)", False),
        ("data:text/html,x", False),
        ("//a.example/x", False),
        ("/relative", False),
        ("https://a.example/x\n", True),
        ("https://a b", False),
        ("", False),
    ],
)
def test_http_url(url, ok):
    assert (render.http_url(url) is not None) is ok


def test_stats_escape_outlets():
    stats = {
        "articles": 1,
        "chunks": 1,
        "incomplete": 0,
        "outlets": {"<b>Evil</b>": 1},
        "first_published": "2025-01-01T00:00:00Z",
        "last_published": "2025-01-02T00:00:00Z",
    }
    assert "&lt;b&gt;Evil&lt;/b&gt; (1)" in render.stats_markdown(stats)


# -- binding and launching ----------------------------------------------------------------------
def test_public_bind_without_auth_is_refused(settings):
    with pytest.raises(ConfigError) as err:
        launch(settings, host="0.0.0.0", port=free_port())
    assert str(err.value) == REFUSAL


def test_public_bind_with_auth_passes_the_check(settings, monkeypatch):
    from rag.settings import Settings

    assert check_bind(settings.model_copy(update={"ui_auth": "ann:s3cret:x"}), "0.0.0.0") == (
        "ann",
        "s3cret:x",
    )
    monkeypatch.setenv("NEWSRAG_UI_AUTH", "bob:pw")
    assert check_bind(Settings(data_dir=settings.data_dir), "192.168.1.5") == ("bob", "pw")
    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        assert check_bind(settings, host) is None
    with pytest.raises(ConfigError, match='must look like "user:password"'):
        check_bind(settings.model_copy(update={"ui_auth": "nopassword"}), "127.0.0.1")


def test_cli_serve_refusal_is_one_line(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "rag.cli", "--data-dir", str(tmp_path), "serve", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert (done.returncode, done.stderr) == (2, f"error: {REFUSAL}\n")


def test_busy_port_is_a_short_message(demo, silent_port):
    with pytest.raises(ConfigError) as err:
        launch(demo.settings, host="127.0.0.1", port=silent_port)
    assert str(err.value) == (
        f"cannot serve the UI on 127.0.0.1:{silent_port}: the port is in use or the address "
        "is not available; choose another with --port (or --host)"
    )


def test_launch_is_local_offline_and_quiet(demo, monkeypatch):
    import gradio as gr

    seen = {}
    monkeypatch.delenv("GRADIO_ANALYTICS_ENABLED", raising=False)
    monkeypatch.setattr(gr.Blocks, "launch", lambda self, **kw: seen.update(kw, app=self))
    launch(demo.settings, host="127.0.0.1", port=7999)
    assert os.environ["GRADIO_ANALYTICS_ENABLED"] == "False"
    assert not seen.pop("app").analytics_enabled
    theme = seen.pop("theme")
    assert {
        "server_name": "127.0.0.1",
        "server_port": 7999,
        "auth": None,
        "show_error": False,
        "share": False,
    }.items() <= seen.items()
    assert seen["max_file_size"] == "20mb"
    fonts = theme._font + theme._font_mono
    assert not any(isinstance(f, (gr.themes.GoogleFont, gr.themes.LocalFont)) for f in fonts), fonts


def test_chat_endpoint_takes_one_string(demo, client_for):
    with serve(demo) as url:
        api = client_for(url).view_api(print_info=False, return_format="dict")
    assert list(api["named_endpoints"]) == ["/chat"]
    assert [p["python_type"]["type"] for p in api["named_endpoints"]["/chat"]["parameters"]] == ["str"]


def test_failed_logins_from_one_address_back_off(demo):
    import httpx

    app = build_app(demo)
    _, url, _ = app.launch(
        prevent_thread_lock=True,
        server_name="127.0.0.1",
        server_port=free_port(),
        quiet=True,
        show_error=False,
        auth=("ann", "s3cret"),
        **page_options(demo.settings),
    )
    try:
        with httpx.Client(base_url=url, timeout=30) as http:

            def login(password: str) -> httpx.Response:
                return http.post("/login", data={"username": "ann", "password": password})

            assert [login("wrong").status_code for _ in range(6)] == [
                400
            ] * 6  # 5 free, the 6th starts a wait
            refused = login("s3cret")  # even the right password waits its turn
            assert (refused.status_code, refused.headers["retry-after"]) == (429, "1")
            assert refused.json() == {"detail": "Too many failed logins: try again in 1 s."}
            time.sleep(1.1)
            assert login("wrong").status_code == 400  # the 7th failure: a 2 s wait
            assert login("s3cret").status_code == 429
            time.sleep(2.1)
            assert login("s3cret").status_code == 200  # and the record is cleared
            assert [login("wrong").status_code for _ in range(5)] == [400] * 5
    finally:
        app.close()


def test_ingest_has_its_own_queue_so_answers_never_wait_for_it(demo):
    app = build_app(demo)
    queues = {
        fn.name: (fn.concurrency_id, fn.concurrency_limit) for fn in app.fns.values() if fn.name != "fn"
    }
    events = [(fn.concurrency_id, fn.concurrency_limit) for fn in app.fns.values()]
    assert ("ingest", 1) in events  # one ingest at a time, in its own queue
    assert queues["chat"] == ("answer", "default")
    assert (
        sum(cid == "answer" for cid, _ in events) == 2
    )  # the chat box and the /chat API: one model, one queue
