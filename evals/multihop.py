"""The MultiHop-RAG suite: the paper's retrieval metrics on the top 10, then answers on a stratified sample.

Tang & Yang, "MultiHop-RAG: Benchmarking Retrieval-Augmented Generation for Multi-Hop Queries",
COLM 2024 (arXiv:2401.15391); data under ODC-BY 1.0.
"""

from __future__ import annotations

import random
import time
from pathlib import Path

from evals import metrics as m
from evals import report
from evals.corpus import prepare
from evals.runs import ingest_callback, read_jsonl, track
from ingest.article import canonical_url
from rag.errors import ConfigError
from rag.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "multihop-rag"
K = 10
NULL = "null_query"
RETRIEVAL_KEYS = m.RETRIEVAL_KEYS
# Ours, beside the paper's: a chunk counts only when it also belongs to an evidence article (some gold
# facts are boilerplate sentences that other articles repeat word for word).
EVIDENCE_KEYS = [f"evidence_{k}" for k in RETRIEVAL_KEYS]
GENERATION_KEYS = ["paper_accuracy", "paper_accuracy_full_text", "normalized_match", "refused"]

# Paper, Table 5 (retrieval, null queries excluded): embedding, reranker, MRR@10, MAP@10, Hits@10, Hits@4.
PAPER_RETRIEVAL = [
    ("text-embedding-ada-002", "none", 0.4203, 0.3431, 0.6381, 0.5040),
    ("bge-large-en-v1.5", "none", 0.4298, 0.3423, 0.6718, 0.5221),
    ("bge-large-en-v1.5", "bge-reranker-large", 0.5630, 0.4759, 0.7183, 0.6364),
    ("voyage-02", "bge-reranker-large", 0.5860, 0.4795, 0.7467, 0.6625),
]
# Paper, Table 6 (accuracy with the top-6 reranked chunks).
PAPER_GENERATION = [
    ("GPT-4", 0.56),
    ("Claude-2.1", 0.52),
    ("Google-PaLM", 0.47),
    ("ChatGPT", 0.44),
    ("Mixtral-8x7B", 0.32),
    ("Llama-2-70B", 0.28),
]


def default_path(name: str) -> Path:
    path = DATA / name
    if not path.exists():
        raise ConfigError(f"{path} not found: pass --corpus and --queries (MultiHop-RAG JSONL files)")
    return path


def load_queries(path: Path) -> list[dict]:
    return read_jsonl(path, ("query", "question_type"), "a MultiHop-RAG query")


def stratified_sample(types: list[str], n: int | None, seed: int) -> list[int]:
    """Indices of `n` items, each type represented in proportion (largest remainder), in file order."""
    if n is None or n <= 0 or n >= len(types):
        return list(range(len(types)))
    groups: dict[str, list[int]] = {}
    for i, t in enumerate(types):
        groups.setdefault(t, []).append(i)
    quota = {t: n * len(ix) / len(types) for t, ix in groups.items()}
    alloc = {t: int(q) for t, q in quota.items()}
    for t in sorted(groups, key=lambda t: (alloc[t] - quota[t], t))[: n - sum(alloc.values())]:
        alloc[t] += 1
    rng = random.Random(seed)
    chosen: list[int] = []
    for t in sorted(groups):
        ix = list(groups[t])
        rng.shuffle(ix)
        chosen += ix[: alloc[t]]
    return sorted(chosen)


def retrieved_rows(hits) -> list[dict]:
    return [
        {
            "chunk_id": h.node.node_id,
            "doc_id": h.node.metadata.get("doc_id", ""),
            "url": h.node.metadata.get("url", ""),
            "score": round(float(h.score or 0.0), 6),
            "text": h.node.text,
        }
        for h in hits
    ]


def judge_citations(answer, facts: list[str], urls: set[str]) -> list[dict]:
    """Per citation: supported by a gold fact (paper rule), by an evidence url, and the project's flag.
    Without gold facts (null queries) both judgements fall back to the `verified` flag."""
    by_n = {s.n: s for s in answer.sources}
    out = []
    for c in answer.citations:
        src = by_n.get(c.n)
        fact = m.fact_supported(src.text if src else "", facts) if facts else c.verified
        url = canonical_url(c.url) in urls if facts else c.verified
        out.append({"n": c.n, "fact": fact, "url": url, "verified": c.verified})
    return out


