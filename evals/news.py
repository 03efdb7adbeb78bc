"""The news suite: natural questions of the kinds people ask a news assistant, over the MultiHop-RAG
corpus and the demo corpus (examples/news) in one index.

Each case (evals/data/news.jsonl) names its kind (position, summary, timeline, latest, comparison,
conflict, factoid, follow_up, relative_date, unanswerable), the date it is asked (`as_of`), the
articles that hold the answer (`gold_urls`) and the facts a right answer states (`must_contain`:
groups of alternatives, every group needed). Half of each kind is `tune`, half `test`.
"""

from __future__ import annotations

import inspect
from collections import Counter
from itertools import zip_longest
from pathlib import Path

from evals import metrics as m
from evals import report
from evals.corpus import prepare
from evals.multihop import DATA as MULTIHOP
from evals.runs import ingest_callback, read_jsonl, track
from evals.smoke import DEMO
from ingest.article import canonical_url
from rag.errors import ConfigError
from rag.settings import Settings

CORPUS = MULTIHOP / "corpus.jsonl"
QUESTIONS = Path(__file__).resolve().parent / "data" / "news.jsonl"
KINDS = [
    "position",
    "summary",
    "timeline",
    "latest",
    "comparison",
    "conflict",
    "factoid",
    "follow_up",
    "relative_date",
    "unanswerable",
]
SPLITS = ["tune", "test"]
UNANSWERABLE = "unanswerable"
# Per-row values averaged into every block; None (not applicable) is skipped.
SCORES = ["correct", "passed", "refused", "cites_gold", "citation_precision", "gold_in_sources"]
# The numbers of every block, in the summary overall and per split; the report's table columns.
HEADLINE = [
    "correct",
    "pass_rate",
    "unanswerable_refused",
    "false_refusal",
    "cites_gold",
    "citation_precision",
    "gold_in_sources",
    "first_token_p50_s",
    "first_token_p95_s",
]
COLUMNS = [
    "correct",
    "unanswerable_refused",
    "false_refusal",
    "cites_gold",
    "citation_precision",
    "gold_in_sources",
]


def load_cases(path: Path = QUESTIONS) -> list[dict]:
    return read_jsonl(path, ("id", "kind", "question"), "a news case")


def select(cases: list[dict], split: str | None = None, limit: int = 0) -> list[dict]:
    """The cases of `split` (all when None); with `limit`, that many taken round-robin over the kinds in
    file order, so a short run still asks every kind."""
    if split is not None and split not in SPLITS:
        raise ConfigError(f"--split {split!r}: expected one of {', '.join(SPLITS)}")
    chosen = [c for c in cases if split is None or c.get("split") == split]
    if limit <= 0 or limit >= len(chosen):
        return chosen
    by_kind: dict[str, list[dict]] = {}
    for case in chosen:
        by_kind.setdefault(case["kind"], []).append(case)
    interleaved = [c for group in zip_longest(*by_kind.values()) for c in group if c is not None]
    picked = {id(c) for c in interleaved[:limit]}
    return [c for c in chosen if id(c) in picked]


def contains_all(text: str, groups: list[list[str]]) -> bool:
    """Every group has at least one of its alternatives in `text` (case-insensitive substring)."""
    lowered = (text or "").lower()
    return all(any(alt.lower() in lowered for alt in group) for group in groups)


def ref(url: str, title: str = "") -> str:
    """How a case names an article: its canonical URL, or `title:<headline>` for one without a URL (a plain
    text file); a reference already made is returned as it is."""
    if url.startswith("title:"):
        return url
    return canonical_url(url) if url else f"title:{title}"


def judge(case: dict, answered: bool, text: str, cited_urls: list[str], source_urls: list[str]) -> dict:
    """Scores of one answer. `correct`, `cites_gold`, `citation_precision` and `gold_in_sources` apply to
    answerable cases only (None otherwise); `passed` is `correct` there and `refused` for unanswerable ones.
    URLs are compared canonically; `title:` references (see `ref`) match a case's `gold_titles`."""
    refused = not answered
    if not case.get("answerable", case["kind"] != UNANSWERABLE):
        return {
            "passed": refused,
            "correct": None,
            "refused": refused,
            "cites_gold": None,
            "citation_precision": None,
            "gold_in_sources": None,
        }
    gold = {ref(u) for u in case.get("gold_urls", []) if u} | {
        ref("", t) for t in case.get("gold_titles", [])
    }
    cited = [ref(u) for u in cited_urls]
    correct = answered and contains_all(text, case.get("must_contain", []))
    return {
        "passed": correct,
        "correct": correct,
        "refused": refused,
        "cites_gold": any(u in gold for u in cited),
        "citation_precision": m.precision([u in gold for u in cited]),
        "gold_in_sources": any(ref(u) in gold for u in source_urls),
    }


