"""One fresh process against a saved index, as a restarted server meets it: `python -m evals.perf_probe JOB`.

JOB is a JSON file: {"settings": {...}, "queries": [...], "add": [[files...], ...], "recall": bool,
"build_only": bool}. It prints one JSON object: cold start to the first answer (the extractive backend, so
no LLM load), retrieval p50/p95, the cost of each addition and the next question's latency after it, peak
RSS (and the RSS after the queries, anonymous and file-mapped), and, with "recall", the recall@10 of
Chroma's HNSW index against exact search. A process of its own makes the cold start and the RSS honest:
nothing is loaded or paged in beforehand.
"""

from __future__ import annotations

import json
import resource
import sys
import time

import numpy as np

from evals.metrics import percentile


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _resident_mb() -> dict:
    """The RSS now, split into anonymous memory and pages of memory-mapped files (the saved index, which the
    kernel can drop and read back), from /proc/self/smaps_rollup; empty where there is none."""
    fields = {"Anonymous:": "rss_anon_mb", "Rss:": "rss_now_mb"}
    try:
        with open("/proc/self/smaps_rollup") as f:
            found = {
                fields[p[0]]: int(p[1]) / 1024 for p in (line.split() for line in f) if p and p[0] in fields
            }
    except OSError:
        return {}
    if len(found) == 2:
        found["rss_file_mb"] = found["rss_now_mb"] - found["rss_anon_mb"]
    return found


def run(job: dict) -> dict:
    from rag.assistant import Assistant
    from rag.settings import Settings

    settings = Settings.model_validate(job["settings"])
    queries: list[str] = job["queries"]
    t0 = time.perf_counter()
    assistant = Assistant(settings)
    answer = assistant.ask(queries[0])
    out: dict = {"cold_start_s": time.perf_counter() - t0, "first_answered": answer.answered}
    if job.get("build_only"):
        out["rss_mb"] = _rss_mb()
        return out
    live = assistant.live_index()
    out["dense"] = "exact" if live.vectors.exact else "hnsw"
    times = []
    for q in queries:
        t = time.perf_counter()
        assistant.retrieve(q)
        times.append(time.perf_counter() - t)
    out.update({"p50_s": percentile(times, 50), "p95_s": percentile(times, 95), "queries": len(times)})
    out["rss_mb"] = _rss_mb()  # before the recall check pages the whole matrix in
    out.update(_resident_mb())
    out["additions"] = []
    for files in job.get("add", []):
        t = time.perf_counter()
        report = assistant.ingest(files)
        ingest_s = time.perf_counter() - t
        t = time.perf_counter()
        assistant.retrieve(queries[len(out["additions"]) % len(queries)])
        out["additions"].append(
            {
                "articles": report.new + report.updated,
                "chunks": report.chunks_embedded,
                "ingest_s": ingest_s,
                "next_query_s": time.perf_counter() - t,
            }
        )
    out["rss_after_additions_mb"] = _rss_mb()
    if job.get("recall"):
        out["hnsw_recall_at_10"] = hnsw_recall(assistant, queries)
    return out


def hnsw_recall(assistant, queries: list[str], k: int = 10) -> float:
    """Mean share of the exact top-k (cosine over every stored vector) that Chroma's HNSW query returns."""
    live = assistant.live_index()
    matrix, ids = live._matrix, live.keyword.ids
    if matrix is None:
        return float("nan")
    alive = np.asarray(live.keyword.live, dtype=bool)
    found = []
    for vector in assistant.embedder.embed(queries):
        sims = np.where(alive, matrix.dot(vector), -np.inf)
        exact = {ids[r] for r in np.argpartition(-sims, k - 1)[:k]}
        got = assistant.collection.query(
            query_embeddings=[vector.astype(np.float32)], n_results=k, include=[]
        )
        found.append(len(exact & set(got["ids"][0])) / k)
    return float(np.mean(found))


def main() -> None:
    with open(sys.argv[1], encoding="utf-8") as fh:
        job = json.load(fh)
    print(json.dumps(run(job)))


if __name__ == "__main__":
    main()