def _retrieval(assistant, q: dict) -> tuple[list[dict], dict, float]:
    t0 = time.perf_counter()
    hits = assistant.retrieve(q["query"], k=K)
    elapsed = time.perf_counter() - t0
    retrieved = retrieved_rows(hits)
    facts = [e["fact"] for e in q.get("evidence_list", [])]
    urls = {canonical_url(e["url"]) for e in q.get("evidence_list", []) if e.get("url")}
    scores = m.retrieval_scores([r["text"] for r in retrieved], facts, K)
    strict = [r["text"] if canonical_url(r["url"]) in urls else "" for r in retrieved]
    scores.update({f"evidence_{k}": v for k, v in m.retrieval_scores(strict, facts, K).items()})
    return retrieved, scores, elapsed


def _generation(assistant, q: dict, as_of: str | None = None) -> tuple[dict, dict]:
    facts = [e["fact"] for e in q.get("evidence_list", [])]
    urls = {canonical_url(e["url"]) for e in q.get("evidence_list", []) if e.get("url")}
    answer = assistant.ask(q["query"], as_of=as_of)
    checks = judge_citations(answer, facts, urls)
    gold = q.get("answer", "")
    scores = {
        "paper_accuracy": m.paper_accuracy(m.short_answer(answer.text), gold),
        "paper_accuracy_full_text": m.paper_accuracy(answer.text, gold),
        "normalized_match": m.normalized_match(answer.text, gold),
        "refused": (not answer.answered) or m.is_refusal(answer.text),
        "citation_precision": m.precision([c["fact"] for c in checks]),
        "citation_precision_url": m.precision([c["url"] for c in checks]),
    }
    fields = {
        "answer": answer.text,
        "answered": answer.answered,
        "yes_margin": answer.yes_margin,
        "citations": [c.to_dict() for c in answer.citations],
        "citation_checks": checks,
    }
    return fields, {"scores": scores, "timings": dict(answer.timings)}


def _generation_metrics(rows: list[dict]) -> dict:
    done = [r for r in rows if r.get("answer") is not None]
    flat = [
        {"question_type": r["question_type"], **{k: r["scores"][k] for k in GENERATION_KEYS}} for r in done
    ]
    checks = [c for r in done for c in r["citation_checks"]]
    null = [r["scores"]["refused"] for r in done if r["question_type"] == NULL]
    answerable = [r["scores"]["refused"] for r in done if r["question_type"] != NULL]
    ttft = [r["timings"].get("first_token_s") for r in done if r["timings"].get("first_token_s") is not None]
    total = [r["timings"].get("total_s") for r in done if r["timings"].get("total_s") is not None]
    return {
        "by_type": m.aggregate(flat, GENERATION_KEYS, "question_type"),
        "refusal": {
            "null_refusal_rate": m.precision(null),
            "false_refusal_rate": m.precision(answerable),
            "n_null": len(null),
            "n_answerable": len(answerable),
        },
        "citations": {
            "count": len(checks),
            "precision": m.precision([c["fact"] for c in checks]),
            "precision_url": m.precision([c["url"] for c in checks]),
            "verified_share": m.precision([c["verified"] for c in checks]),
        },
        "timings": {
            "ttft_p50_s": m.percentile(ttft, 50),
            "ttft_p95_s": m.percentile(ttft, 95),
            "total_p50_s": m.percentile(total, 50),
            "total_p95_s": m.percentile(total, 95),
        },
    }