def block(rows: list[dict]) -> dict:
    """The headline numbers of a group of rows: correctness and citations over its answerable rows,
    refusals split by answerability, first-token latency over all."""
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    scored = m.aggregate([r["scores"] for r in rows], SCORES)
    first = [r["timings"]["first_token_s"] for r in rows if r["timings"].get("first_token_s") is not None]
    return {
        "correct": scored["correct"],
        "pass_rate": scored["passed"],
        "unanswerable_refused": m.precision([r["scores"]["refused"] for r in unanswerable]),
        "false_refusal": m.precision([r["scores"]["refused"] for r in answerable]),
        "cites_gold": scored["cites_gold"],
        "citation_precision": scored["citation_precision"],
        "gold_in_sources": scored["gold_in_sources"],
        "first_token_p50_s": m.percentile(first, 50) if first else None,
        "first_token_p95_s": m.percentile(first, 95) if first else None,
        "n": len(rows),
        "n_answerable": len(answerable),
    }


def _grouped(rows: list[dict], key: str, order: list[str]) -> dict:
    out = {"overall": block(rows)}
    for name in order:
        part = [r for r in rows if r[key] == name]
        if part:
            out[name] = block(part)
    return out


def summarise(rows: list[dict], config: dict) -> dict:
    """metrics.json: `summary` holds the overall headline numbers, `correct:<kind>`, and each headline
    number per split as `<name>@<split>`; detail blocks by kind, by split (then kind) and by corpus."""
    by_kind = _grouped(rows, "kind", KINDS)
    by_split = {s: _grouped([r for r in rows if r["split"] == s], "kind", KINDS) for s in SPLITS}
    by_split = {s: b for s, b in by_split.items() if b["overall"]["n"]}
    by_corpus = _grouped(rows, "corpus", ["multihop", "demo"])
    overall = by_kind["overall"]
    summary: dict = {k: overall[k] for k in HEADLINE}
    summary.update({"n": overall["n"], "n_answerable": overall["n_answerable"]})
    summary.update(
        {f"correct:{k}": b["correct"] for k, b in by_kind.items() if k not in ("overall", UNANSWERABLE)}
    )
    for split, blocks in by_split.items():
        summary.update({f"{k}@{split}": blocks["overall"][k] for k in HEADLINE})
    read = [(r["kind"], r["kind_read"]) for r in rows if r["kind_read"] is not None]
    kinds_read = {
        "n": len(read),
        "agreement": m.precision([a == b for a, b in read]),
        "pairs": {f"{a}->{b}": n for (a, b), n in sorted(Counter(read).items())},
    }
    return {
        "suite": "news",
        "config": config,
        "summary": summary,
        "by_kind": by_kind,
        "by_split": by_split,
        "by_corpus": by_corpus,
        "kinds_read": kinds_read,
    }


def _ask(assistant, case: dict):
    """`Assistant.ask` with the case's history and date; without the date where `ask` takes none."""
    kwargs = {"history": case.get("history") or None}
    if "as_of" in inspect.signature(assistant.ask).parameters:
        kwargs["as_of"] = case.get("as_of")
    return assistant.ask(case["question"], **kwargs)


def _prompt_tokens(llm, answer) -> int | None:
    """Tokens of the answer prompt, where the backend can count them (the local model); None for an answer the
    code built without asking the LLM."""
    from rag.answer.compose import messages
    from rag.query.read import BUILT

    if not answer.answered or not hasattr(llm, "count_prompt_tokens") or answer.kind in BUILT:
        return None

    return llm.count_prompt_tokens(messages(answer.query, answer.sources))


def answer_row(case: dict, answer, prompt_tokens: int | None = None) -> dict:
    cited = [ref(c.url, c.title) for c in answer.citations]
    sources = [ref(s.url, s.title) for s in answer.sources]
    return {
        "id": case["id"],
        "kind": case["kind"],
        "split": case.get("split"),
        "corpus": case.get("corpus"),
        "answerable": case.get("answerable", case["kind"] != UNANSWERABLE),
        "question": case["question"],
        "history": case.get("history", []),
        "as_of": case.get("as_of"),
        "gold": {"urls": case.get("gold_urls", []), "must_contain": case.get("must_contain", [])},
        "query": answer.query,
        "kind_read": getattr(answer, "kind", None),
        "answered": answer.answered,
        "answer": answer.text,
        "refusal_wording": answer.answered and m.is_refusal(answer.text),
        "citations": [c.to_dict() for c in answer.citations],
        "sources": sources,
        "scores": judge(case, answer.answered, answer.text, cited, sources),
        "prompt_tokens": prompt_tokens,
        "timings": {k: round(v, 4) for k, v in answer.timings.items()},
    }


