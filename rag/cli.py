"""The `newsrag` command: the composition root. User errors become one line on stderr and an exit status.

The core commands live here; `ui` and `evals` add theirs through the `newsrag.commands` entry points
(pyproject.toml), so `rag` never imports them. Global options reach every command through typer's
context (`ctx.obj`, a `CliState`).
"""

from __future__ import annotations

import json
import logging
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Annotated

import typer

from rag.errors import ConfigError, NewsragError

COMMANDS_GROUP = "newsrag.commands"

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Question answering over news, with verified citations. Offline by default.",
)

DataDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Where the index and models live (default: NEWSRAG_DATA_DIR or a per-user data dir).",
    ),
]


AllowPrivate = Annotated[
    bool,
    typer.Option(
        "--allow-private-urls",
        help="Fetch URLs on loopback, private and link-local addresses too (refused by default).",
    ),
]
AsOf = Annotated[
    str | None,
    typer.Option(
        "--as-of",
        help="The date the question is asked on (YYYY-MM-DD; default: today), for "
        "'yesterday', 'last week', 'on Tuesday'.",
    ),
]


@dataclass
class CliState:
    """What the global options set, for every command."""

    data_dir: Path | None = None

    def settings(self, **overrides):
        from rag.settings import Settings

        if self.data_dir is not None:
            overrides["data_dir"] = self.data_dir
        return Settings(**{k: v for k, v in overrides.items() if v is not None})


def settings(ctx: typer.Context | None, **overrides):
    """Settings for a command: the environment, then the global options, then the command's own."""
    state = ctx.find_object(CliState) if ctx is not None else None
    return (state or CliState()).settings(**overrides)


def _assistant(ctx: typer.Context, **overrides):
    from rag.assistant import Assistant

    return Assistant(settings(ctx, **overrides))


def error(message: str) -> None:
    typer.echo(f"error: {message}", err=True)


def _version(value: bool) -> None:
    if value:
        try:
            typer.echo(f"newsrag {metadata.version('newsrag')}")
        except metadata.PackageNotFoundError:
            typer.echo("newsrag (not installed)")
        raise typer.Exit()


def _logging(verbose: int) -> None:
    from rich.console import Console
    from rich.logging import RichHandler

    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    # The handler's own level too: some libraries (bm25s) set their loggers to DEBUG themselves.
    handler = RichHandler(
        console=Console(stderr=True), rich_tracebacks=False, show_path=verbose > 1, level=level
    )
    logging.basicConfig(level=level, format="%(message)s", datefmt="[%X]", force=True, handlers=[handler])


@app.callback()
def main_options(
    ctx: typer.Context,
    data_dir: DataDir = None,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="Log more (-v info, -vv debug).")
    ] = 0,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    _logging(verbose)
    ctx.obj = CliState(data_dir=data_dir)


@app.command()
def ingest(
    ctx: typer.Context,
    inputs: Annotated[list[str], typer.Argument(help="Files, folders or http(s) URLs of articles/feeds.")],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON object: counts and failures.")
    ] = False,
    allow_private: AllowPrivate = False,
) -> None:
    """Ingest news articles into the index (re-running is safe: unchanged articles are skipped)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    assistant = _assistant(ctx)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=True,
        disable=quiet or as_json,
        console=None,
    ) as bar:
        task = bar.add_task("embedding articles", total=None)
        report = assistant.ingest(
            inputs,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
            allow_private=allow_private,
        )
    if as_json:
        typer.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
    else:
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
        console.print(
            f"[{c.n}] {escape(c.title)} — {escape(c.source)}, {c.published_at[:10]} ({mark})\n"
            f"    {escape(c.url)}\n    “{escape(c.quote)}”",
            highlight=False,
        )
        copies = list(
            dict.fromkeys(o["source"] for o in c.also if o.get("source") and o["source"] != c.source)
        )
        if copies:
            console.print(f"    also reported by {escape(', '.join(copies))}", highlight=False)


def _history(path: Path | None) -> list[dict[str, str]]:
    """Chat turns from a JSON file: a list of {"role": "user"|"assistant", "content": str}."""
    if path is None:
        return []
    try:
        turns = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"--history {path}: cannot read it ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise ConfigError(f"--history {path}: not JSON ({exc})") from None
    if not isinstance(turns, list):
        raise ConfigError(f"--history {path}: expected a JSON list of {{role, content}} turns")
    for i, turn in enumerate(turns):
        if not (
            isinstance(turn, dict)
            and turn.get("role") in ("user", "assistant")
            and isinstance(turn.get("content"), str)
        ):
            raise ConfigError(
                f'--history {path}: turn {i + 1} must be {{"role": "user" or "assistant", "content": "..."}}'
            )
    return [{"role": t["role"], "content": t["content"]} for t in turns]


@app.command()
def ask(
    ctx: typer.Context,
    question: str,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    source: Annotated[
        list[str] | None, typer.Option("--source", help="Only this outlet (repeatable).")
    ] = None,
    since: Annotated[str | None, typer.Option(help="Only articles published on/after (YYYY-MM-DD).")] = None,
    until: Annotated[str | None, typer.Option(help="Only articles published on/before (YYYY-MM-DD).")] = None,
    k: Annotated[int | None, typer.Option("--k", help="Chunks to retrieve.")] = None,
    llm: Annotated[
        str | None, typer.Option("--llm", help="LLM backend: local, openai or extractive.")
    ] = None,
    as_of: AsOf = None,
    history_file: Annotated[
        Path | None,
        typer.Option("--history", help="Earlier turns: a JSON list of {role, content} (for follow-ups)."),
    ] = None,
) -> None:
    """Answer one question from the ingested news, with citations."""
    from rag.answer.result import Answer

    assistant = _assistant(ctx, llm=llm, top_k=k)
    answer = None
    streamed = False
    history = _history(history_file)
    for item in assistant.stream(
        question, history=history, filters=_filters(source, since, until), as_of=as_of
    ):
        if isinstance(item, str):
            if not as_json and sys.stdout.isatty():
                typer.echo(item, nl=False)
                streamed = True
        elif isinstance(item, Answer):
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
def chat(
    ctx: typer.Context,
    llm: Annotated[str | None, typer.Option("--llm", help="LLM backend.")] = None,
    as_of: AsOf = None,
) -> None:
    """Terminal chat with follow-up questions (empty line or Ctrl-D to quit)."""
    assistant = _assistant(ctx, llm=llm)
    history: list[dict[str, str]] = []
    while True:
        try:
            question = input("you> ").strip()
        except EOFError:
            break
        if not question:
            break
        try:
            answer = assistant.ask(question, history=history, as_of=as_of)
        except NewsragError as exc:
            error(str(exc))
            continue
        _print_answer(answer)
        history += [{"role": "user", "content": question}, {"role": "assistant", "content": answer.text}]


@app.command()
def stats(ctx: typer.Context, as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Articles, chunks, outlets and date span of the index."""
    info = _assistant(ctx).stats()
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    typer.echo(f"{info['articles']} articles, {info['chunks']} chunks, {len(info['outlets'])} outlets")
    if info["first_published"]:
        typer.echo(f"published {info['first_published'][:10]} .. {info['last_published'][:10]}")
    for outlet, n in info["outlets"].items():
        typer.echo(f"  {n:5d}  {outlet}")


