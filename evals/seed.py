"""The seed check: a plain text article about the London summit on Ukraine (no date, outlet or URL, as a
user's own file would be) among the first 30 MultiHop-RAG articles, asked what issue 20 asks of it: Russia's
position in the article's words, three questions it answers, and ones it does not (China's view).

The cases (evals/data/seed.jsonl) name the article by its headline (`gold_titles`), since it has no URL;
they are scored as the news suite scores its cases.
"""

from __future__ import annotations

from pathlib import Path

from evals import news
from rag.errors import ConfigError
from rag.settings import Settings

DATA = Path(__file__).resolve().parent / "data"
SEED = DATA / "seed"
QUESTIONS = DATA / "seed.jsonl"
DISTRACTORS = 30


def distractors(corpus: Path, folder: Path, n: int = DISTRACTORS) -> Path:
    """The first `n` articles of `corpus` as their own JSONL file in `folder`, rewritten only when they
    change (the eval index is keyed on the files' bytes)."""
    lines = [line for line in corpus.read_text(encoding="utf-8").splitlines() if line.strip()][:n]
    out = folder / f"multihop-first-{n}.jsonl"
    text = "\n".join(lines) + "\n"
    if not out.exists() or out.read_text(encoding="utf-8") != text:
        folder.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    return out


def run(settings: Settings, data_dir: Path | None = None, progress=None, questions: Path = QUESTIONS):
    corpus = news.CORPUS
    if not corpus.exists():
        raise ConfigError(
            f"{corpus} not found: the seed check takes its distractors from the MultiHop-RAG corpus "
            "(../shared/data/multihop-rag/corpus.jsonl beside the project)"
        )
    folder = Path(settings.data_dir) / "evals" / "seed-distractors"
    paths = [SEED, distractors(corpus, folder)]
    metrics, rows = news.run(
        settings, data_dir, progress, questions=questions, corpus=corpus, corpora=paths, name="seed"
    )
    metrics["suite"] = "seed"
    return metrics, rows


def write_report(run_dir: Path, metrics: dict, rows: list[dict]) -> None:
    news.write_report(run_dir, metrics, rows, title=f"The seed article among {DISTRACTORS} distractors")
