"""`newsrag eval`: the multihop suite end to end on a tiny hand-made corpus, run folders, compare, --fail-under."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rag.cli import build_app

# Four one-chunk articles; each FACT is a verbatim sentence of its article.
FACT_A = "Orion Foods opened a 40 million euro bottling plant in Tarvik on Monday."
FACT_B = "Lumen Air ordered twelve turboprop aircraft from Delcor for its regional routes."
FACT_C = "Runner Ilse Varga won the Tarvik marathon in a course record of 2 hours 21 minutes."
FACT_D = "The Selby harbour bridge will close for repairs for six weeks from 3 June."
ARTICLES = [
    (
        "Orion Foods opens bottling plant in Tarvik",
        "Tarvik Post",
        "https://tarvik-post.example/orion-plant",
        f"{FACT_A} The plant will employ 180 people. Orion Foods said exports would start in the autumn.",
    ),
    (
        "Lumen Air orders turboprops",
        "Air Ledger",
        "https://air-ledger.example/lumen-order",
        f"{FACT_B} The first aircraft are due next spring. The airline did not disclose the price.",
    ),
    (
        "Varga sets Tarvik marathon record",
        "Runner Weekly",
        "https://runner-weekly.example/varga-record",
        f"{FACT_C} More than 6,000 runners finished the race. Varga said the cool weather helped.",
    ),
    (
        "Selby harbour bridge to close for repairs",
        "Selby Herald",
        "https://selby-herald.example/bridge",
        f"{FACT_D} Drivers will be diverted over the ring road. Ferries will run every twenty minutes.",
    ),
]


def _evidence(i: int, fact: str) -> dict:
    title, source, url, _ = ARTICLES[i]
    return {"title": title, "source": source, "url": url, "fact": fact}


# Query 1: a gold fact in every article, so whatever the order of the 4 retrieved chunks, MAP@10 is
# (1/1 + 1/2 + 1/3 + 1/4) / 4 = 25/48. Query 2: one fact found (its article ranks first), one fact in no
# article: MAP = (1/1) / 2, coverage 1/2. Query 3: no fact matches anything. Query 4 is null (excluded).
QUERIES = [
    {
        "query": "Did Orion Foods, Lumen Air, Ilse Varga and the Selby harbour bridge all make the news?",
        "answer": "Yes",
        "question_type": "comparison_query",
        "evidence_list": [
            _evidence(0, FACT_A),
            _evidence(1, FACT_B),
            _evidence(2, FACT_C),
            _evidence(3, FACT_D),
        ],
    },
    {
        "query": "Who won the Tarvik marathon in a course record time?",
        "answer": "Ilse Varga",
        "question_type": "inference_query",
        "evidence_list": [
            _evidence(2, FACT_C),
            _evidence(2, "Varga trained in the Kaeren mountains for months."),
        ],
    },
    {
        "query": "Was the Selby  bridge’s closure announced before Lumen Air’s order? ",
        "answer": "No",
        "question_type": "temporal_query",
        "evidence_list": [
            _evidence(3, "The bridge closed for eight weeks."),
            _evidence(1, "Lumen Air cancelled."),
        ],
    },
    {
        "query": "What did the mayor of Quentaro say about the Zephyr stadium?",
        "answer": "Insufficient information.",
        "question_type": "null_query",
        "evidence_list": [],
    },
]
MAP_1 = 25 / 48
ROW_FIELDS = {"question", "question_type", "gold", "retrieved", "answer", "citations", "scores", "timings"}

runner = CliRunner()
app = build_app()


def invoke(*args: str):
    return runner.invoke(app, ["eval", *args])


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Two runs over the tiny corpus: with answers (extractive), then retrieval-only on the cached index."""
    root = tmp_path_factory.mktemp("tiny")
    corpus = write_jsonl(
        root / "corpus.jsonl",
        [
            {
                "title": t,
                "author": None,
                "source": s,
                "published_at": f"2024-05-0{i + 1}T09:00:00+00:00",
                "category": "news",
                "url": u,
                "body": b,
            }
            for i, (t, s, u, b) in enumerate(ARTICLES)
        ],
    )
    queries = write_jsonl(root / "dev.jsonl", QUERIES)
    common = ["--corpus", str(corpus), "--queries", str(queries), "--data-dir", str(root / "index"), "-q"]
    full = invoke("multihop", *common, "--llm", "extractive", "--out", str(root / "full"))
    again = invoke(
        "multihop",
        *common,
        "--retrieval-only",
        "--out",
        str(root / "again"),
        "--fail-under",
        "hits@10=0.5",
        "--fail-under",
        "map@10=0.99",
    )
    return {"root": root, "full": full, "again": again}


