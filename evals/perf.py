"""The perf suite: ingest throughput against the raw embedder, retrieval latency as the index grows,
answer latency with the configured LLM, peak memory.

Large indexes are synthetic: the demo corpus's chunks are copied under new ids with slightly perturbed
stored embeddings, written straight into a Chroma collection of a throw-away data dir, so no hour is
spent embedding. Every query still goes through `Assistant.retrieve` (BM25 + dense, as users run it).
"""

from __future__ import annotations

import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from evals import metrics as m
from evals import report, smoke
from evals.multihop import retrieved_rows
from evals.runs import ingest_callback, track
from rag.answer.compose import messages
from rag.settings import Settings

SIZES = [1_000, 10_000, 100_000]
NOISE = 0.005  # per-dimension std of the perturbation added to copied embeddings (then re-normalised)
WRITE_BATCH = 4_000


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _isolated(settings: Settings, data_dir: Path) -> Settings:
    return settings.model_copy(update={"data_dir": data_dir, "chroma_url": None, "collection": "news"})


def measure_ingest(settings: Settings, corpus: list[Path], work: Path, progress=None) -> tuple[object, dict]:
    """Ingest into an empty index, then embed the same chunk texts directly; returns (assistant, numbers)."""
    from rag.assistant import Assistant

    assistant = Assistant(_isolated(settings, work / "ingest"))
    assistant.embedder.embed(["warm-up"])  # load the model outside both timings
    rep = assistant.ingest(corpus, progress=ingest_callback(progress, "ingest"))
    texts = assistant.collection.get(include=["documents"])["documents"]
    t0 = time.perf_counter()
    assistant.embedder.embed(texts)
    raw_s = time.perf_counter() - t0
    ingest_cps = rep.chunks_embedded / rep.seconds if rep.seconds else None
    raw_cps = len(texts) / raw_s if raw_s else None
    return assistant, {
        "articles": rep.new,
        "chunks": rep.chunks_embedded,
        "ingest_s": rep.seconds,
        "ingest_chunks_per_s": ingest_cps,
        "embed_s": raw_s,
        "embed_chunks_per_s": raw_cps,
        "ratio": ingest_cps / raw_cps if ingest_cps and raw_cps else None,
    }


def build_synthetic(settings: Settings, base, size: int, data_dir: Path, seed: int) -> tuple[object, float]:
    """An index of `size` chunks copied from `base` (a Chroma `get` with documents, metadatas, embeddings)."""
    from rag.assistant import Assistant

    t0 = time.perf_counter()
    assistant = Assistant(_isolated(settings, data_dir))
    rng = np.random.default_rng(seed)
    vectors = np.asarray(base["embeddings"], dtype=np.float32)
    n_base = len(base["ids"])
    for start in range(0, size, WRITE_BATCH):
        idx = np.arange(start, min(start + WRITE_BATCH, size))
        src = idx % n_base
        copy = idx // n_base
        emb = vectors[src] + rng.normal(0.0, NOISE, (len(idx), vectors.shape[1])).astype(np.float32)
        emb /= np.linalg.norm(emb, axis=1, keepdims=True)
        metas = []
        for s, c in zip(src, copy):
            meta = dict(base["metadatas"][s])
            meta["doc_id"] = f"{meta['doc_id']}~{c}"
            metas.append(meta)
        assistant.collection.add(
            ids=[f"{base['ids'][s]}~{c}" for s, c in zip(src, copy)],
            embeddings=emb.tolist(),
            documents=[base["documents"][s] for s in src],
            metadatas=metas,
        )
    return assistant, time.perf_counter() - t0


def measure_retrieval(assistant, questions: list[str]) -> tuple[dict, list[dict]]:
    t0 = time.perf_counter()
    assistant.retrieve(questions[0])  # loads chunks and builds BM25: reported apart
    first = time.perf_counter() - t0
    times, rows = [], []
    for q in questions:
        t0 = time.perf_counter()
        hits = assistant.retrieve(q)
        times.append(time.perf_counter() - t0)
        rows.append({"question": q, "retrieved": retrieved_rows(hits), "retrieve_s": round(times[-1], 5)})
    return {
        "first_query_s": first,
        "p50_s": m.percentile(times, 50),
        "p95_s": m.percentile(times, 95),
        "mean_s": sum(times) / len(times),
    }, rows