def run(
    settings: Settings,
    data_dir: Path | None = None,
    progress=None,
    limit: int = 0,
    split: str | None = None,
    questions: Path = QUESTIONS,
    corpus: Path | None = None,
    corpora: list[Path] | None = None,
    name: str = "news",
):
    """Returns (metrics, rows): metrics.json's content and one row per question. The index holds `corpus`
    (the MultiHop-RAG articles) and the demo corpus, or `corpora` where given (its index named `name`)."""
    corpus = Path(corpus or CORPUS)
    if not corpus.exists():
        raise ConfigError(
            f"{corpus} not found: the news suite needs the MultiHop-RAG corpus "
            "(../shared/data/multihop-rag/corpus.jsonl beside the project)"
        )
    cases = select(load_cases(questions), split, limit)
    paths = corpora or [corpus, DEMO]
    assistant, index_info = prepare(
        name, paths, settings, data_dir, ingest_callback(progress, f"indexing {name} corpora")
    )
    llm = assistant.llm
    rows = []
    for case in track(progress, cases, "news questions"):
        answer = _ask(assistant, case)
        rows.append(answer_row(case, answer, _prompt_tokens(llm, answer)))
    stats = assistant.stats()
    tokens = [r["prompt_tokens"] for r in rows if r["prompt_tokens"] is not None]
    config = {
        "corpus": [str(p) for p in paths],
        "questions": str(questions),
        "split": split or "all",
        "limit": limit,
        "articles": stats["articles"],
        "chunks": stats["chunks"],
        "index": index_info,
        "chunk_tokens": settings.chunk_tokens,
        "chunk_overlap": settings.chunk_overlap,
        "embedder": assistant.embedder.name,
        "llm": llm.name if llm else "extractive",
        "as_of_passed": "as_of" in inspect.signature(assistant.ask).parameters,
        "prompt_tokens_p50": m.percentile(tokens, 50) if tokens else None,
    }
    return summarise(rows, config), rows


def write_report(run_dir: Path, metrics: dict, rows: list[dict], title: str = "News questions") -> None:
    cfg, summary = metrics["config"], metrics["summary"]
    setup = (
        f"LLM: {cfg['llm']}. Embeddings: {cfg['embedder']}. Chunks: {cfg['chunk_tokens']} tokens, overlap "
        f"{cfg['chunk_overlap']}. Index: {cfg['articles']} articles, {cfg['chunks']} chunks "
        f"({'cached' if cfg['index']['cached'] else 'built in this run'}). Questions `{cfg['questions']}`: "
        f"{summary['n']} ({summary['n_answerable']} answerable), split {cfg['split']}"
        + (f", limit {cfg['limit']}" if cfg["limit"] else "")
        + f". Date passed to the assistant: {'yes' if cfg['as_of_passed'] else 'no (ask takes no as_of)'}."
    )
    definitions = (
        "`correct`: answered, and every `must_contain` group has one of its strings in the answer "
        "(answerable questions). `unanswerable_refused`: share of unanswerable questions not answered. "
        "`false_refusal`: share of answerable questions not answered. `cites_gold`: some citation is a gold "
        "article. `citation_precision`: share of an answer's citations that are gold articles (answers with "
        "citations). `gold_in_sources`: a gold article was among the sources the answer was written from."
    )
    chart = report.bar_chart(
        run_dir / "news_by_kind.png",
        metrics["by_kind"],
        ["correct", "cites_gold", "unanswerable_refused"],
        "News questions by kind",
    )
    sections = [
        setup,
        definitions,
        f"**Correct {report.fmt(summary['correct'], 3)}**, unanswerable refused "
        f"{report.fmt(summary['unanswerable_refused'], 3)}, false refusals {report.fmt(summary['false_refusal'], 3)}; "
        f"first token p50 {report.fmt(summary['first_token_p50_s'], 2)} s, "
        f"p95 {report.fmt(summary['first_token_p95_s'], 2)} s.",
        "## By kind\n"
        + report.grouped_table(metrics["by_kind"], COLUMNS, "kind")
        + f"\n\n![by kind]({chart})",
        "## By split\n"
        + report.table(
            ["split"] + COLUMNS + ["n"],
            [
                [s] + [b["overall"][c] for c in COLUMNS] + [b["overall"]["n"]]
                for s, b in metrics["by_split"].items()
            ],
        ),
        "## By corpus\n" + report.grouped_table(metrics["by_corpus"], COLUMNS, "corpus"),
        _kinds_read_section(metrics["kinds_read"]),
        "## Misses\n" + _misses(rows),
    ]
    report.write(run_dir, title, sections)


def _kinds_read_section(kinds: dict) -> str:
    if not kinds["n"]:
        return ""
    pairs = [[pair, n] for pair, n in kinds["pairs"].items()]
    return (
        f"## Kinds read by the assistant\nSame kind as the case: {report.fmt(kinds['agreement'], 3)} "
        f"({kinds['n']} answers).\n\n" + report.table(["case -> read", "n"], pairs)
    )


def _misses(rows: list[dict]) -> str:
    missed = [
        [r["id"], r["kind"], r["question"], (r["answer"] or "")[:140].replace("|", "/").replace("\n", " ")]
        for r in rows
        if not r["scores"]["passed"]
    ]
    return report.table(["id", "kind", "question", "answer"], missed) if missed else "none"
