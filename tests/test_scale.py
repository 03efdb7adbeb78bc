"""Scaling out: updates in place, a saved index on restart, processes sharing a store, HNSW dense search."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rag.assistant import Assistant
from rag.backends import live as live_module
from rag.backends.keyword import KeywordIndex
from rag.settings import Settings
from rag.text import bm25_tokens
from tests.test_chroma_server import chroma_url, free_port  # noqa: F401 - the fixture

ARTICLE = """---
title: "Harbour city opens floating solar farm on its reservoir"
source: Coastal Ledger
author: Mira Quell
published_at: 2025-03-02T08:00:00+00:00
url: https://coastal-ledger.example/2025/03/02/floating-solar-farm-reservoir
category: Energy
---

# Harbour city opens floating solar farm on its reservoir

The city of Port Aldane switched on a floating solar farm of 12,400 panels on the Kestrel reservoir on Sunday.
The farm will supply about 4 percent of the city's electricity, the utility's director Ines Varga said.
"""
QUESTION = "floating solar farm Kestrel reservoir Port Aldane"


def write_article(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "solar.md"
    path.write_text(ARTICLE)
    return path


def titles(hits) -> list[str]:
    return [h.node.metadata["title"] for h in hits]


@pytest.fixture
def data(demo_data_dir, tmp_path):
    path = tmp_path / "data"
    shutil.copytree(demo_data_dir, path)
    return path


def test_delta_scores_equal_a_rebuild_on_the_same_statistics():
    texts = [
        "Central bank cuts the cash rate to 4.10 percent.",
        "Troops on the ground in Ukraine, the minister says.",
        "The cash rate decision surprised economists.",
    ]
    index = KeywordIndex(["a", "b", "c"], texts, [{"source": "S", "doc_id": d} for d in "abc"])
    for query in ["cash rate", "troops Ukraine minister", "economists decision"]:
        main = index.scores(query)
        grown = index.updated([0], ["a2"], [texts[0]], [{"source": "S", "doc_id": "a2"}])
        again = grown.scores(query)
        assert again[0] == 0  # removed
        np.testing.assert_allclose(again[3], main[0], rtol=1e-5)  # same text, same statistics: same score
        np.testing.assert_allclose(again[1:3], main[1:3], rtol=1e-5)
    assert len(index) == 3 and index.live.all()  # the original is untouched


def test_past_a_size_only_the_best_chunks_sentences_are_scored():
    from rag.tuning import Tuning

    texts = [
        f"Report {i}. The cash rate was cut on day {i}. Troops and the minister {'met' if i % 3 else 'spoke'}."
        + (" The cash rate troops minister spoke." if i == 4 else "")
        for i in range(12)
    ]
    metas = [{"source": "S", "doc_id": f"d{i}"} for i in range(12)]
    exact = KeywordIndex([f"c{i}" for i in range(12)], texts, metas)
    every = KeywordIndex(
        [f"c{i}" for i in range(12)], texts, metas, tuning=Tuning(sentence_pool_from=0, sentence_pool=100)
    )
    few = KeywordIndex(
        [f"c{i}" for i in range(12)], texts, metas, tuning=Tuning(sentence_pool_from=0, sentence_pool=3)
    )
    for query in ["cash rate troops minister spoke", "minister met", "day 7 cash rate"]:
        # every chunk in the pool: the same scores, bit for bit (a common token's postings are looked up the
        # other way round, rows in postings)
        assert every.scores(query).tolist() == exact.scores(query).tolist()
        tokens = bm25_tokens([query])[0]
        chunk = exact._chunk_scores(tokens)
        best = exact._best_per_chunk(exact._sentence_scores(tokens))
        pooled = few._pooled_best(tokens, chunk)  # "cash" has more postings than the pool has sentences
        pool = np.flatnonzero(pooled)
        assert 0 < len(pool) <= 3 and int(np.argmax(chunk)) in pool  # the best chunk is in the pool
        assert pooled[pool].tolist() == best[pool].tolist()  # and its sentences score as before
    grown = every.updated([1], ["c12"], [texts[4]], [{"source": "S", "doc_id": "d12"}])
    again = grown.scores("troops minister spoke")
    assert again[1] == 0 and again[12] == pytest.approx(again[4], rel=1e-5) and again[4] > 0


def test_outlet_rows_and_best_sentences_follow_additions_and_removals():
    texts = [f"Story {i} on the cash rate. The minister spoke on day {i}." for i in range(6)]
    metas = [{"source": "ABC"[i % 3], "doc_id": f"d{i}"} for i in range(6)]
    index = KeywordIndex([f"c{i}" for i in range(6)], texts, metas)
    assert index.outlet_mask(["A", "C"]).tolist() == [True, False, True, True, False, True]
    added = [{"source": "D", "doc_id": "n1"}, {"source": "a", "doc_id": "n2"}]
    grown = index.updated([0, 4], ["n1", "n2"], ["A new story.", "The cash rate again."], added)
    assert grown.outlet_mask(["A", "D"]).tolist() == [False, False, False, True, False, False, True, False]
    assert grown.outlet_mask(["a"], ignore_case=True).tolist() == [False] * 3 + [True] + [False] * 3 + [True]
    assert index.outlet_mask(["A"]).tolist() == [True, False, False, True, False, False]  # untouched
    for query in ["cash rate", "minister day 3"]:  # each chunk's best sentence: one reduce over its run
        sentence = grown._sentence_scores(bm25_tokens([query])[0])
        best = np.zeros(len(grown), dtype=np.float32)
        np.maximum.at(best, grown.sentence_owner, sentence)
        np.testing.assert_array_equal(grown._best_per_chunk(sentence), best)


def test_the_joined_corpus_follows_additions_and_removals(tmp_path):
    index = KeywordIndex(["c0", "c1"], ["One story.", "Two story."], [{"doc_id": "d0"}, {"doc_id": "d1"}])
    index.save(tmp_path)
    loaded = KeywordIndex.load(tmp_path)
    assert loaded.texts.joined() == "One story.\nTwo story."
    loaded.texts.blank(0)
    assert loaded.texts.joined() == "\nTwo story."
    loaded.texts.extend(["Three story."])
    assert loaded.texts.joined() == "\nTwo story.\nThree story."
    grown = index.updated([1], ["c2"], ["New story."], [{"doc_id": "d2"}])
    assert grown.texts.joined() == "One story.\n\nNew story."
    assert index.texts.joined() == "One story.\nTwo story."  # a published index is not changed


def test_vectors_of_saved_and_added_rows_are_gathered_in_the_order_asked():
    from rag.backends.vectors import RowVectors

    main = np.arange(20, dtype=np.float32).reshape(5, 4)
    added = [np.full((2, 4), 7.5, dtype=np.float32), np.full((1, 4), 9.5, dtype=np.float32)]
    vectors = RowVectors(main, added)
    got = vectors.rows(np.array([6, 0, 4, 7, 5]))
    np.testing.assert_array_equal(got[:, 0], [7.5, 0.0, 16.0, 9.5, 7.5])
    assert RowVectors(None, added).rows(np.array([2, 0]))[:, 0].tolist() == [9.5, 7.5]


def test_ingest_and_delete_update_the_index_in_place(data):
    assistant = Assistant(Settings(data_dir=data, llm="extractive"))
    before = assistant.live_index().keyword
    assistant.ingest([write_article(data.parent / "new")])
    after = assistant.live_index().keyword
    assert after._n_main == before._n_main and after.changed > 0  # a delta, not a rebuild
    assert titles(assistant.retrieve(QUESTION, k=1)) == [
        "Harbour city opens floating solar farm on its reservoir"
    ]
    assert (
        assistant.delete(url="https://coastal-ledger.example/2025/03/02/floating-solar-farm-reservoir") == 1
    )
    hits = assistant.retrieve(QUESTION, k=10)
    assert "Harbour city opens floating solar farm on its reservoir" not in titles(hits)
    assert "Coastal Ledger" not in assistant.outlets()


def test_restart_loads_the_saved_index_without_reading_the_store(data, monkeypatch):
    Assistant(Settings(data_dir=data, llm="extractive")).retrieve("Reserve Bank cash rate cut", k=3)

    def no_full_read(collection, where=None, vectors=True):
        assert where is not None, "the whole collection was read again"
        return read(collection, where, vectors)

    read = live_module.all_chunks
    monkeypatch.setattr(live_module, "all_chunks", no_full_read)
    hits = Assistant(Settings(data_dir=data, llm="extractive")).retrieve("Reserve Bank cash rate cut", k=3)
    assert hits[0].node.metadata["title"] == "Reserve Bank of Australia cuts cash rate to 4.10%"


def test_a_second_assistant_sees_changes_without_restart(data):
    settings = Settings(data_dir=data, llm="extractive", refresh_s=0.0)
    reader = Assistant(settings)
    assert "Coastal Ledger" not in reader.outlets()
    # Another process would be `newsrag ingest` beside `serve`; Chroma's embedded store is not safe across
    # processes (its caches go stale), so that case runs against a Chroma server, below.
    Assistant(settings).ingest([write_article(data.parent / "new")])
    assert titles(reader.retrieve(QUESTION, k=1)) == [
        "Harbour city opens floating solar farm on its reservoir"
    ]
    Assistant(settings).delete(source="Coastal Ledger")
    assert "Coastal Ledger" not in reader.outlets()


def test_hnsw_dense_search_with_filters_pushed_down(data):
    exact = Assistant(Settings(data_dir=data, llm="extractive"))
    hnsw = Assistant(Settings(data_dir=data, llm="extractive", exact_dense_max=0))
    assert not hnsw.live_index().vectors.exact
    for question in ["Reserve Bank cash rate cut", "European peacekeepers in Ukraine"]:
        assert titles(hnsw.retrieve(question, k=3)) == titles(exact.retrieve(question, k=3))
    only = hnsw.retrieve("troops in Ukraine", k=5, filters={"sources": ["northern wire"]})
    assert only and {h.node.metadata["source"] for h in only} == {"Northern Wire"}


def test_two_workers_on_one_chroma_server_see_each_others_changes(tmp_path, chroma_url):  # noqa: F811
    from tests.conftest import DEMO

    first = Assistant(
        Settings(data_dir=tmp_path / "w1", llm="extractive", chroma_url=chroma_url, refresh_s=0)
    )
    second = Assistant(
        Settings(data_dir=tmp_path / "w2", llm="extractive", chroma_url=chroma_url, refresh_s=0)
    )
    assert first.ingest([DEMO]).new == 20
    assert second.retrieve("Reserve Bank cash rate cut", k=1)[0].node.metadata["title"] == (
        "Reserve Bank of Australia cuts cash rate to 4.10%"
    )
    first.ingest([write_article(tmp_path / "new")])
    assert titles(second.retrieve(QUESTION, k=1)) == [
        "Harbour city opens floating solar farm on its reservoir"
    ]
    assert second.delete(source="Coastal Ledger") == 1
    assert "Coastal Ledger" not in first.outlets()


@pytest.mark.slow
def test_llama_cpp_server_as_the_openai_backend(data, tmp_path):
    """llama-cpp-python's own OpenAI-compatible server, on the bundled model, answers end to end."""
    pytest.importorskip("sse_starlette", reason="llama_cpp.server needs sse-starlette and starlette-context")
    from rag.backends.models import model_path

    model = model_path(Settings(data_dir=data))
    if not model.exists():
        pytest.skip("the bundled model is not joined into the data dir (`newsrag setup`)")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1"]
        + ["--port", str(port), "--n_ctx", "4096", "--model_alias", "local"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 180
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), 0.5).close()
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail("llama_cpp.server did not start")
        settings = Settings(
            data_dir=data,
            llm="openai",
            openai_base_url=f"http://127.0.0.1:{port}/v1",
            openai_model="local",
            openai_api_key="none",
        )
        answer = Assistant(settings).ask("By how much did the Reserve Bank of Australia cut the cash rate?")
        assert answer.answered and "4.10" in answer.text and answer.citations
    finally:
        server.terminate()
        server.wait(30)
