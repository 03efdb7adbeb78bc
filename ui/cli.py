"""`newsrag serve` and `newsrag demo`, added to the `newsrag` command by the `newsrag.commands` entry point."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from rag.cli import error, prepare_models, settings

Host = Annotated[str, typer.Option(help="Address to bind.")]
Port = Annotated[int, typer.Option(help="Port.")]
Llm = Annotated[str | None, typer.Option("--llm", help="LLM backend.")]


def serve(ctx: typer.Context, host: Host = "127.0.0.1", port: Port = 7860, llm: Llm = None) -> None:
    """Open the chat UI in the browser."""
    from ui.app import launch

    launch(settings(ctx, llm=llm), host=host, port=port)


def demo(
    ctx: typer.Context,
    corpus: Annotated[Path, typer.Argument(help="Demo corpus folder.")] = Path("examples/news"),
    host: Host = "127.0.0.1",
    port: Port = 7860,
    llm: Llm = None,
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Prepare only; do not open the UI.")] = False,
) -> None:
    """Set up the models, ingest the demo corpus and open the chat UI on it."""
    if not corpus.is_dir():
        error(f"demo corpus {corpus} not found: run from the repository root or pass its path")
        raise typer.Exit(2)
    config = settings(ctx, llm=llm)
    if config.llm == "local":
        prepare_models(config)
    from rag.assistant import Assistant

    report = Assistant(config).ingest([corpus])
    typer.echo(report.summary())
    if not no_serve:
        from ui.app import launch

        launch(config, host=host, port=port)


def register(app: typer.Typer) -> None:
    app.command()(serve)
    app.command()(demo)