def run(
    settings: Settings,
    corpus: Path,
    queries_path: Path,
    *,
    retrieval_only: bool = False,
    limit: int | None = None,
    seed: int = 0,
    data_dir: Path | None = None,
    progress=None,
):
    """Returns (metrics, rows): metrics.json's content and the per-query rows."""
    queries = load_queries(queries_path)
    assistant, index_info = prepare(
        "multihop", [Path(corpus)], settings, data_dir, ingest_callback(progress, "indexing corpus")
    )
    rows = []
    for q in track(progress, queries, "retrieval"):
        retrieved, scores, elapsed = _retrieval(assistant, q)
        rows.append(
            {
                "question": q["query"],
                "question_type": q["question_type"],
                "gold": {
                    "answer": q.get("answer", ""),
                    "facts": [e["fact"] for e in q.get("evidence_list", [])],
                    "evidence_urls": [e.get("url", "") for e in q.get("evidence_list", [])],
                },
                "retrieved": retrieved,
                "answer": None,
                "answered": None,
                "citations": [],
                "scores": dict(scores),
                "timings": {"retrieve_s": round(elapsed, 5)},
            }
        )
    answerable = [r for r in rows if r["question_type"] != NULL]
    retrieval = m.aggregate(
        [{"question_type": r["question_type"], **r["scores"]} for r in answerable],
        RETRIEVAL_KEYS,
        "question_type",
    )
    latency = [r["timings"]["retrieve_s"] for r in rows]
    result = {
        "retrieval": retrieval,
        "retrieval_evidence": m.aggregate(
            [{"question_type": r["question_type"], **r["scores"]} for r in answerable],
            EVIDENCE_KEYS,
            "question_type",
        ),
        "retrieval_latency": {"p50_s": m.percentile(latency, 50), "p95_s": m.percentile(latency, 95)},
    }
    summary = {k: retrieval["overall"][k] for k in RETRIEVAL_KEYS}
    sample = [] if retrieval_only else stratified_sample([q["question_type"] for q in queries], limit, seed)
    # The questions were written when the corpus was news: they are asked as of its last day.
    as_of = (assistant.stats()["last_published"] or "")[:10] or None if sample else None
    for i in track(progress, sample, "answering"):
        fields, extra = _generation(assistant, queries[i], as_of)
        rows[i].update(fields)
        rows[i]["scores"].update(extra["scores"])
        rows[i]["timings"].update({k: round(v, 4) for k, v in extra["timings"].items()})
    if sample:
        gen = _generation_metrics(rows)
        polar = [
            (r["yes_margin"], m.normalize_answer(r["gold"]["answer"]) == "yes")
            for r in rows
            if r.get("yes_margin") is not None and m.normalize_answer(r["gold"]["answer"]) in ("yes", "no")
        ]
        gen["yes_no"] = m.yes_no_calibration(polar, assistant.yes_margin_threshold())
        result["generation"] = gen
        summary.update(
            {
                "paper_accuracy": gen["by_type"]["overall"]["paper_accuracy"],
                "normalized_match": gen["by_type"]["overall"]["normalized_match"],
                "null_refusal_rate": gen["refusal"]["null_refusal_rate"],
                "false_refusal_rate": gen["refusal"]["false_refusal_rate"],
                "citation_precision": gen["citations"]["precision"],
                "citation_precision_url": gen["citations"]["precision_url"],
                "citations_verified": gen["citations"]["verified_share"],
                "ttft_p50_s": gen["timings"]["ttft_p50_s"],
                "total_p50_s": gen["timings"]["total_p50_s"],
            }
        )
    stats = assistant.stats()
    config = {
        "corpus": str(corpus),
        "queries": str(queries_path),
        "n_queries": len(queries),
        "n_null": len(rows) - len(answerable),
        "generation_sample": len(sample),
        "seed": seed,
        "k": K,
        "articles": stats["articles"],
        "chunks": stats["chunks"],
        "index": index_info,
        "chunk_tokens": settings.chunk_tokens,
        "chunk_overlap": settings.chunk_overlap,
        "embedder": assistant.embedder.name,
        "bm25_weight": settings.bm25_weight,
        "llm": (assistant.llm.name if assistant.llm else "extractive") if sample else "not used",
    }
    return {"suite": "multihop", "config": config, "summary": summary, **result}, rows