def metrics_of(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text())


def rows_of(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "per_query.jsonl").read_text().splitlines()]


def test_multihop_retrieval_metrics_are_the_hand_computed_ones(tiny):
    assert tiny["full"].exit_code == 0, tiny["full"].output
    m = metrics_of(tiny["root"] / "full")
    overall = m["retrieval"]["overall"]
    assert overall["n"] == 3  # the null query is excluded
    assert overall["hits@4"] == pytest.approx(2 / 3)
    assert overall["hits@10"] == pytest.approx(2 / 3)
    assert overall["mrr@10"] == pytest.approx(2 / 3)
    assert overall["map@10"] == pytest.approx((MAP_1 + 0.5 + 0.0) / 3)
    assert overall["fact_coverage@10"] == pytest.approx((1.0 + 0.5 + 0.0) / 3)
    assert m["retrieval"]["comparison_query"]["map@10"] == pytest.approx(MAP_1)
    assert m["retrieval"]["inference_query"] == pytest.approx(
        {"hits@4": 1.0, "hits@10": 1.0, "mrr@10": 1.0, "map@10": 0.5, "fact_coverage@10": 0.5, "n": 1}
    )
    assert m["retrieval"]["temporal_query"]["mrr@10"] == 0.0
    assert "null_query" not in m["retrieval"]
    assert m["summary"]["map@10"] == pytest.approx((MAP_1 + 0.5) / 3)
    # Each fact is in its own article only, so the evidence-article rule changes nothing here.
    assert m["retrieval_evidence"]["overall"] == pytest.approx(
        {f"evidence_{k}": v for k, v in overall.items() if k != "n"} | {"n": 3}
    )
    assert m["config"]["articles"] == 4 and m["config"]["chunks"] == 4
    assert m["config"]["chunk_tokens"] == 256 and m["config"]["llm"] == "extractive"


def test_multihop_generation_metrics(tiny):
    m = metrics_of(tiny["root"] / "full")
    gen = m["generation"]
    rows = {r["question_type"]: r for r in rows_of(tiny["root"] / "full")}
    # The null query names things no article mentions: refused, and that is the only refusal.
    assert rows["null_query"]["answered"] is False and rows["null_query"]["citations"] == []
    assert gen["refusal"] == {
        "null_refusal_rate": 1.0,
        "false_refusal_rate": 0.0,
        "n_null": 1,
        "n_answerable": 3,
    }
    # The marathon answer quotes the winning sentence first and cites its article: right by both rules.
    marathon = rows["inference_query"]
    assert marathon["answer"].startswith("Runner Ilse Varga won the Tarvik marathon")
    assert marathon["scores"]["paper_accuracy"] is True and marathon["scores"]["normalized_match"] is True
    assert marathon["citations"][0]["url"] == "https://runner-weekly.example/varga-record"
    assert marathon["citation_checks"][0] == {"n": 1, "fact": True, "url": True, "verified": True}
    assert gen["by_type"]["inference_query"]["paper_accuracy"] == 1.0
    # Each citation, whatever the answer cites: right by the fact rule iff its article holds one of the
    # query's gold facts; by the url rule iff its url is an evidence url.
    body = {url: text for _, _, url, text in ARTICLES}
    expected = []
    for query in QUERIES[:3]:
        row = rows[query["question_type"]]
        facts = [e["fact"] for e in query["evidence_list"]]
        urls = {e["url"] for e in query["evidence_list"]}
        want = [
            {
                "n": c["n"],
                "fact": any(f in body[c["url"]] for f in facts),
                "url": c["url"] in urls,
                "verified": c["verified"],
            }
            for c in row["citations"]
        ]
        assert row["citation_checks"] == want
        expected += want
    assert gen["citations"]["count"] == len(expected) > 0
    assert gen["citations"]["precision"] == pytest.approx(sum(c["fact"] for c in expected) / len(expected))
    assert gen["citations"]["precision_url"] == pytest.approx(sum(c["url"] for c in expected) / len(expected))
    assert gen["citations"]["verified_share"] == pytest.approx(
        sum(c["verified"] for c in expected) / len(expected)
    )
    assert m["summary"]["null_refusal_rate"] == 1.0
    assert gen["timings"]["total_p50_s"] > 0


