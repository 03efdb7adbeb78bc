"""Ingest, re-ingest, update, delete, crash safety, stats and the CLI, on a real Chroma and the real embedder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ingest import chunk_article, load_inputs
from ingest.article import Article
from tests.conftest import DEMO, ROOT, demo_url

DEMO_OUTLETS = {
    "Continental Ledger": 4,
    "Harbour Post": 4,
    "Northern Wire": 4,
    "Daily Meridian": 3,
    "Eastbridge Observer": 2,
    "Tech Pulse Weekly": 2,
    "Sports Desk Today": 1,
}
FIRST = "2025-02-03T23:40:00Z"
LAST = "2025-03-27T19:15:00Z"


def assistant(data_dir: Path):
    from rag.assistant import Assistant
    from rag.settings import Settings

    return Assistant(Settings(data_dir=data_dir, llm="extractive"))


def demo_chunk_count() -> int:
    return sum(len(chunk_article(a)) for r in load_inputs([DEMO]) for a in r.articles)


def chunks_of(a, doc_id: str) -> tuple[list[str], list[str]]:
    got = a.collection.get(where={"doc_id": doc_id}, include=["documents"])
    pairs = sorted(zip(got["ids"], got["documents"]))
    return [p[0] for p in pairs], [p[1] for p in pairs]


def all_metadatas(a) -> tuple[list[str], list[dict]]:
    got = a.collection.get(include=["metadatas"])
    return got["ids"], got["metadatas"]


def md_article(
    path: Path,
    title: str,
    url: str,
    body: str,
    source: str = "Test Wire",
    published: str = "2025-04-01T09:00:00+02:00",
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"---\ntitle: {title}\nsource: {source}\nauthor: Ann Writer\npublished_at: {published}\n"
        f"url: {url}\ncategory: World\n---\n\n{body}\n",
        encoding="utf-8",
    )
    return path


def sentences(tag: str, n: int) -> str:
    return " ".join(
        f"The {tag} report sentence number {i} mentions figure {i * 37 % 1000} and place {i % 13}."
        for i in range(n)
    )


# ------------------------------------------------------------------ ingest / re-ingest


def test_ingest_demo_then_reingest_is_a_no_op(tmp_path):
    a = assistant(tmp_path / "data")
    report = a.ingest([DEMO])
    assert (report.new, report.updated, report.unchanged, report.failed) == (20, 0, 0, 0)
    assert report.errors == [] and report.ok
    assert report.chunks_embedded == a.collection.count() == demo_chunk_count()
    assert len(report.doc_ids) == 20
    assert report.summary().startswith(
        f"20 new, 0 updated, 0 unchanged, 0 failed articles; {report.chunks_embedded} chunks embedded in "
    )

    again = assistant(tmp_path / "data").ingest(DEMO)  # a fresh process-like Assistant, a single path
    assert (again.new, again.updated, again.unchanged, again.failed, again.chunks_embedded) == (
        0,
        0,
        20,
        0,
        0,
    )
    assert a.collection.count() == report.chunks_embedded


def test_changed_article_replaces_its_chunks(tmp_path):
    url = "https://test-wire.example/2025/04/01/budget"
    corpus = tmp_path / "in"
    path = md_article(corpus / "budget.md", "Budget row deepens", url, sentences("old", 60))
    md_article(corpus / "other.md", "Other story", "https://test-wire.example/other", "Nothing changes here.")
    a = assistant(tmp_path / "data")
    first = a.ingest([corpus])
    assert (first.new, first.failed) == (2, 0)
    doc_id = Article(title="", text="", url=url).doc_id
    old_ids, old_docs = chunks_of(a, doc_id)
    assert len(old_ids) >= 3
    assert old_ids == [f"{doc_id}:{i:04d}" for i in range(len(old_ids))]

    # same URL (with tracking junk), new and much shorter body
    md_article(
        path, "Budget row deepens", url + "/?utm_source=rss", "The new version has one short paragraph."
    )
    second = a.ingest([corpus])
    assert (second.new, second.updated, second.unchanged, second.failed, second.chunks_embedded) == (
        0,
        1,
        1,
        0,
        1,
    )
    ids, docs = chunks_of(a, doc_id)
    assert ids == [f"{doc_id}:0000"]
    assert docs == ["Budget row deepens\nTest Wire | 2025-04-01\n\nThe new version has one short paragraph."]
    everything = a.collection.get(include=["documents"])["documents"]
    assert not any("old report sentence" in d for d in everything)
    assert a.collection.count() == 2
    stats = a.stats()
    assert (stats["articles"], stats["chunks"], stats["incomplete"]) == (2, 2, 0)


def test_same_article_twice_in_one_run_is_stored_once(tmp_path):
    url = "https://test-wire.example/dup"
    md_article(tmp_path / "in" / "a.md", "Dup", url, "First copy.")
    (tmp_path / "in" / "b.jsonl").write_text(
        json.dumps({"title": "Dup", "url": url + "#x", "body": "Second copy.", "source": "Test Wire"}) + "\n"
    )
    a = assistant(tmp_path / "data")
    report = a.ingest([tmp_path / "in"])
    assert (report.new, report.failed, report.chunks_embedded) == (1, 0, 1)
    ids, docs = chunks_of(a, Article(title="", text="", url=url).doc_id)
    assert len(ids) == 1 and docs[0].endswith("Second copy.")  # the last one read wins


# ------------------------------------------------------------------ delete


def test_delete_by_doc_id(demo):
    before = demo.stats()
    ids, metas = all_metadatas(demo)
    doc_id = next(m["doc_id"] for m in metas if m["title"].startswith("Aurelis Space's Kite-2"))
    n_chunks = sum(m["doc_id"] == doc_id for m in metas)
    assert demo.delete(doc_id=doc_id) == 1
    assert chunks_of(demo, doc_id) == ([], [])
    after = demo.stats()
    assert after["articles"] == before["articles"] - 1 == 19
    assert after["chunks"] == before["chunks"] - n_chunks
    assert after["outlets"]["Northern Wire"] == 3
    assert demo.delete(doc_id=doc_id) == 0  # already gone


def test_delete_by_url_accepts_url_variants(demo):
    url = demo_url("moscow-european-peacekeepers-direct-conflict")
    doc_id = Article(title="", text="", url=url).doc_id
    assert chunks_of(demo, doc_id)[0]
    assert demo.delete(url=url + "/?utm_source=newsletter#top") == 1
    assert chunks_of(demo, doc_id) == ([], [])
    stats = demo.stats()
    assert stats["articles"] == 19
    assert stats["outlets"]["Eastbridge Observer"] == 1
    assert demo.delete(url=url) == 0


def test_delete_by_source_removes_every_article_of_the_outlet(demo):
    before = demo.stats()
    _, metas = all_metadatas(demo)
    ledger_chunks = sum(m["source"] == "Continental Ledger" for m in metas)
    assert demo.delete(source="Continental Ledger") == 4
    _, metas = all_metadatas(demo)
    assert not any(m["source"] == "Continental Ledger" for m in metas)
    after = demo.stats()
    assert after["articles"] == 16
    assert after["chunks"] == before["chunks"] - ledger_chunks
    assert "Continental Ledger" not in after["outlets"]
    assert after["outlets"] == {k: v for k, v in DEMO_OUTLETS.items() if k != "Continental Ledger"}
    # retrieval no longer returns it
    hits = demo.retrieve("European leaders split over peacekeepers at emergency Paris talks", k=10)
    assert hits and all(h.node.metadata["source"] != "Continental Ledger" for h in hits)


def test_delete_unknown_returns_zero(demo):
    count = demo.collection.count()
    assert demo.delete(doc_id="u-00000000000000000000") == 0
    assert demo.delete(url="https://nowhere.example/story") == 0
    assert demo.delete(source="No Such Outlet") == 0
    assert demo.delete(source="continental ledger") == 0  # outlet names match exactly
    assert demo.collection.count() == count
    with pytest.raises(ValueError, match="delete needs one of doc_id, url or source"):
        demo.delete()


# ------------------------------------------------------------------ bad input mixed with good


def test_bad_inputs_are_skipped_and_good_ones_stored(demo, tmp_path):
    before = demo.stats()
    inbox = tmp_path / "inbox"
    md_article(
        inbox / "good.md",
        "Port strike ends",
        "https://test-wire.example/port-strike",
        "Dock workers returned to work after a three-day strike.",
    )
    empty = inbox / "empty.txt"
    empty.write_bytes(b"")
    broken = inbox / "broken.json"
    broken.write_text('{"title": "x", "body": ')
    lines = inbox / "lines.jsonl"
    lines.write_text(
        json.dumps(
            {
                "title": "Rail fares rise",
                "body": "Fares rise by 4.6% in March.",
                "source": "Test Wire",
                "url": "https://test-wire.example/rail",
            }
        )
        + "\n{oops}\n"
    )
    missing = tmp_path / "missing.md"
    report = demo.ingest([inbox, missing])
    assert (report.new, report.updated, report.unchanged, report.failed) == (2, 0, 0, 4)
    assert not report.ok
    assert report.errors == [
        f"{broken}: malformed JSON at line 1 column 24: Expecting value",
        f"{empty}: file is empty",
        f"{lines}:2: malformed JSON at column 2: Expecting property name enclosed in double quotes",
        f"{missing}: no such file or folder",
    ]
    after = demo.stats()
    assert after["articles"] == before["articles"] + 2 == 22
    assert after["incomplete"] == 0
    assert after["outlets"]["Test Wire"] == 2
    for name, n in DEMO_OUTLETS.items():  # nothing stored before was lost
        assert after["outlets"][name] == n
    ids, docs = chunks_of(
        demo, Article(title="", text="", url="https://test-wire.example/port-strike").doc_id
    )
    assert docs == [
        "Port strike ends\nTest Wire | 2025-04-01\n\nDock workers returned to work after a three-day strike."
    ]


def test_only_bad_inputs_change_nothing(demo, tmp_path):
    before = demo.stats()
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\x00\x01\x02")
    report = demo.ingest(bad)
    assert (report.new, report.updated, report.unchanged, report.failed, report.chunks_embedded) == (
        0,
        0,
        0,
        1,
        0,
    )
    assert report.errors == [f"{bad}: binary file, not text"]
    assert demo.stats() == before


# ------------------------------------------------------------------ stats


def test_stats_of_the_demo_corpus(demo):
    stats = demo.stats()
    assert stats == {
        "articles": 20,
        "chunks": demo_chunk_count(),
        "incomplete": 0,
        "outlets": DEMO_OUTLETS,
        "first_published": FIRST,
        "last_published": LAST,
    }
    assert list(stats["outlets"]) == [
        "Continental Ledger",
        "Harbour Post",
        "Northern Wire",
        "Daily Meridian",
        "Eastbridge Observer",
        "Tech Pulse Weekly",
        "Sports Desk Today",
    ]
    ids, metas = all_metadatas(demo)
    assert len(set(ids)) == len(ids) == stats["chunks"]
    per_doc = Counter(m["doc_id"] for m in metas)
    assert all(per_doc[m["doc_id"]] == m["n_chunks"] for m in metas)
    assert set(ids) == {f"{m['doc_id']}:{m['chunk_index']:04d}" for m in metas}


def test_stats_of_an_empty_index(settings):
    from rag.assistant import Assistant

    assert Assistant(settings).stats() == {
        "articles": 0,
        "chunks": 0,
        "incomplete": 0,
        "outlets": {},
        "first_published": None,
        "last_published": None,
    }


# ------------------------------------------------------------------ kill -9 mid-ingest

N_KILL = 150
OUTLETS = ["Test Wire", "Harbour Post", "Daily Meridian", "Continental Ledger", "Northern Wire"]

CHILD = """
import sys
from rag.assistant import Assistant
from rag.settings import Settings