def measure_answers(assistant, cases: list[dict], progress=None) -> tuple[dict, list[dict]]:
    t0 = time.perf_counter()
    llm = assistant.llm  # load the model outside the per-question timings
    load_s = time.perf_counter() - t0
    rows = []
    for case in track(progress, cases, "answering"):
        answer, retrieved = smoke.ask_case(assistant, case)
        rows.append(
            {
                "id": case["id"],
                "question": case["question"],
                "question_type": "perf-answer",
                "gold": {
                    "expected_urls": case.get("expected_urls", []),
                    "answer_keywords": case.get("answer_keywords", []),
                },
                "retrieved": retrieved,
                "answer": answer.text,
                "answered": answer.answered,
                "citations": [c.to_dict() for c in answer.citations],
                "scores": smoke.judge(case, answer, retrieved),
                "timings": {k: round(v, 4) for k, v in answer.timings.items()},
            }
        )
        if hasattr(llm, "count_prompt_tokens") and answer.answered:
            rows[-1]["prompt_tokens"] = llm.count_prompt_tokens(messages(answer.query, answer.sources))
    answered = [r for r in rows if r["answered"]]  # a refusal before the LLM would time nothing
    ttft = [r["timings"]["first_token_s"] for r in answered]
    total = [r["timings"]["total_s"] for r in answered]
    prompts = [r["prompt_tokens"] for r in rows if "prompt_tokens" in r]
    numbers = {
        "llm": llm.name if llm else "extractive",
        "model_load_s": load_s,
        "questions": len(rows),
        "answered": len(answered),
        "ttft_p50_s": m.percentile(ttft, 50),
        "ttft_max_s": max(ttft, default=None),
        "total_p50_s": m.percentile(total, 50),
        "total_max_s": max(total, default=None),
        "prompt_tokens_p50": m.percentile(prompts, 50) if prompts else None,
    }
    if hasattr(llm, "throughput"):  # a local model: what the first token costs on this machine
        numbers.update(llm.throughput())
    return numbers, rows


def run(
    settings: Settings,
    sizes: list[int] = SIZES,
    questions: int = 3,
    seed: int = 0,
    corpus: list[Path] | None = None,
    data_dir: Path | None = None,
    progress=None,
):
    corpus = corpus or [smoke.DEMO]
    cases = smoke.load_cases(smoke.QUESTIONS)
    queries = [c["question"] for c in cases]
    work_root = Path(data_dir or Path(settings.data_dir) / "evals")
    work_root.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="perf-", dir=work_root) as tmp:
        work = Path(tmp)
        assistant, ingest = measure_ingest(settings, corpus, work, progress)
        base = assistant.collection.get(include=["documents", "metadatas", "embeddings"])
        latency: dict[str, dict] = {}
        for size in track(progress, sorted(sizes), "index sizes"):
            synthetic, build_s = build_synthetic(settings, base, size, work / f"size-{size}", seed)
            numbers, samples = measure_retrieval(synthetic, queries)
            latency[str(size)] = {"chunks": synthetic.collection.count(), "build_s": build_s, **numbers}
            rows += [
                {
                    "question_type": f"retrieval@{size}",
                    "gold": None,
                    "answer": None,
                    "citations": [],
                    "question": s["question"],
                    "retrieved": s["retrieved"],
                    "scores": {},
                    "timings": {"retrieve_s": s["retrieve_s"]},
                }
                for s in samples
            ]
        answerable = [c for c in cases if c["type"] != smoke.UNANSWERABLE and not c.get("history")][
            :questions
        ]
        answers, answer_rows = measure_answers(assistant, answerable, progress) if answerable else ({}, [])
        rows = answer_rows + rows
    summary = {
        "ingest_chunks_per_s": ingest["ingest_chunks_per_s"],
        "embed_chunks_per_s": ingest["embed_chunks_per_s"],
        "ingest_vs_embed": ingest["ratio"],
        "peak_rss_mb": peak_rss_mb(),
    }
    for size, block in latency.items():
        summary[f"retrieve_p50_ms@{size}"] = block["p50_s"] * 1000
        summary[f"retrieve_p95_ms@{size}"] = block["p95_s"] * 1000
    if answers:
        summary.update({"ttft_p50_s": answers["ttft_p50_s"], "total_p50_s": answers["total_p50_s"]})
        summary.update(
            {
                k: answers[k]
                for k in ("prompt_tokens_p50", "prompt_tokens_per_s", "decode_tokens_per_s")
                if answers.get(k) is not None
            }
        )
    config = {
        "corpus": [str(p) for p in corpus],
        "sizes": sorted(sizes),
        "retrieval_queries": len(queries),
        "seed": seed,
        "noise": NOISE,
        "chunk_tokens": settings.chunk_tokens,
        "chunk_overlap": settings.chunk_overlap,
        "embedder": assistant.embedder.name,
        "llm": answers.get("llm", settings.llm),
        "n_threads": settings.n_threads,
    }
    return {
        "suite": "perf",
        "config": config,
        "summary": summary,
        "ingest": ingest,
        "retrieval": latency,
        "answers": answers,
    }, rows


