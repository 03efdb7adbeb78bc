"""`newsrag eval ...` (also `python -m evals ...`): run a suite into a run folder, compare runs, gate CI.

Added to the `newsrag` command by the `newsrag.commands` entry point (see `register`).

Exit status: 0 ok; 1 a `--fail-under` threshold failed (or a run could not be done); 2 a usage error
(bad or unknown metric name, missing data file).
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Annotated

import typer

from rag.errors import ConfigError, NewsragError

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Evaluation suites: multihop, smoke, robustness, perf; compare two runs.",
)

Out = Annotated[Path | None, typer.Option("--out", help="Run folder (default: runs/<suite>-<timestamp>).")]
FailUnder = Annotated[
    list[str] | None,
    typer.Option(
        "--fail-under",
        metavar="METRIC=VALUE",
        help="Exit 1 when METRIC is below VALUE (repeatable), e.g. hits@10=0.6.",
    ),
]
Llm = Annotated[
    str | None, typer.Option("--llm", help="LLM backend: local, openai or extractive (default: NEWSRAG_LLM).")
]
Seed = Annotated[int, typer.Option("--seed", help="Seed for sampling and synthetic data.")]
IndexDir = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Data dir of the suite's own index (default: <data_dir>/evals/<suite>-<cache key>).",
    ),
]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")]
Tune = Annotated[
    list[str] | None,
    typer.Option(
        "--tune",
        metavar="FIELD=VALUE",
        help="Override one rag.tuning.Tuning value for this run (repeatable), e.g. --tune cover_decay=0.3.",
    ),
]


@contextlib.contextmanager
def _boundary():
    """User errors become one line on stderr: exit 2 for configuration/usage, 1 otherwise."""
    try:
        yield
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except NewsragError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def _settings(ctx: typer.Context, tune: list[str] | None = None, **overrides):
    """The run's settings: the global options (`newsrag --data-dir`), then `--llm`, then `--tune` values."""
    from rag.cli import settings

    config = settings(ctx, **overrides)
    if tune:
        config = config.model_copy(update={"tuning": config.tuning.with_values(tune)})
    return config


def _progress(quiet: bool):
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=True,
        disable=quiet,
        console=Console(stderr=True),
    )


def _finish(
    suite: str, out: Path | None, metrics: dict, rows: list[dict], write_report, thresholds, started: float
) -> None:
    from evals.report import fmt
    from evals.runs import check_thresholds, new_run_dir, write_run

    metrics["config"]["wall_s"] = round(time.perf_counter() - started, 2)
    run_dir = new_run_dir(out, suite)
    write_run(run_dir, metrics, rows)
    write_report(run_dir)
    width = max((len(k) for k in metrics["summary"]), default=0)
    for key, value in metrics["summary"].items():
        typer.echo(f"{key.ljust(width)}  {fmt(value)}")
    typer.echo(f"run folder: {run_dir} ({metrics['config']['wall_s']:.1f} s)")
    failures = check_thresholds(metrics, thresholds)
    for line in failures:
        typer.echo(f"FAIL {line}", err=True)
    if failures:
        raise typer.Exit(1)


@app.command()
def multihop(
    ctx: typer.Context,
    corpus: Annotated[
        Path | None,
        typer.Option(
            help="Articles, MultiHop-RAG JSONL (default: ../shared/data/multihop-rag/corpus.jsonl)."
        ),
    ] = None,
    queries: Annotated[
        Path | None,
        typer.Option(help="Queries, MultiHop-RAG JSONL (default: ../shared/data/multihop-rag/dev.jsonl)."),
    ] = None,
    retrieval_only: Annotated[bool, typer.Option("--retrieval-only", help="Skip answering.")] = False,
    limit: Annotated[int, typer.Option(help="Questions to answer, stratified by type (0 = all).")] = 100,
    llm: Llm = None,
    seed: Seed = 0,
    data_dir: IndexDir = None,
    out: Out = None,
    fail_under: FailUnder = None,
    quiet: Quiet = False,
    tune: Tune = None,
) -> None:
    """MultiHop-RAG: the paper's retrieval metrics on the top 10, then answers on a sample."""
    from evals import multihop as suite
    from evals.runs import parse_thresholds

    started = time.perf_counter()
    with _boundary():
        thresholds = parse_thresholds(fail_under or [])
        corpus = corpus or suite.default_path("corpus.jsonl")
        queries = queries or suite.default_path("dev.jsonl")
        for path in (corpus, queries):
            if not path.exists():
                raise ConfigError(f"{path} not found")
        with _progress(quiet) as bar:
            metrics, rows = suite.run(
                _settings(ctx, tune, llm=llm),
                corpus,
                queries,
                retrieval_only=retrieval_only,
                limit=limit,
                seed=seed,
                data_dir=data_dir,
                progress=bar,
            )
        _finish("multihop", out, metrics, rows, lambda d: suite.write_report(d, metrics), thresholds, started)


def _case_suite(
    ctx: typer.Context, name: str, llm, data_dir, out, fail_under, quiet, tune, **options
) -> None:
    """Run a suite of question cases (smoke, robustness, news): same options, same run folder; `options` go
    to the suite's `run`."""
    import importlib

    from evals.runs import parse_thresholds

    suite = importlib.import_module(f"evals.{name}")
    started = time.perf_counter()
    with _boundary():
        thresholds = parse_thresholds(fail_under or [])
        with _progress(quiet) as bar:
            metrics, rows = suite.run(
                _settings(ctx, tune, llm=llm), data_dir=data_dir, progress=bar, **options
            )
        _finish(name, out, metrics, rows, lambda d: suite.write_report(d, metrics, rows), thresholds, started)