def test_per_query_rows(tiny):
    rows = rows_of(tiny["root"] / "full")
    assert [r["question"] for r in rows] == [q["query"] for q in QUERIES]  # exactly as in the file
    for row in rows:
        assert ROW_FIELDS <= set(row)
        assert [set(h) >= {"chunk_id", "doc_id", "text"} for h in row["retrieved"]] == [True] * 4
        assert row["timings"]["retrieve_s"] >= 0
    first = rows[0]
    assert first["gold"]["answer"] == "Yes" and first["gold"]["facts"][0] == FACT_A
    # The scored text is the chunk with its header: title first, then outlet | date.
    texts = {h["text"].split("\n")[0]: h["text"] for h in first["retrieved"]}
    assert texts["Varga sets Tarvik marathon record"].startswith(
        "Varga sets Tarvik marathon record\nRunner Weekly | 2024-05-03\n\n"
    )
    marathon = rows[1]
    assert marathon["retrieved"][0]["url"] == "https://runner-weekly.example/varga-record"
    assert marathon["scores"]["map@10"] == 0.5
    assert rows[3]["scores"]["map@10"] is None  # null query
    # Citations are the objects `ask --json` prints.
    assert set(marathon["citations"][0]) == {
        "n",
        "doc_id",
        "chunk_id",
        "title",
        "source",
        "published_at",
        "url",
        "quote",
        "verified",
        "support",
        "author",
        "also",
    }


def test_report_and_charts(tiny):
    run = tiny["root"] / "full"
    text = (run / "report.md").read_text()
    assert "| voyage-02 | bge-reranker-large | 0.5860 | 0.4795 | 0.7467 | 0.6625 |" in text
    assert "256 cl100k tokens (overlap 16)" in text and "local:all-MiniLM-L6-v2-int8" in text
    assert (run / "retrieval_by_type.png").read_bytes()[:4] == b"\x89PNG"
    assert (run / "generation_by_type.png").exists()


def test_second_run_reuses_the_index_and_fail_under_exits_1(tiny):
    again = tiny["again"]
    assert again.exit_code == 1
    assert "FAIL map@10 = 0.3403 is below 0.99" in again.output
    assert "hits@10" not in again.output.split("run folder:")[1]  # hits@10=0.5 passed
    m = metrics_of(tiny["root"] / "again")  # the run folder is written even when a threshold fails
    assert m["config"]["index"]["cached"] is True and m["config"]["index"]["ingest_s"] == 0
    assert m["config"]["index"] == {
        **metrics_of(tiny["root"] / "full")["config"]["index"],
        "cached": True,
        "ingest_s": 0,
    }
    assert "generation" not in m and all(r["answer"] is None for r in rows_of(tiny["root"] / "again"))


def test_an_index_dir_built_with_other_settings_is_refused(tiny):
    root = tiny["root"]
    result = runner.invoke(
        app,
        [
            "eval",
            "multihop",
            "--corpus",
            str(root / "corpus.jsonl"),
            "--queries",
            str(root / "dev.jsonl"),
            "--data-dir",
            str(root / "index"),
            "--retrieval-only",
            "-q",
        ],
        env={"NEWSRAG_CHUNK_TOKENS": "128"},
    )
    assert result.exit_code == 2
    assert f"error: {root / 'index'} holds an eval index built with another chunk_tokens" in result.output


def test_compare_prints_a_diff_table(tiny):
    full, again = tiny["root"] / "full", tiny["root"] / "again"
    result = invoke("compare", str(full), str(again))
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["metric", "full", "again", "delta"]
    squeezed = [" ".join(line.split()) for line in lines]
    assert "hits@10 0.6667 0.6667 +0.0000" in squeezed
    assert "map@10 0.3403 0.3403 +0.0000" in squeezed
    assert "null_refusal_rate 1.0000 - -" in squeezed  # answers only in the first run


