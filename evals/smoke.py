"""The smoke suite: 24 hand-written questions over the demo corpus (examples/news), pass/fail each."""

from __future__ import annotations

import json
from pathlib import Path

from evals import metrics as m
from evals import report
from evals.corpus import prepare
from evals.multihop import retrieved_rows
from evals.runs import ingest_callback, track
from ingest.article import canonical_url
from rag.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "news"
QUESTIONS = Path(__file__).resolve().parent / "data" / "smoke.jsonl"
UNANSWERABLE = "unanswerable"


def load_cases(path: Path) -> list[dict]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def refused(answer) -> bool:
    return (not answer.answered) or m.is_refusal(answer.text)


def judge(case: dict, answer, retrieved: list[dict]) -> dict:
    """Unanswerable: a refusal. Otherwise: an expected article cited (retrieved, when nothing is cited)
    and an answer keyword in the answer (case-insensitive)."""
    if case["type"] == UNANSWERABLE:
        return {"passed": refused(answer), "refused": refused(answer)}
    expected = {canonical_url(u) for u in case["expected_urls"]}
    cited = [canonical_url(c.url) for c in answer.citations]
    pool = cited or [canonical_url(r["url"]) for r in retrieved]
    url_ok = bool(expected & set(pool))
    text = answer.text.lower()
    keyword_ok = not refused(answer) and any(k.lower() in text for k in case["answer_keywords"])
    return {
        "passed": url_ok and keyword_ok,
        "url_ok": url_ok,
        "url_from": "citations" if cited else "retrieved",
        "keyword_ok": keyword_ok,
        "refused": refused(answer),
    }


def ask_case(assistant, case: dict) -> tuple[object, list[dict]]:
    answer = assistant.ask(case["question"], history=case.get("history") or None)
    retrieved = retrieved_rows(assistant.retrieve(answer.query))
    return answer, retrieved


def summarise(rows: list[dict], suite: str, config: dict) -> dict:
    flat = [{"question_type": r["question_type"], "pass_rate": r["scores"]["passed"]} for r in rows]
    by_type = m.aggregate(flat, ["pass_rate"], "question_type")
    summary = {
        "pass_rate": by_type["overall"]["pass_rate"],
        "passed": sum(r["scores"]["passed"] for r in rows),
        "total": len(rows),
    }
    summary.update({f"pass_rate.{t}": b["pass_rate"] for t, b in by_type.items() if t != "overall"})
    return {"suite": suite, "config": config, "summary": summary, "by_type": by_type}


def run(settings: Settings, questions: Path = QUESTIONS, data_dir: Path | None = None, progress=None):
    assistant, index_info = prepare(
        "smoke", [DEMO], settings, data_dir, ingest_callback(progress, "indexing demo")
    )
    rows = []
    for case in track(progress, load_cases(questions), "smoke questions"):
        answer, retrieved = ask_case(assistant, case)
        rows.append(
            {
                "id": case["id"],
                "question": case["question"],
                "question_type": case["type"],
                "gold": {
                    "expected_urls": case.get("expected_urls", []),
                    "answer_keywords": case.get("answer_keywords", []),
                },
                "history": case.get("history", []),
                "query": answer.query,
                "retrieved": retrieved,
                "answer": answer.text,
                "answered": answer.answered,
                "citations": [c.to_dict() for c in answer.citations],
                "scores": judge(case, answer, retrieved),
                "timings": {k: round(v, 4) for k, v in answer.timings.items()},
            }
        )
    llm = assistant.llm
    config = {
        "corpus": str(DEMO),
        "questions": str(questions),
        "index": index_info,
        "chunk_tokens": settings.chunk_tokens,
        "chunk_overlap": settings.chunk_overlap,
        "embedder": assistant.embedder.name,
        "llm": llm.name if llm else "extractive",
    }
    return summarise(rows, "smoke", config), rows


def write_report(run_dir: Path, metrics: dict, rows: list[dict], title: str = "Smoke suite") -> None:
    cfg, by_type = metrics["config"], metrics["by_type"]
    failed = [
        [r.get("id", str(i)), r["question_type"], r["question"], (r["answer"] or "")[:120].replace("|", "/")]
        for i, r in enumerate(rows, 1)
        if not r["scores"]["passed"]
    ]
    sections = [
        f"LLM: {cfg['llm']}. Embeddings: {cfg['embedder']}. Chunks: {cfg['chunk_tokens']} tokens, "
        f"overlap {cfg['chunk_overlap']}. Corpus `{cfg['corpus']}`.",
        f"**Pass rate {report.fmt(metrics['summary']['pass_rate'], 3)}** "
        f"({metrics['summary']['passed']}/{metrics['summary']['total']})\n\n"
        + report.grouped_table(by_type, ["pass_rate"])
        + f"\n\n![pass rate by type]({report.bar_chart(run_dir / 'pass_rate_by_type.png', by_type, ['pass_rate'], 'Pass rate by type')})",
        "## Failures\n" + (report.table(["id", "type", "question", "answer"], failed) if failed else "none"),
    ]
    report.write(run_dir, title, sections)