def _question_suite(name: str, doc: str) -> None:
    """Register `newsrag eval NAME`: a suite of question cases with the options every such suite takes."""

    def command(
        ctx: typer.Context,
        llm: Llm = None,
        data_dir: IndexDir = None,
        out: Out = None,
        fail_under: FailUnder = None,
        quiet: Quiet = False,
        tune: Tune = None,
    ) -> None:
        _case_suite(ctx, name, llm, data_dir, out, fail_under, quiet, tune)

    command.__doc__ = doc
    app.command(name=name)(command)


_question_suite("smoke", "The 24 demo questions over examples/news: pass rate per type.")
_question_suite(
    "robustness",
    "Prompt injection, contradicting outlets, unanswerable and misspelled questions: pass rate per type.",
)
_question_suite(
    "seed",
    "A plain-text London-summit article among 30 MultiHop-RAG articles: what it answers, cited; what it does "
    "not, refused.",
)


@app.command()
def news(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="Questions to ask, round-robin over kinds (0 = all).")] = 0,
    split: Annotated[
        str | None, typer.Option(help="Only the `tune` or the `test` half of each kind (default: both).")
    ] = None,
    questions: Annotated[
        Path | None,
        typer.Option(help="A JSONL file of cases in evals/data/news.jsonl's format (default: that file)."),
    ] = None,
    llm: Llm = None,
    data_dir: IndexDir = None,
    out: Out = None,
    fail_under: FailUnder = None,
    quiet: Quiet = False,
    tune: Tune = None,
) -> None:
    """Natural questions over MultiHop-RAG and examples/news: correct, refusals, citations per kind."""
    from evals.news import QUESTIONS

    options = {"limit": limit, "split": split, "questions": questions or QUESTIONS}
    _case_suite(ctx, "news", llm, data_dir, out, fail_under, quiet, tune, **options)


@app.command()
def perf(
    ctx: typer.Context,
    sizes: Annotated[str, typer.Option(help="Index sizes in chunks, comma-separated.")] = "1000,10000,100000",
    queries: Annotated[
        Path | None,
        typer.Option(
            help="JSONL of retrieval queries (`question` or `query` field; default: the smoke questions)."
        ),
    ] = None,
    n_queries: Annotated[int, typer.Option(help="At most this many retrieval queries.")] = 100,
    questions: Annotated[int, typer.Option(help="Questions answered with the LLM for answer timings.")] = 3,
    corpus: Annotated[
        list[Path] | None, typer.Option(help="Corpus to ingest and copy (default: examples/news).")
    ] = None,
    llm: Llm = None,
    seed: Seed = 0,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Where the throw-away indexes go (default: <data_dir>/evals)."),
    ] = None,
    out: Out = None,
    fail_under: FailUnder = None,
    quiet: Quiet = False,
    tune: Tune = None,
) -> None:
    """Ingest throughput, retrieval latency against index size, answer latency, peak memory."""
    from evals import perf as suite
    from evals.runs import parse_thresholds

    started = time.perf_counter()
    with _boundary():
        thresholds = parse_thresholds(fail_under or [])
        try:
            size_list = [int(s) for s in sizes.split(",") if s.strip()]
        except ValueError:
            raise ConfigError(
                f"--sizes {sizes!r}: expected numbers separated by commas, e.g. 1000,10000"
            ) from None
        if not size_list or min(size_list) <= 0:
            raise ConfigError("--sizes needs at least one positive size")
        with _progress(quiet) as bar:
            metrics, rows = suite.run(
                _settings(ctx, tune, llm=llm),
                size_list,
                questions,
                seed,
                corpus,
                data_dir,
                progress=bar,
                queries_file=queries,
                n_queries=n_queries,
            )
        _finish("perf", out, metrics, rows, lambda d: suite.write_report(d, metrics), thresholds, started)


@app.command()
def compare(
    run_a: Annotated[Path, typer.Argument(help="Baseline run folder.")],
    run_b: Annotated[Path, typer.Argument(help="Run folder to compare with the baseline.")],
    fail_under: FailUnder = None,
) -> None:
    """Print a metric-by-metric diff of two runs; `--fail-under` checks RUN_B."""
    from evals.runs import check_thresholds, compare_table, load_metrics, parse_thresholds

    with _boundary():
        thresholds = parse_thresholds(fail_under or [])
        a, b = load_metrics(run_a), load_metrics(run_b)
        if a.get("suite") != b.get("suite"):
            typer.echo(f"note: comparing a {a.get('suite')} run with a {b.get('suite')} run", err=True)
        typer.echo(compare_table(a, b, run_a.name, run_b.name))
        failures = check_thresholds(b, thresholds)
    for line in failures:
        typer.echo(f"FAIL {line}", err=True)
    if failures:
        raise typer.Exit(1)


def register(root: typer.Typer) -> None:
    """Add `newsrag eval ...` to the `newsrag` command."""
    root.add_typer(
        app, name="eval", help="Run evaluation suites (multihop, news, seed, smoke, robustness, perf)."
    )
