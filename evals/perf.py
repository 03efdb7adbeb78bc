"""The perf suite: ingest throughput against the raw embedder, retrieval latency as the index grows,
answer latency with the configured LLM, peak memory.

Large indexes are synthetic: the demo corpus's chunks are copied under new ids with slightly perturbed
stored embeddings, written straight into a Chroma collection of a throw-away data dir, so no hour is
spent embedding. Every query still goes through `Assistant.retrieve` (BM25 + dense, as users run it).
"""

from __future__ import annotations

import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from evals import metrics as m
from evals import report, smoke
from evals.runs import ingest_callback, read_jsonl, track
from rag.answer.compose import messages
from rag.backends.store import change_log
from rag.backends.story_index import mark_banded
from rag.errors import ConfigError
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
    # the copies carry their originals' story bands: the store needs no banding pass on its first ingest
    mark_banded(change_log(assistant.settings))
    return assistant, time.perf_counter() - t0


def addition_files(base, work: Path) -> list[list[Path]]:
    """Two JSONL files of new articles for the update measurements: 1 article, then 100, each article two
    of the base chunks' texts under a new URL (so their chunks are embedded for real)."""
    from rag.text import chunk_body

    docs = [chunk_body(t) for t in base["documents"]]
    files = []
    for name, count, first in (("add-1", 1, 0), ("add-100", 100, 1)):
        path = work / f"{name}.jsonl"
        with path.open("w", encoding="utf-8") as fh:
            for i in range(first, first + count):
                body = docs[(2 * i) % len(docs)] + "\n\n" + docs[(2 * i + 1) % len(docs)]
                row = {
                    "title": f"Perf addition {i}",
                    "source": "Perf Wire",
                    "url": f"https://perf.example/{name}/{i}",
                    "published_at": "2023-12-31T12:00:00Z",
                    "body": body,
                }
                fh.write(json.dumps(row) + "\n")
        files.append([path])
    return files


def probe(settings: Settings, data_dir: Path, job: dict) -> dict:
    """Run evals.perf_probe in a fresh process on this data dir; its JSON result."""
    job = {"settings": _isolated(settings, data_dir).model_dump(mode="json") | {"llm": "extractive"}, **job}
    path = data_dir / "probe-job.json"
    path.write_text(json.dumps(job), encoding="utf-8")
    got = subprocess.run(
        [sys.executable, "-m", "evals.perf_probe", str(path)], capture_output=True, text=True, check=False
    )
    if got.returncode != 0:
        raise RuntimeError(f"perf probe on {data_dir} failed: {got.stderr.strip()[-2000:]}")
    return json.loads(got.stdout.strip().splitlines()[-1])


def measure_size(
    settings: Settings, base, size: int, work: Path, queries: list[str], seed: int, adds
) -> dict:
    """Build the synthetic index, then two fresh processes: one builds and saves the searchable index
    (the first start on a new store), the next starts from it, answers, retrieves, adds, checks recall."""
    folder = work / f"size-{size}"
    synthetic, build_s = build_synthetic(settings, base, size, folder, seed)
    chunks = synthetic.collection.count()
    del synthetic
    first = probe(settings, folder, {"queries": queries[:1], "build_only": True})
    warm = probe(
        settings, folder, {"queries": queries, "add": [[str(p) for p in f] for f in adds], "recall": True}
    )
    return {
        "chunks": chunks,
        "store_build_s": build_s,
        "first_start_s": first["cold_start_s"],
        "first_start_rss_mb": first["rss_mb"],
        **warm,
    }


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


def load_queries(path: Path | None, limit: int) -> list[str]:
    """Retrieval queries: the `question` (or `query`) of each JSONL row of `path`, else the smoke questions."""
    if path is None:
        return [c["question"] for c in smoke.load_cases(smoke.QUESTIONS)][:limit]
    rows = read_jsonl(path, (), "a query row")
    for i, row in enumerate(rows, start=1):
        if not isinstance(row, dict) or not (row.get("question") or row.get("query")):
            raise ConfigError(f"{path}: row {i} has neither `question` nor `query`")
    return [r.get("question") or r["query"] for r in rows][:limit]