@pytest.mark.parametrize(
    ("spec", "code", "message"),
    [
        ("hits@10=0.6", 0, None),
        ("retrieval.inference_query.map@10=0.5", 0, None),
        ("mrr@10=0.7", 1, "FAIL mrr@10 = 0.6667 is below 0.7"),
        (
            "nonsense@3=0.1",
            2,
            "error: --fail-under: unknown metric 'nonsense@3' for suite 'multihop'; summary metrics: "
            "hits@4, hits@10",
        ),
        ("hits@10", 2, "error: --fail-under 'hits@10': expected METRIC=NUMBER"),
    ],
)
def test_fail_under_exit_codes(tiny, spec, code, message):
    result = invoke("compare", str(tiny["root"] / "full"), str(tiny["root"] / "again"), "--fail-under", spec)
    assert result.exit_code == code, result.output
    if message:
        assert message in result.output


def test_missing_default_data_is_one_clear_line(tmp_path, monkeypatch):
    import evals.multihop

    monkeypatch.setattr(evals.multihop, "DATA", tmp_path / "nowhere")
    result = invoke("multihop", "-q")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"error: {tmp_path / 'nowhere' / 'corpus.jsonl'} not found: pass --corpus and --queries "
        "(MultiHop-RAG JSONL files)"
    ]


def test_compare_of_a_folder_without_metrics(tmp_path):
    result = invoke("compare", str(tmp_path), str(tmp_path))
    assert result.exit_code == 1 and "is not a run folder" in result.output


def test_stratified_sample_is_seeded_and_proportional():
    from evals.multihop import stratified_sample

    types = ["a"] * 50 + ["b"] * 30 + ["c"] * 20
    picked = stratified_sample(types, 10, seed=7)
    assert picked == stratified_sample(types, 10, seed=7) == sorted(picked)
    assert [sum(types[i] == t for i in picked) for t in "abc"] == [5, 3, 2]
    assert picked != stratified_sample(types, 10, seed=8)
    assert stratified_sample(types, 0, seed=7) == list(range(100))
    assert len(stratified_sample(["a"] * 2 + ["b"] * 2 + ["c"] * 3, 4, seed=0)) == 4


# -- pass rules of the smoke and robustness suites ------------------------------------------------


def _answer(text: str, cited: list[tuple[str, bool]] = (), sources: list[str] = (), answered: bool = True):
    from rag.answer.citations import Citation, Source
    from rag.answer.result import Answer

    srcs = [
        Source(
            n=i,
            chunk_id=f"c{i}",
            doc_id=f"d{i}",
            title="t",
            source="s",
            published_at="",
            url=url,
            evidence="",
            text="",
            score=0.0,
        )
        for i, url in enumerate(list(sources) or [u for u, _ in cited], 1)
    ]
    by_url = {s.url: s.n for s in srcs}
    cits = [
        Citation(
            n=by_url[u],
            doc_id="",
            chunk_id="",
            title="",
            source="",
            published_at="",
            url=u,
            quote="",
            verified=ok,
            support=1.0,
        )
        for u, ok in cited
    ]
    return Answer(question="q", query="q", text=text, citations=cits, sources=srcs, answered=answered)


SMOKE_CASE = {
    "id": "x",
    "type": "factual",
    "question": "q",
    "expected_urls": ["https://a.example/story/"],
    "answer_keywords": ["4.10"],
}


@pytest.mark.parametrize(
    ("answer", "retrieved", "passed"),
    [
        (
            _answer("Cut to 4.10% [1].", [("https://a.example/story", True)]),
            [],
            True,
        ),  # url compared canonically
        (
            _answer("Cut to 4.10% [1].", [("https://b.example/other", True)]),
            ["https://a.example/story"],
            False,
        ),
        (
            _answer("Cut to 4.10%."),
            ["https://b.example/x", "https://a.example/story"],
            True,
        ),  # no citation: retrieved
        (_answer("Cut to 4.25% [1].", [("https://a.example/story", True)]), [], False),  # no keyword
        (_answer("The sources do not say.", answered=False), ["https://a.example/story"], False),
    ],
)
def test_smoke_pass_rule(answer, retrieved, passed):
    from evals.smoke import judge

    assert judge(SMOKE_CASE, answer, [{"url": u} for u in retrieved])["passed"] is passed


def test_smoke_unanswerable_passes_only_on_refusal():
    from evals.smoke import judge

    case = {**SMOKE_CASE, "type": "unanswerable"}
    assert judge(case, _answer("The sources do not say.", answered=False), [])["passed"] is True
    assert judge(case, _answer("I cannot determine that from the articles."), [])["passed"] is True
    assert (
        judge(case, _answer("Spain sent 300 soldiers [1].", [("https://a.example/story", True)]), [])[
            "passed"
        ]
        is False
    )


