"""The chat page: Gradio events wired to `rag.Assistant`. Rendering lives in `ui.render`.

`build_app(assistant)` builds the page (tests inject an Assistant); `launch(settings, host, port)`
checks the bind address, builds the Assistant and serves the page. `page_options(settings)` holds
the launch arguments that keep the page offline and bounded (theme, CSS, upload size).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import tempfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import gradio as gr

from rag.answer.result import Answer, Retrieved
from rag.assistant import Assistant
from rag.errors import ConfigError, NewsragError
from rag.retrieval import Filters
from rag.settings import Settings
from ui import render
from ui.throttle import LoginThrottle
from ui.uploads import stage

log = logging.getLogger(__name__)

SYSTEM_FONTS = ["system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"]
MONO_FONTS = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "Liberation Mono", "monospace"]
UPLOAD_TYPES = [
    ".txt",
    ".md",
    ".markdown",
    ".html",
    ".htm",
    ".json",
    ".jsonl",
    ".ndjson",
    ".xml",
    ".rss",
    ".atom",
]
MAX_SOURCES = 10
ANSWER_QUEUE = "answer"  # the UI chat and the /chat API share one model, so they share one queue
INGEST_QUEUE = "ingest"  # a slow download or a big upload must not hold up answers


# -- security ----------------------------------------------------------------------------------
def is_loopback(host: str) -> bool:
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_auth(value: str | None) -> tuple[str, str] | None:
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise ConfigError('NEWSRAG_UI_AUTH must look like "user:password" (both parts non-empty)')
    return user, password


def check_bind(settings: Settings, host: str) -> tuple[str, str] | None:
    """The credentials to require, or ConfigError for a non-loopback address without any."""
    auth = parse_auth(settings.ui_auth)
    if auth is None and not is_loopback(host):
        raise ConfigError(
            f"refusing to serve the UI on {host} without authentication: set "
            'NEWSRAG_UI_AUTH="user:password" or bind to 127.0.0.1 (--host 127.0.0.1)'
        )
    return auth


def page_options(settings: Settings) -> dict:
    """Launch arguments: system fonts only (no font downloads), our CSS, the upload size limit, and login
    throttling per client address (ui.throttle)."""
    from starlette.middleware import Middleware

    theme = gr.themes.Default(font=SYSTEM_FONTS, font_mono=MONO_FONTS)
    return {
        "theme": theme,
        "css": render.CSS,
        "max_file_size": f"{settings.max_file_mb:g}mb",
        "footer_links": ["api", "settings"],
        "app_kwargs": {"middleware": [Middleware(LoginThrottle)]},
    }


def launch(settings: Settings, host: str = "127.0.0.1", port: int = 7860) -> None:
    """Serve the page until interrupted. Refuses a public bind without authentication."""
    auth = check_bind(settings, host)
    os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
    app = build_app(Assistant(settings))
    try:
        app.launch(
            server_name=host,
            server_port=port,
            auth=auth,
            show_error=False,
            share=False,
            **page_options(settings),
        )
    except OSError:
        raise ConfigError(
            f"cannot serve the UI on {host}:{port}: the port is in use or the address is not "
            "available; choose another with --port (or --host)"
        ) from None


# -- chat --------------------------------------------------------------------------------------
def _message(error: Exception) -> str:
    """What to tell the user. Our errors say what to do; anything else is logged with its traceback."""
    if isinstance(error, NewsragError):
        return str(error)
    log.exception("unexpected error in the UI", exc_info=error)
    return "something went wrong inside newsrag (the details are in the server log); please try again"


def _filters(outlets: list[str] | None, since: str | float | None, until: str | float | None) -> Filters:
    return Filters.coerce({"sources": list(outlets or []), "since": since or None, "until": until or None})


def _reply(display: list, content: str) -> list:
    """A new message list whose last (assistant) message is `content`."""
    return display[:-1] + [{"role": "assistant", "content": content}]


def chat_turn(
    assistant: Assistant,
    question: str,
    display: list,
    history: list,
    outlets,
    since,
    until,
    n_sources,
    as_of=None,
) -> Iterator[tuple]:
    """One question: show it, stream the answer, then replace it with the checked answer and its sources.

    Yields (question box, chatbot, display state, history state).
    """
    question = (question or "").strip()
    if not question:
        yield gr.skip(), gr.skip(), gr.skip(), gr.skip()
        return
    turn = len(display) // 2
    display = display + [
        {"role": "user", "content": render.text(question)},
        {"role": "assistant", "content": render.pending()},
    ]
    yield "", display, display, history
    try:
        partial_text = ""
        answer = None
        found: list = []
        flt = _filters(outlets, since, until)
        for item in assistant.stream(
            question, history=history, filters=flt, sources=int(n_sources or 0) or None, as_of=as_of or None
        ):
            if isinstance(item, Answer):
                answer = item
                break
            if isinstance(item, Retrieved):
                found = item.sources
            else:
                partial_text += item
            display = _reply(display, render.streaming(partial_text, found))
            yield gr.skip(), display, display, gr.skip()
        display = _reply(display, render.answer_html(answer, turn, int(n_sources or 0)))
        history = history + [
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer.text},
        ]
    except Exception as exc:  # noqa: BLE001 - the UI boundary: every failure becomes a message
        display = _reply(display, render.error(_message(exc)))
    yield gr.skip(), display, display, history


def api_chat(assistant: Assistant, question: str) -> Iterator[str]:
    """Answer one question: the answer as it streams, then the answer as markdown with its sources."""
    question = (question or "").strip()
    if not question:
        raise gr.Error("ask a question: the text was empty")
    text = ""
    try:
        for item in assistant.stream(question):
            if isinstance(item, Answer):
                yield render.answer_markdown(item)
                return
            if isinstance(item, str):
                text += item
                yield text
    except Exception as exc:  # noqa: BLE001 - the API boundary
        raise gr.Error(_message(exc), print_exception=False) from None


# -- corpus ------------------------------------------------------------------------------------
def corpus_view(assistant: Assistant) -> tuple:
    """(stats markdown, outlets dropdown update)."""
    try:
        stats = assistant.stats()
        outlets = assistant.outlets() if stats["articles"] else []
    except Exception as exc:  # noqa: BLE001 - the UI boundary
        return render.text(_message(exc)), gr.update()
    return render.stats_markdown(stats), gr.update(choices=outlets)


def ingest_uploads(
    assistant: Assistant, files: list[str] | None, url: str, progress=gr.Progress()
) -> tuple:  # a default instance: how Gradio injects its progress bar
    """Ingest uploaded files and/or a URL. Returns (report, stats, outlets, files, url) updates."""
    files = files or []
    url = (url or "").strip()
    if not files and not url:
        return (
            ("Choose files to upload or paste a feed/article URL first.",)
            + corpus_view(assistant)
            + (gr.skip(), gr.skip())
        )
    if url and render.http_url(url) is None:
        return (
            ("Paste an http:// or https:// address of a feed or an article.",)
            + corpus_view(assistant)
            + (gr.skip(), gr.skip())
        )
    max_bytes = int(assistant.settings.max_file_mb * 1024 * 1024)
    with tempfile.TemporaryDirectory(prefix="newsrag-upload-") as tmp:
        staged = stage(files, Path(tmp), max_bytes)
        inputs: list[str | Path] = list(staged.files) + ([url] if url else [])
        failures = list(staged.refused)
        summary = "Nothing to ingest."
        if inputs:
            progress(0, desc="Reading and embedding articles")
            try:
                report = assistant.ingest(
                    inputs,
                    progress=lambda done, total: progress(
                        (done, total) if total else None, desc="Embedding articles"
                    ),
                )
            except Exception as exc:  # noqa: BLE001 - the UI boundary
                summary = f"Ingest failed: {_message(exc)}"
            else:
                summary = report.summary()
                failures += [_failure(line, staged.files) for line in report.errors]
    return (render.ingest_markdown(summary, failures),) + corpus_view(assistant) + (None, "")


def delete_articles(assistant: Assistant, target: str, outlet: str | None, sure: bool) -> tuple:
    """Delete one article (by URL or id) or every article of an outlet, once `sure` is ticked.
    Returns (report, stats, outlets, target, outlet, sure) updates."""
    target, outlet = (target or "").strip(), outlet or ""
    if bool(target) == bool(outlet):
        message = "Give an article's URL or id, or choose an outlet (one of them)."
    elif not sure:
        message = "Tick “I'm sure” to confirm: deleted articles are gone until ingested again."
    else:
        try:
            if outlet:
                removed = assistant.delete(source=outlet)
            elif render.http_url(target):
                removed = assistant.delete(url=target)
            else:
                removed = assistant.delete(doc_id=target)
        except Exception as exc:  # noqa: BLE001 - the UI boundary
            message = f"Delete failed: {_message(exc)}"
        else:
            what = f"of {outlet}" if outlet else "matching that URL or id"
            message = f"Deleted {removed} article(s) {what}." if removed else f"No article {what}."
            return (render.text(message),) + corpus_view(assistant) + ("", None, False)
    return (render.text(message),) + corpus_view(assistant) + (gr.skip(), gr.skip(), False)


def _failure(line: str, names: dict[Path, str]) -> tuple[str, str]:
    """ "<origin>: <reason>" with the temp copy's path replaced by the uploaded file's name."""
    for path, name in names.items():
        if line.startswith(f"{path}: "):
            return name, line[len(str(path)) + 2 :]
    origin, _, reason = line.partition(": ")
    return origin, reason or line


def _outlet_choices(assistant: Assistant):
    """The outlets a delete can choose from."""
    return corpus_view(assistant)[1]


def new_conversation() -> tuple:
    return [], [], [], ""


# -- the page ----------------------------------------------------------------------------------
def build_app(assistant: Assistant) -> gr.Blocks:
    """The page, wired to `assistant`. Opens the index now: Chroma clients must not be created concurrently."""
    settings = assistant.settings
    assistant.collection  # noqa: B018 - requests would otherwise race to open it
    with gr.Blocks(title="newsrag", analytics_enabled=False) as app:
        gr.Markdown(
            "## newsrag\nAsk about the news in the index. Every [n] leads to the article it comes "
            "from; answers only use what the articles say."
        )
        display = gr.State([])
        history = gr.State([])
        with gr.Row():
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    label="Conversation",
                    elem_id="nr-chat",
                    height=600,
                    latex_delimiters=[],
                    feedback_options=None,
                    buttons=[],  # "copy" would copy our HTML
                    placeholder="Ask a question about the news in the index.",
                )
                with gr.Row():
                    question = gr.Textbox(
                        show_label=False,
                        placeholder="e.g. Which countries offered troops?",
                        elem_id="nr-question",
                        scale=5,
                        autofocus=True,
                        max_lines=4,
                    )
                    ask = gr.Button("Ask", variant="primary", elem_id="nr-ask", scale=1)
                new = gr.Button("New conversation", elem_id="nr-new", size="sm")
            with gr.Column(scale=2):
                with gr.Accordion("Filters", open=True):
                    outlets = gr.Dropdown(
                        label="Outlets",
                        choices=[],
                        multiselect=True,
                        elem_id="nr-outlets",
                        info="None selected: all outlets.",
                    )
                    since = gr.DateTime(
                        label="Published from", include_time=False, type="string", elem_id="nr-since"
                    )
                    until = gr.DateTime(
                        label="Published until", include_time=False, type="string", elem_id="nr-until"
                    )
                    as_of = gr.DateTime(
                        label="Asked on (for 'yesterday', 'last week'…)",
                        include_time=False,
                        type="string",
                        elem_id="nr-as-of",
                        info="Empty: today.",
                    )
                    n_sources = gr.Slider(
                        1,
                        MAX_SOURCES,
                        value=settings.context_sources,
                        step=1,
                        label="Number of sources",
                        elem_id="nr-n-sources",
                    )
                with gr.Accordion("Corpus", open=True):
                    stats = gr.Markdown(elem_id="nr-stats")
                    files = gr.File(
                        label="Upload articles or feeds (txt, md, html, json, jsonl, rss/atom xml)",
                        file_count="multiple",
                        file_types=UPLOAD_TYPES,
                        elem_id="nr-upload",
                    )
                    url = gr.Textbox(
                        label="…or a feed / article URL", placeholder="https://…", elem_id="nr-url"
                    )
                    ingest = gr.Button("Ingest", elem_id="nr-ingest")
                    report = gr.Markdown(elem_id="nr-report")
                with gr.Accordion("Delete", open=False):
                    doomed = gr.Textbox(label="Article URL or id", elem_id="nr-delete-target")
                    doomed_outlet = gr.Dropdown(
                        label="…or every article of an outlet", choices=[], elem_id="nr-delete-outlet"
                    )
                    sure = gr.Checkbox(label="I'm sure", value=False, elem_id="nr-delete-sure")
                    remove = gr.Button("Delete", variant="stop", elem_id="nr-delete")
                    deleted = gr.Markdown(elem_id="nr-deleted")

        chat_inputs = [question, display, history, outlets, since, until, n_sources, as_of]
        chat_outputs = [question, chatbot, display, history]
        gr.on(
            [question.submit, ask.click],
            partial(chat_turn, assistant),
            chat_inputs,
            chat_outputs,
            api_visibility="private",
            concurrency_id=ANSWER_QUEUE,
            show_progress="minimal",
        )
        for event in (new.click, chatbot.clear):  # the button, or the chat's own trash icon
            event(new_conversation, None, [chatbot, display, history, question], api_visibility="private")
        ingest.click(
            partial(ingest_uploads, assistant),
            [files, url],
            [report, stats, outlets, files, url],
            api_visibility="private",
            concurrency_id=INGEST_QUEUE,
            concurrency_limit=1,
        ).then(partial(_outlet_choices, assistant), None, doomed_outlet, api_visibility="private")
        remove.click(
            partial(delete_articles, assistant),
            [doomed, doomed_outlet, sure],
            [deleted, stats, outlets, doomed, doomed_outlet, sure],
            api_visibility="private",
            concurrency_id=INGEST_QUEUE,
            concurrency_limit=1,
        ).then(partial(_outlet_choices, assistant), None, doomed_outlet, api_visibility="private")
        app.load(partial(_outlet_choices, assistant), None, doomed_outlet, api_visibility="private")
        app.load(partial(corpus_view, assistant), None, [stats, outlets], api_visibility="private")

        def chat(question: str) -> Iterator[str]:
            """Answer one question from the news index: markdown with [n] markers, then the sources."""
            yield from api_chat(assistant, question)

        gr.api(chat, api_name="chat", concurrency_id=ANSWER_QUEUE)
    return app