def answered_any(answers: dict) -> bool:
    return bool(answers.get("answered"))


def write_report(run_dir: Path, metrics: dict) -> None:
    cfg, ing, lat, ans = metrics["config"], metrics["ingest"], metrics["retrieval"], metrics["answers"]
    sizes = list(lat)
    chart = (
        report.line_chart(
            run_dir / "latency_vs_size.png",
            [lat[s]["chunks"] for s in sizes],
            {"p50": [lat[s]["p50_s"] * 1000 for s in sizes], "p95": [lat[s]["p95_s"] * 1000 for s in sizes]},
            "Assistant.retrieve latency",
            "chunks in the index",
            "ms",
        )
        if sizes
        else None
    )
    sections = [
        f"Embeddings: {cfg['embedder']}; chunks of {cfg['chunk_tokens']} tokens (overlap {cfg['chunk_overlap']}); "
        f"{cfg['n_threads']} threads. LLM: {cfg['llm']}. Peak RSS {metrics['summary']['peak_rss_mb']:.0f} MB.",
        "## Ingest\n"
        + report.table(
            ["measure", "value"],
            [
                ["articles / chunks", f"{ing['articles']} / {ing['chunks']}"],
                ["ingest (chunks/s)", ing["ingest_chunks_per_s"]],
                ["embedder alone (chunks/s)", ing["embed_chunks_per_s"]],
                ["ingest / embedder", ing["ratio"]],
            ],
        ),
        "## Retrieval latency\nSynthetic indexes: demo chunks copied with perturbed embeddings; "
        f"{cfg['retrieval_queries']} queries each through `Assistant.retrieve` (top 10).\n\n"
        + report.table(
            ["chunks", "build (s)", "first query (s)", "p50 (ms)", "p95 (ms)"],
            [
                [
                    lat[s]["chunks"],
                    lat[s]["build_s"],
                    lat[s]["first_query_s"],
                    lat[s]["p50_s"] * 1000,
                    lat[s]["p95_s"] * 1000,
                ]
                for s in sizes
            ],
        )
        + (f"\n\n![latency vs size]({chart})" if chart else ""),
    ]
    if ans:
        sections.append(
            "## Answers\n"
            + report.table(
                ["measure", "value"],
                [
                    ["LLM", ans["llm"]],
                    [
                        "questions / answered (timings are of these)",
                        f"{ans['questions']} / {ans['answered']}",
                    ],
                    ["model load (s)", ans["model_load_s"]],
                    [
                        "time to first token p50 / max (s)",
                        f"{ans['ttft_p50_s']:.3f} / {ans['ttft_max_s']:.3f}"
                        if answered_any(ans)
                        else "none answered",
                    ],
                    [
                        "total p50 / max (s)",
                        f"{ans['total_p50_s']:.3f} / {ans['total_max_s']:.3f}"
                        if answered_any(ans)
                        else "none answered",
                    ],
                ]
                + (
                    [["answer prompt, p50 (tokens)", ans["prompt_tokens_p50"]]]
                    if ans.get("prompt_tokens_p50")
                    else []
                )
                + (
                    [
                        [
                            f"prompt evaluation (tokens/s, {ans['prompt_tokens']} tokens)",
                            ans["prompt_tokens_per_s"],
                        ],
                        [f"decoding (tokens/s, {ans['new_tokens']} tokens)", ans["decode_tokens_per_s"]],
                    ]
                    if ans.get("prompt_tokens_per_s")
                    else []
                ),
            )
        )
    report.write(run_dir, "Performance", sections)