A, B = "https://a.example/1", "https://b.example/2"


@pytest.mark.parametrize(
    ("case", "answer", "retrieved", "passed"),
    [
        (
            {"type": "injection", "payload": "PWNED"},
            _answer("The line is 6.2 km long [1].", [(A, True)]),
            [],
            True,
        ),
        ({"type": "injection", "payload": "PWNED"}, _answer("pwned [1].", [(A, True)]), [], False),
        (
            {"type": "injection", "payload": "PWNED"},
            _answer("The line is 6.2 km long [1].", [(A, False)]),
            [],
            False,
        ),
        (
            {"type": "injection", "payload": "PWNED"},
            _answer("The line is 6.2 km long."),
            [],
            False,
        ),  # uncited claim
        (
            {"type": "injection", "payload": "PWNED"},
            _answer("The sources do not say.", answered=False),
            [],
            True,
        ),
        (
            {"type": "contradiction", "expected_urls": [A, B]},
            _answer("12,000 [1].", [(A, True)], [A, B]),
            [],
            True,
        ),
        (
            {"type": "contradiction", "expected_urls": [A, B]},
            _answer("12,000 [1].", [(A, True)], [A]),
            [],
            False,
        ),
        ({"type": "misspelled", "expected_urls": [B]}, _answer("x"), [A, A, B, A], True),
        ({"type": "misspelled", "expected_urls": [B]}, _answer("x"), [A, A, A, B], False),  # top 3 only
    ],
)
def test_robustness_pass_rules(case, answer, retrieved, passed):
    from evals.robustness import judge

    assert judge(case, answer, [{"url": u} for u in retrieved])["passed"] is passed


def test_robustness_cases_name_articles_that_exist():
    from evals.robustness import DATA

    urls = {json.loads(line)["url"] for line in (DATA / "articles.jsonl").read_text().splitlines()}
    demo = Path(__file__).resolve().parents[1] / "examples" / "news"
    demo_text = "".join(p.read_text() for p in demo.rglob("*") if p.is_file())
    cases = [json.loads(line) for line in (DATA / "cases.jsonl").read_text().splitlines()]
    assert {c["type"] for c in cases} == {"injection", "contradiction", "unanswerable", "misspelled"}
    for case in cases:
        for url in case.get("expected_urls", []):
            assert url in urls or url in demo_text, (case["id"], url)
    for case in cases:
        if case["type"] == "injection":
            article = next(
                json.loads(line)
                for line in (DATA / "articles.jsonl").read_text().splitlines()
                if json.loads(line)["url"] == case["expected_urls"][0]
            )
            assert case["payload"] in article["body"]


# -- perf ---------------------------------------------------------------------------------------


def test_synthetic_index_restarted_updated_and_recalled(demo, tmp_path):
    import numpy as np

    from evals.perf import addition_files, build_synthetic, measure_size

    base = demo.collection.get(include=["documents", "metadatas", "embeddings"])
    synthetic, _ = build_synthetic(demo.settings, base, 150, tmp_path / "big", seed=0)
    assert synthetic.collection.count() == 150
    got = synthetic.collection.get(include=["embeddings", "metadatas"])
    assert len(set(got["ids"])) == 150 and len({m["doc_id"] for m in got["metadatas"]}) > len(base["ids"])
    vectors = np.asarray(got["embeddings"])
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)

    adds = addition_files(base, tmp_path)
    assert [sum(1 for _ in open(f[0])) for f in adds] == [1, 100]
    queries = ["Reserve Bank of Australia cash rate", "Lukas Brandt transfer"]
    block = measure_size(demo.settings, base, 300, tmp_path / "work", queries, 0, adds)
    assert (block["chunks"], block["queries"], block["dense"], block["first_answered"]) == (
        300,
        2,
        "exact",
        True,
    )
    assert [a["articles"] for a in block["additions"]] == [1, 100]
    assert block["p95_s"] >= block["p50_s"] > 0 and block["rss_mb"] > 0
    assert block["rss_now_mb"] == pytest.approx(block["rss_anon_mb"] + block["rss_file_mb"])
    assert 0.0 <= block["hnsw_recall_at_10"] <= 1.0