def run(
    settings: Settings,
    sizes: list[int] = SIZES,
    questions: int = 3,
    seed: int = 0,
    corpus: list[Path] | None = None,
    data_dir: Path | None = None,
    progress=None,
    queries_file: Path | None = None,
    n_queries: int = 100,
):
    corpus = corpus or [smoke.DEMO]
    cases = smoke.load_cases(smoke.QUESTIONS)
    queries = load_queries(queries_file, n_queries)
    work_root = Path(data_dir or Path(settings.data_dir) / "evals")
    work_root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="perf-", dir=work_root) as tmp:
        work = Path(tmp)
        assistant, ingest = measure_ingest(settings, corpus, work, progress)
        base = assistant.collection.get(include=["documents", "metadatas", "embeddings"])
        adds = addition_files(base, work)
        latency: dict[str, dict] = {}
        for size in track(progress, sorted(sizes), "index sizes"):
            latency[str(size)] = measure_size(settings, base, size, work, queries, seed, adds)
            shutil.rmtree(work / f"size-{size}", ignore_errors=True)
        answerable = [c for c in cases if c["type"] != smoke.UNANSWERABLE and not c.get("history")][
            :questions
        ]
        answers, rows = measure_answers(assistant, answerable, progress) if answerable else ({}, [])
    summary = {
        "ingest_chunks_per_s": ingest["ingest_chunks_per_s"],
        "embed_chunks_per_s": ingest["embed_chunks_per_s"],
        "ingest_vs_embed": ingest["ratio"],
        "peak_rss_mb": peak_rss_mb(),
    }
    for size, block in latency.items():
        summary[f"retrieve_p50_ms@{size}"] = block["p50_s"] * 1000
        summary[f"retrieve_p95_ms@{size}"] = block["p95_s"] * 1000
        summary[f"cold_start_s@{size}"] = block["cold_start_s"]
        summary[f"rss_mb@{size}"] = block["rss_mb"]
        if "rss_anon_mb" in block:
            summary[f"rss_anon_mb@{size}"] = block["rss_anon_mb"]
        summary[f"hnsw_recall_at_10@{size}"] = block["hnsw_recall_at_10"]
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
        "queries_file": str(queries_file) if queries_file else None,
        "seed": seed,
        "noise": NOISE,
        "chunk_tokens": settings.chunk_tokens,
        "chunk_overlap": settings.chunk_overlap,
        "exact_dense_max": settings.exact_dense_max,
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
    xs = [lat[s]["chunks"] for s in sizes]
    charts = (
        [
            report.line_chart(
                run_dir / "latency_vs_size.png",
                xs,
                {
                    "p50": [lat[s]["p50_s"] * 1000 for s in sizes],
                    "p95": [lat[s]["p95_s"] * 1000 for s in sizes],
                },
                "Assistant.retrieve latency (restarted process)",
                "chunks in the index",
                "ms",
            ),
            report.line_chart(
                run_dir / "memory_vs_size.png",
                xs,
                {
                    "first start (builds the index)": [lat[s]["first_start_rss_mb"] for s in sizes],
                    "restart, serving": [lat[s]["rss_mb"] for s in sizes],
                },
                "peak RSS",
                "chunks in the index",
                "MB",
            ),
        ]
        if sizes
        else []
    )

    def additions(block: dict, i: int) -> str:
        adds = block.get("additions") or []
        if i >= len(adds):
            return "-"
        a = adds[i]
        return f"{a['ingest_s']:.2f} / {a['next_query_s'] * 1000:.0f}"

    sections = [
        f"Embeddings: {cfg['embedder']}; chunks of {cfg['chunk_tokens']} tokens (overlap {cfg['chunk_overlap']}); "
        f"{cfg['n_threads']} threads. LLM: {cfg['llm']}. Peak RSS of this process {metrics['summary']['peak_rss_mb']:.0f} MB.",
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
        "## Index size\nSynthetic indexes: the ingested chunks copied under new ids with perturbed stored "
        "embeddings, written straight into Chroma. Each size is then opened by two fresh processes: the first "
        "builds and saves the searchable index (a new store's first start), the second starts from it (a "
        f"restart) and answers, runs {cfg['retrieval_queries']} queries through `Assistant.retrieve` (top 10), "
        "ingests 1 then 100 new articles (embedded for real) and asks again after each. Dense search is exact "
        f"up to {cfg.get('exact_dense_max', '?')} chunks, Chroma's HNSW above; recall@10 is HNSW's top 10 "
        "against exact search over every vector.\n\n"
        + report.table(
            [
                "chunks",
                "store build (s)",
                "first start (s)",
                "restart to first answer (s)",
                "dense",
                "p50 (ms)",
                "p95 (ms)",
                "RSS first / restart (MB)",
                "restart RSS after queries: anon / mapped files (MB)",
                "add 1: ingest (s) / next query (ms)",
                "add 100: ingest (s) / next query (ms)",
                "HNSW recall@10",
            ],
            [
                [
                    b["chunks"],
                    b["store_build_s"],
                    b["first_start_s"],
                    b["cold_start_s"],
                    b.get("dense", "-"),
                    b["p50_s"] * 1000,
                    b["p95_s"] * 1000,
                    f"{b['first_start_rss_mb']:.0f} / {b['rss_mb']:.0f}",
                    f"{b['rss_anon_mb']:.0f} / {b['rss_file_mb']:.0f}" if "rss_anon_mb" in b else "-",
                    additions(b, 0),
                    additions(b, 1),
                    b.get("hnsw_recall_at_10"),
                ]
                for b in (lat[s] for s in sizes)
            ],
        )
        + "".join(f"\n\n![{c}]({c})" for c in charts),
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