@app.command()
def delete(
    ctx: typer.Context,
    doc: Annotated[str | None, typer.Option("--doc", help="Article id.")] = None,
    url: Annotated[str | None, typer.Option("--url", help="Article URL.")] = None,
    source: Annotated[str | None, typer.Option("--source", help="Every article of this outlet.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help='Print one JSON object: {"removed": N}.')] = False,
) -> None:
    """Remove articles (all their chunks) by id, URL or outlet."""
    if sum(x is not None for x in (doc, url, source)) != 1:
        error("give exactly one of --doc, --url or --source")
        raise typer.Exit(2)
    removed = _assistant(ctx).delete(doc_id=doc, url=url, source=source)
    typer.echo(json.dumps({"removed": removed}) if as_json else f"removed {removed} article(s)")
    if not removed:
        raise typer.Exit(1)


_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600}


def seconds(value: str) -> float:
    """ "90", "30s", "15m", "1h" as seconds."""
    import re

    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*", value.lower())
    if not match:
        raise ConfigError(
            f"--every {value!r}: use a number of seconds or minutes or hours, e.g. 30s, 15m, 1h"
        )
    return float(match.group(1)) * _UNITS[match.group(2)]


@app.command()
def watch(
    ctx: typer.Context,
    urls: Annotated[list[str], typer.Argument(help="Feed or article URLs to poll.")],
    every: Annotated[str, typer.Option("--every", help="Time between polls: 30s, 15m, 1h.")] = "15m",
    polls: Annotated[int | None, typer.Option("--polls", help="Stop after this many polls.")] = None,
    allow_private: AllowPrivate = False,
) -> None:
    """Poll feeds and ingest what is new or changed, one line per poll (Ctrl-C stops)."""
    every_s = seconds(every)
    done = 0

    def show(report) -> None:
        nonlocal done
        done = report.poll
        typer.echo(report.line())  # the failures are logged (stderr) as they happen

    try:
        _assistant(ctx).watch(urls, every_s, polls=polls, on_poll=show, allow_private=allow_private)
    except KeyboardInterrupt:
        typer.echo(f"stopped after {done} poll(s)", err=True)


@app.command()
def setup(ctx: typer.Context) -> None:
    """Prepare the offline models: verify the embedder, join and verify the local LLM. Safe to re-run."""
    prepare_models(settings(ctx))


def prepare_models(config) -> None:
    """Check the bundled embedder and, unless another GGUF is configured, join and check the bundled LLM."""
    from rag.backends.embeddings import minilm_files
    from rag.backends.models import bundled_model

    model, tokenizer = minilm_files()
    typer.echo(f"embeddings: {model} (sha256 ok), tokenizer {tokenizer} (sha256 ok)")
    if config.model_path:
        typer.echo(f"LLM: using NEWSRAG_MODEL_PATH={config.model_path}")
        return
    path = bundled_model(
        config,
        progress=lambda n, total: (
            typer.echo(f"  joining part {n}/{total}", err=True) if n in (1, total) else None
        ),
    )
    typer.echo(f"LLM: {path} (sha256 ok)")


_plugged: set[str] = set()


def build_app() -> typer.Typer:
    """The core commands plus those each installed `newsrag.commands` entry point adds (`ui`, `evals`)."""
    for entry in sorted(metadata.entry_points(group=COMMANDS_GROUP), key=lambda e: e.name):
        if entry.name not in _plugged:
            entry.load()(app)
            _plugged.add(entry.name)
    return app


def main() -> None:
    """Entry point: usage errors exit 2 (click prints them), user errors print one line and exit 1."""
    from pydantic import ValidationError

    try:
        build_app()()
    except ConfigError as exc:
        error(str(exc))
        sys.exit(2)
    except NewsragError as exc:
        error(str(exc))
        sys.exit(1)
    except ValidationError as exc:
        first = exc.errors()[0]
        error(f"setting {'.'.join(str(p) for p in first['loc'])}: {first['msg']}")
        sys.exit(2)


if __name__ == "__main__":
    main()