a = Assistant(Settings(data_dir=sys.argv[1], llm="extractive"))
a.collection
print("ready", flush=True)
a.ingest([sys.argv[2]], progress=lambda done, total: print(done, total, flush=True))
print("finished", flush=True)
"""


def generate_corpus(folder: Path, n: int = N_KILL) -> None:
    """n small articles: two thirds as Markdown files, the rest in one JSONL; every 15th spans chunks."""
    folder.mkdir(parents=True)
    start = datetime(2025, 1, 1, 6, 0, tzinfo=timezone.utc)
    records = []
    for i in range(n):
        body = sentences(f"item{i}", 16 if i % 15 == 0 else 2)
        rec = {
            "title": f"Generated story {i}",
            "source": OUTLETS[i % len(OUTLETS)],
            "author": f"Writer {i % 7}",
            "published_at": (start + timedelta(hours=i)).isoformat(),
            "category": "Test",
            "url": f"https://gen.example/{i}",
            "body": body,
        }
        if i < 2 * n // 3:
            md_article(
                folder / f"story-{i:03d}.md",
                rec["title"],
                rec["url"],
                body,
                rec["source"],
                rec["published_at"],
            )
        else:
            records.append(rec)
    (folder / "rest.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")


def test_kill_9_mid_ingest_then_rerun_stores_every_article_once(tmp_path):
    corpus, data = tmp_path / "corpus", tmp_path / "data"
    generate_corpus(corpus)
    expected = {a.doc_id: len(chunk_article(a)) for r in load_inputs([corpus]) for a in r.articles}
    assert len(expected) == N_KILL and max(expected.values()) > 1
    total_chunks = sum(expected.values())

    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data), str(corpus)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=dict(os.environ),
    )
    guard = threading.Timer(300, proc.kill)
    guard.start()
    killed_at = None
    try:
        for line in proc.stdout:
            parts = line.split()
            if len(parts) == 2 and parts[0].isdigit() and int(parts[0]) >= 40:
                os.kill(proc.pid, signal.SIGKILL)  # some articles written, most still to embed
                killed_at = int(parts[0])
                break
            assert line.strip() != "finished"
        proc.wait(timeout=60)
    finally:
        guard.cancel()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    stderr = proc.stderr.read()
    assert killed_at is not None, f"child exited {proc.returncode} before the kill: {stderr[-2000:]}"
    assert proc.returncode == -signal.SIGKILL

    a = assistant(data)
    stored = a.collection.count()
    assert 0 < stored < total_chunks
    print(f"killed at progress {killed_at}: {stored}/{total_chunks} chunks stored")
    before = a.stats()
    complete = {d for d, ok in _manifest_complete(a).items() if ok}
    assert len(complete) == before["articles"] - before["incomplete"]
    assert 40 <= before["articles"] < N_KILL

    report = a.ingest([corpus])
    assert report.failed == 0 and report.errors == []
    assert report.new + report.updated + report.unchanged == N_KILL
    assert report.unchanged == len(complete)
    assert report.updated == before["incomplete"]
    assert report.new == N_KILL - before["articles"]
    assert report.chunks_embedded == total_chunks - sum(expected[d] for d in complete)

    ids, metas = all_metadatas(a)
    assert len(ids) == len(set(ids)) == total_chunks
    per_doc = Counter(m["doc_id"] for m in metas)
    assert dict(per_doc) == expected
    for i, m in zip(ids, metas):
        assert m["n_chunks"] == expected[m["doc_id"]]
        assert i == f"{m['doc_id']}:{m['chunk_index']:04d}"
    stats = a.stats()
    assert (stats["articles"], stats["chunks"], stats["incomplete"]) == (N_KILL, total_chunks, 0)
    assert stats["outlets"] == {o: N_KILL // len(OUTLETS) for o in OUTLETS}

    # the vector index survived the crash: a stored vector finds its own chunk
    got = a.collection.get(
        ids=[f"{Article(title='', text='', url='https://gen.example/149').doc_id}:0000"],
        include=["embeddings"],
    )
    hit = a.collection.query(query_embeddings=[list(got["embeddings"][0])], n_results=1)
    assert hit["ids"][0] == got["ids"]

    # and a third run has nothing left to do
    third = a.ingest([corpus])
    assert (third.new, third.updated, third.unchanged, third.chunks_embedded) == (0, 0, N_KILL, 0)


def _manifest_complete(a) -> dict[str, bool]:
    from rag.backends.store import manifest

    return {d: e.complete for d, e in manifest(a.collection).items()}


# ------------------------------------------------------------------ CLI


def newsrag(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent / "newsrag"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "rag.cli"]
    return subprocess.run(
        cmd + list(args),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=dict(os.environ, COLUMNS="200"),
    )


def test_cli_ingest_stats_and_delete_usage(tmp_path):
    data = tmp_path / "data"
    run = newsrag("--data-dir", str(data), "ingest", str(DEMO))
    assert run.returncode == 0, run.stderr
    n = demo_chunk_count()
    summary = [line for line in run.stdout.splitlines() if " new, " in line]
    assert len(summary) == 1
    assert summary[0].startswith(
        f"20 new, 0 updated, 0 unchanged, 0 failed articles; {n} chunks embedded in "
    )
    assert summary[0].endswith(" s")
    assert "Traceback" not in run.stderr and "skipped" not in run.stderr

    stats = newsrag("--data-dir", str(data), "stats", "--json")
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout) == {
        "articles": 20,
        "chunks": n,
        "incomplete": 0,
        "outlets": DEMO_OUTLETS,
        "first_published": FIRST,
        "last_published": LAST,
    }

    usage = newsrag("--data-dir", str(data), "delete")
    assert usage.returncode == 2
    assert "give exactly one of --doc, --url or --source" in usage.stderr
    assert "Traceback" not in usage.stderr
    both = newsrag("--data-dir", str(data), "delete", "--doc", "x", "--source", "y")
    assert both.returncode == 2


def test_cli_ingest_with_a_bad_file_exits_1(tmp_path):
    good = md_article(
        tmp_path / "in" / "good.md",
        "Port strike ends",
        "https://test-wire.example/port-strike",
        "Dock workers returned to work after a three-day strike.",
    )
    bad = tmp_path / "in" / "bad.json"
    bad.write_text("[{]")
    run = newsrag("--data-dir", str(tmp_path / "data"), "ingest", "-q", str(good), str(bad))
    assert run.returncode == 1
    assert (
        f"skipped {bad}: malformed JSON at line 1 column 3: Expecting property name enclosed in double quotes"
        in run.stderr.splitlines()
    )
    assert "Traceback" not in run.stderr
    assert "1 new, 0 updated, 0 unchanged, 1 failed articles; 1 chunks embedded in " in run.stdout