def write_report(run_dir: Path, metrics: dict) -> None:
    cfg, ret = metrics["config"], metrics["retrieval"]
    ov = ret["overall"]
    ours = (
        f"**this run**: {cfg['embedder']} + BM25 hybrid (bm25_weight {cfg['bm25_weight']})",
        "none",
        ov["mrr@10"],
        ov["map@10"],
        ov["hits@10"],
        ov["hits@4"],
    )
    setup = (
        f"Corpus `{cfg['corpus']}`: {cfg['articles']} articles, {cfg['chunks']} chunks of "
        f"{cfg['chunk_tokens']} cl100k tokens (overlap {cfg['chunk_overlap']}), title/outlet/date header "
        f"counted in each chunk. Queries `{cfg['queries']}`: {cfg['n_queries']} ({cfg['n_null']} null, "
        f"excluded from retrieval). Embeddings: {cfg['embedder']}. LLM: {cfg['llm']}. Seed {cfg['seed']}. "
        f"Index {cfg['index']['cache_id']} ({'cached' if cfg['index']['cached'] else 'built in this run'})."
    )
    chart = report.bar_chart(
        run_dir / "retrieval_by_type.png", ret, RETRIEVAL_KEYS, "Retrieval by question type"
    )
    lat = metrics["retrieval_latency"]
    sections = [
        "## Setup\n" + setup,
        "## Retrieval (top 10, paper protocol)\nBeside the paper's Table 5 (its chunks: 256 tokens with metadata; "
        "all 2,556 queries, where this run has the queries above).\n\n"
        + report.table(
            ["embedding", "reranker", "MRR@10", "MAP@10", "Hits@10", "Hits@4"],
            [list(r) for r in PAPER_RETRIEVAL] + [list(ours)],
        ),
        "### Per question type\n"
        + report.grouped_table(ret, RETRIEVAL_KEYS)
        + f"\n\n![retrieval by type]({chart})"
        + "\n\nStricter (this project's, not the paper's): a chunk is relevant only when it also belongs to "
        "an evidence article; some gold facts are boilerplate that other articles repeat verbatim.\n\n"
        + report.grouped_table(metrics["retrieval_evidence"], EVIDENCE_KEYS)
        + f"\n\nRetrieval latency p50 {report.fmt(lat['p50_s'], 3)} s, p95 {report.fmt(lat['p95_s'], 3)} s.",
    ]
    if metrics.get("generation"):
        sections.append(_generation_section(run_dir, metrics))
    sections.append("Data: MultiHop-RAG (Tang & Yang, COLM 2024, arXiv:2401.15391), ODC-BY 1.0.")
    report.write(run_dir, "MultiHop-RAG evaluation", sections)


def _generation_section(run_dir: Path, metrics: dict) -> str:
    cfg, gen = metrics["config"], metrics["generation"]
    by_type, ref, cit, tim = gen["by_type"], gen["refusal"], gen["citations"], gen["timings"]
    paper = "; ".join(f"{name} {acc:.2f}" for name, acc in PAPER_GENERATION)
    chart = report.bar_chart(
        run_dir / "generation_by_type.png", by_type, GENERATION_KEYS, "Answers by question type"
    )

    def pair(a, b) -> str:
        return f"{report.fmt(a, 2)} / {report.fmt(b, 2)}"

    return (
        f"## Generation ({cfg['generation_sample']} questions, stratified by type, seed {cfg['seed']})\n"
        f"LLM: {cfg['llm']}. `paper_accuracy` is the paper's lenient word-overlap rule applied, as the paper "
        "did after extracting the answer span, to the answer's leading clause (`paper_accuracy_full_text`: to the "
        f"whole reply) (Table 6: {paper}; "
        "those used top-6 reranked chunks); `normalized_match` is this project's stricter match.\n\n"
        + report.grouped_table(by_type, GENERATION_KEYS)
        + f"\n\n![generation by type]({chart})\n\n"
        + report.table(
            ["measure", "value"],
            [
                ["null-query refusal rate", ref["null_refusal_rate"]],
                ["false refusal rate (answerable)", ref["false_refusal_rate"]],
                ["citations", cit["count"]],
                ["citation precision (gold fact in cited chunk)", cit["precision"]],
                ["citation precision (cited url is an evidence url)", cit["precision_url"]],
                ["citations verified by newsrag", cit["verified_share"]],
                ["time to first token p50 / p95 (s)", pair(tim["ttft_p50_s"], tim["ttft_p95_s"])],
                ["total answer time p50 / p95 (s)", pair(tim["total_p50_s"], tim["total_p95_s"])],
            ],
        )
        + _yes_no_section(gen.get("yes_no") or {"n": 0})
    )


def _yes_no_section(cal: dict) -> str:
    if not cal["n"]:
        return ""
    return (
        "\n\n### Yes/no verdicts\n"
        f"{cal['n']} yes/no questions were decided by the LLM's log P(yes) - log P(no) "
        f"(gold Yes share {cal['gold_yes_share']:.2f}).\n\n"
        + report.table(
            ["measure", "value"],
            [
                ["AUC of the margin", cal["auc"]],
                [f"accuracy at the threshold in use ({cal['threshold']:+.2f})", cal["accuracy"]],
                ["accuracy at 0 (the model's own preference)", cal["accuracy_at_0"]],
                [
                    f"best threshold on these questions ({cal['best_threshold']:+.2f}): accuracy",
                    cal["best_accuracy"],
                ],
            ],
        )
    )