def test_perf_report_table_and_plot(tmp_path):
    from evals.perf import write_report

    block = {
        "chunks": 1000,
        "store_build_s": 2.0,
        "first_start_s": 3.0,
        "first_start_rss_mb": 700.0,
        "cold_start_s": 1.5,
        "dense": "exact",
        "p50_s": 0.012,
        "p95_s": 0.02,
        "rss_mb": 500.0,
        "rss_anon_mb": 300.0,
        "rss_file_mb": 150.0,
        "additions": [{"ingest_s": 0.5, "next_query_s": 0.03}, {"ingest_s": 9.0, "next_query_s": 0.04}],
        "hnsw_recall_at_10": 0.97,
    }
    metrics = {
        "config": {
            "embedder": "e",
            "chunk_tokens": 256,
            "chunk_overlap": 16,
            "n_threads": 2,
            "llm": "extractive",
            "retrieval_queries": 24,
        },
        "summary": {"peak_rss_mb": 900.0},
        "ingest": {
            "articles": 20,
            "chunks": 22,
            "ingest_chunks_per_s": 30.0,
            "embed_chunks_per_s": 40.0,
            "ratio": 0.75,
        },
        "retrieval": {"1000": block, "10000": {**block, "chunks": 10000, "p50_s": 0.05}},
        "answers": {
            "llm": "local:m.gguf",
            "questions": 3,
            "answered": 2,
            "model_load_s": 1.5,
            "ttft_p50_s": 9.7,
            "ttft_max_s": 12.0,
            "total_p50_s": 12.1,
            "total_max_s": 15.0,
            "prompt_tokens_p50": 500,
            "prompt_tokens": 256,
            "prompt_tokens_per_s": 40.0,
            "new_tokens": 32,
            "decode_tokens_per_s": 8.8,
        },
    }
    write_report(tmp_path, metrics)
    text = (tmp_path / "report.md").read_text()
    assert "| time to first token p50 / max (s) | 9.700 / 12.000 |" in text
    assert "| questions / answered (timings are of these) | 3 / 2 |" in text
    assert "| answer prompt, p50 (tokens) | 500 |" in text
    assert "| prompt evaluation (tokens/s, 256 tokens) | 40.0000 |" in text
    assert (
        "| 10000 | 2.0000 | 3.0000 | 1.5000 | exact | 50.0000 | 20.0000 | 700 / 500 | 300 / 150 | 0.50 / 30 | 9.00 / 40 "
        "| 0.9700 |" in text
    )
    assert (tmp_path / "latency_vs_size.png").exists() and (tmp_path / "memory_vs_size.png").exists()
    assert "| decoding (tokens/s, 32 tokens) | 8.8000 |" in text
    assert "| ingest / embedder | 0.7500 |" in text
    assert (tmp_path / "latency_vs_size.png").read_bytes()[:4] == b"\x89PNG"


def test_evidence_rule_ignores_a_fact_repeated_by_another_article():
    from llama_index.core.schema import NodeWithScore, TextNode

    from evals.multihop import _retrieval

    class Retriever:
        def retrieve(self, query, k):
            chunks = [
                ("other", "https://x.example/copy", f"Copy\n\n{FACT_D}"),
                ("bridge", "https://selby-herald.example/bridge", f"Bridge\n\n{FACT_D}"),
            ]
            return [
                NodeWithScore(
                    node=TextNode(id_=cid, text=text, metadata={"doc_id": cid, "url": url}), score=1.0
                )
                for cid, url, text in chunks
            ]

    query = {"query": "bridge?", "evidence_list": [_evidence(3, FACT_D)]}
    retrieved, scores, _ = _retrieval(Retriever(), query)
    assert [r["chunk_id"] for r in retrieved] == ["other", "bridge"]
    assert scores["mrr@10"] == 1.0 and scores["evidence_mrr@10"] == 0.5
    assert scores["map@10"] == 1.0 and scores["evidence_map@10"] == 0.5


def test_yes_no_section_of_the_report():
    from evals.metrics import yes_no_calibration
    from evals.multihop import _yes_no_section

    cal = yes_no_calibration([(2.0, True), (1.0, False), (0.5, True), (-1.0, False)], 0.6)
    text = _yes_no_section(cal)
    assert (
        "4 yes/no questions were decided by the LLM's log P(yes) - log P(no) (gold Yes share 0.50)." in text
    )
    assert "| accuracy at the threshold in use (+0.60) | 0.5000 |" in text
    assert "| best threshold on these questions (-0.25): accuracy | 0.7500 |" in text
    assert _yes_no_section({"n": 0}) == ""
