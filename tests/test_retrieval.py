"""Hybrid retrieval over the real demo index: results, filters and errors."""

import numpy as np
import pytest

from rag.assistant import Assistant
from rag.backends.keyword import KeywordIndex
from rag.errors import ConfigError, EmptyIndexError
from rag.query.question import outlets_named
from rag.retrieval import Filters, MatrixDense, _where, fused_scores, top_positions


def test_results_carry_header_text_scores_and_article_metadata(demo):
    hits = demo.retrieve("Reserve Bank cash rate cut", k=3)
    assert len(hits) == 3
    top = hits[0]
    assert top.node.metadata["title"] == "Reserve Bank of Australia cuts cash rate to 4.10%"
    assert top.text.startswith(top.node.metadata["title"] + "\n")
    assert set(top.node.metadata) >= {
        "doc_id",
        "title",
        "source",
        "author",
        "published_at",
        "published_ts",
        "url",
        "category",
        "content_hash",
        "chunk_index",
        "n_chunks",
    }
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_source_filter_keeps_only_those_outlets_case_insensitively(demo):
    hits = demo.retrieve(
        "peacekeepers Ukraine", k=10, filters={"sources": ["harbour post", "Daily Meridian"]}
    )
    assert hits and {h.node.metadata["source"] for h in hits} == {"Harbour Post", "Daily Meridian"}


def test_date_filters_are_inclusive_days(demo):
    hits = demo.retrieve("Ukraine troops", k=20, filters={"since": "2025-02-18", "until": "2025-02-18"})
    assert hits and {h.node.metadata["published_at"][:10] for h in hits} == {"2025-02-18"}
    later = demo.retrieve("Ukraine troops", k=20, filters=Filters.coerce({"since": "2025-03-20"}))
    assert later and min(h.node.metadata["published_at"] for h in later) >= "2025-03-20"


def test_filter_matching_nothing_returns_nothing(demo):
    assert demo.retrieve("Ukraine", filters={"sources": ["No Such Outlet"]}) == []


def test_bad_filters_name_the_field():
    with pytest.raises(ConfigError, match=r"filter since: cannot read the date 'soon' \(use YYYY-MM-DD\)"):
        Filters.coerce({"since": "soon"})
    with pytest.raises(ConfigError, match=r"unknown filter field\(s\) \['outlet'\]"):
        Filters.coerce({"outlet": "x"})


def test_outlets_named_in_the_question():
    outlets = ["The Verge", "TechCrunch", "BBC News", "Fortune"]
    assert outlets_named("Did the Verge and TechCrunch both report it?", outlets) == [
        "The Verge",
        "TechCrunch",
    ]
    assert outlets_named("What is the fortune of Elon Musk? Fortune says", outlets) == ["Fortune"]
    assert outlets_named("What is the fortune of Elon Musk?", outlets) == []
    assert outlets_named("What did the BBC say?", outlets) == []


def test_an_outlet_is_also_named_by_its_name_before_a_tagline_no_other_outlet_shares():
    outlets = [
        "Cnbc | World Business News Leader",
        "TechCrunch",
        "BBC News - Technology",
        "BBC News - Entertainment & Arts",
        "Eos: Earth And Space Science News",
    ]
    assert outlets_named("Did CNBC and TechCrunch both report it?", outlets) == [
        "Cnbc | World Business News Leader",
        "TechCrunch",
    ]
    assert outlets_named("As reported by Cnbc | World Business News Leader, and by TechCrunch", outlets) == [
        "Cnbc | World Business News Leader",
        "TechCrunch",
    ]
    assert outlets_named("What did Eos report?", outlets) == ["Eos: Earth And Space Science News"]
    # two sections share "BBC News": the name stands for both (`rag.text.outlet_head`), not for one
    assert outlets_named("What did BBC News report?", outlets) == ["BBC News"]
    assert outlets_named("how did bbc news and techcrunch cover it?", outlets) == ["BBC News", "TechCrunch"]
    assert outlets_named("What did BBC News - Technology report?", outlets) == ["BBC News - Technology"]
    index = KeywordIndex(
        [f"c{i}" for i in range(len(outlets))],
        ["Title\nX | 2025-01-01\n\nText." for _ in outlets],
        [{"source": o} for o in outlets],
    )
    assert index.outlet_mask(["BBC News"]).tolist() == [False, False, True, True, False]
    assert index.outlet_mask(["bbc news - technology"], ignore_case=True).tolist() == [
        False,
        False,
        True,
        False,
        False,
    ]
    assert _where(Filters(sources=["bbc news"]), index) == {
        "source": {"$in": ["BBC News - Entertainment & Arts", "BBC News - Technology"]}
    }


def test_empty_index_says_how_to_fix(settings):
    with pytest.raises(EmptyIndexError, match=r"no articles ingested yet: run `newsrag ingest PATH` first"):
        Assistant(settings).retrieve("anything")


def test_unknown_backend_names_list_valid_ones(settings):
    with pytest.raises(ConfigError, match=r"unknown LLM backend 'gpt5'; valid: local, openai, extractive"):
        Assistant(settings.model_copy(update={"llm": "gpt5"}))
    with pytest.raises(ConfigError, match=r"unknown embeddings backend 'bert'; valid: local, openai"):
        Assistant(settings.model_copy(update={"embeddings": "bert"}))


def test_top_breaks_ties_by_position():
    values = np.array([0.5, 0.9, 0.9, 0.1], dtype=np.float32)
    assert top_positions(values, 2).tolist() == [1, 2]
    assert top_positions(values, 10).tolist() == [1, 2, 0, 3]
    assert top_positions(values, 0).tolist() == []


def test_the_best_of_a_million_scores_are_found_from_a_sample_the_same():
    rng = np.random.default_rng(7)
    for values in (
        rng.random(1_000_000).astype(np.float32),
        np.where(rng.random(1_000_000) < 0.9, 0, rng.random(1_000_000)).astype(np.float32),  # mostly zeros
        np.where(rng.random(1_000_000) < 0.999, 0, rng.random(1_000_000)).astype(
            np.float32
        ),  # the sample fails
        np.round(rng.random(1_000_000) * 50).astype(np.float32) / 50,  # many ties
    ):
        for n in (1, 60, 2_000):
            exact = np.argsort(-values, kind="stable")[:n]
            got = top_positions(values, n)
            assert values[got].tolist() == values[exact].tolist()  # the same values, best first
            assert got.tolist() == exact.tolist()  # ties: lower position first


def test_fused_scores_mix_keyword_and_exact_dense_scores_inside_the_filter():
    bm25 = np.array([2.0, 0.0, 1.0, 0.0], dtype=np.float32)
    dense = MatrixDense(
        np.array([[0.1, 0.0], [0.9, 0.0], [0.5, 0.0], [0.3, 0.0]], dtype=np.float32), embedder=None
    )
    query = np.array([1.0, 0.0], dtype=np.float32)
    everything = np.ones(4, dtype=bool)
    # BM25 scaled by its best (1, 0, .5, 0) and dense min-max over the pool (0, 1, .5, .25), half each.
    assert fused_scores(bm25, query, dense, everything, 0.5).tolist() == pytest.approx(
        [0.5, 0.5, 0.5, 0.125], abs=1e-5
    )
    # Position 1 filtered out: it scores 0 and no longer stretches the dense scale (0, 1, .5 over 0, 2, 3).
    outside = np.array([True, False, True, True])
    assert fused_scores(bm25, query, dense, outside, 0.5).tolist() == pytest.approx(
        [0.5, 0.0, 0.75, 0.25], abs=1e-5
    )
    assert fused_scores(bm25, query, dense, everything, 1.0).tolist() == pytest.approx([1.0, 0.0, 0.5, 0.0])


def test_cover_puts_a_chunk_for_the_second_part_before_a_repeat_of_the_first():
    import rag.retrieval as retrieval
    from rag.backends.keyword import KeywordIndex
    from rag.text import bm25_tokens as tokenize
    from rag.tuning import Tuning

    texts = [
        "Rates\nA | 2023\n\nThe central bank raised interest rates. Inflation stayed high.",
        "Rates again\nA | 2023\n\nThe central bank raised interest rates again in March.",
        "Final\nB | 2023\n\nThe striker scored twice in the cup final.",
        "Weather\nC | 2023\n\nRain is expected over the weekend.",
        "Markets\nC | 2023\n\nShares closed lower on Friday.",
    ]
    index = KeywordIndex([f"c{i}" for i in range(5)], texts, [{"source": "A"}] * 5)
    question = "Did the central bank raise interest rates, and did the striker score in the cup final?"
    terms = list(dict.fromkeys(tokenize([question])[0]))
    owner, per_term = index.sentence_terms(terms, [0, 1, 3, 2])
    assert owner.tolist() == [0, 0, 1, 3, 2]  # each chunk's sentences, header left out
    held = [[terms[j] for j in np.flatnonzero(row)] for row in per_term]
    assert held == [
        ["central", "bank", "rais", "interest", "rate"],
        [],
        ["central", "bank", "rais", "interest", "rate"],
        [],
        ["striker", "score", "cup", "final"],
    ]
    # Chunk 1 repeats chunk 0's terms: once chunk 0 is picked they weigh 0.2, and the cup final moves up.
    assert retrieval.cover([0, 1, 2, 3, 4], terms, index) == [0, 2, 1, 3, 4]
    assert retrieval.cover([0, 1, 2, 3, 4], terms, index, Tuning(cover_decay=1.0)) == [0, 1, 2, 3, 4]
    assert retrieval.cover([3, 4], terms, index) == [3, 4]  # no question term anywhere: order kept


def _articles(bodies: list[str]):
    from rag.backends.keyword import KeywordIndex

    texts = [f"Title {i}\nHarbour Post | 2023-05-0{i % 9 + 1}\n\n{body}" for i, body in enumerate(bodies)]
    return KeywordIndex(
        [f"c{i}" for i in range(len(texts))],
        texts,
        [{"source": "Harbour Post", "doc_id": f"d{i}"} for i in range(len(texts))],
    )


def test_the_name_most_articles_of_the_results_hold_leads_them():
    from rag.answer.names import leading_name

    question = "Which company did the Harbour Post say was fined in Brussels?"
    bodies = [
        "Regulators fined Lumen Capital on Monday.",
        "Lumen Capital appealed on Monday.",
        "Ana Ortiz spoke for Lumen Capital on Monday.",
        "Ana Ortiz left Brussels.",
        "Markets closed lower.",
    ]
    chunks = [(f"d{i}", body) for i, body in enumerate(bodies)]
    assert (
        leading_name(question, chunks, ["Harbour Post"]) == "Lumen Capital"
    )  # 3 articles; Ana Ortiz 2; days never
    assert leading_name(question, chunks[1:], ["Harbour Post"]) is None  # 2 each: none leads
    # the same article twice counts once; the question's own names (Brussels) and outlets never lead
    assert leading_name(question, chunks[:2] + [("d1", "Lumen Capital again.")], ["Harbour Post"]) is None
    assert leading_name("Who fined Lumen Capital?", chunks, []) is None


def test_a_who_question_is_searched_again_with_the_name_its_first_results_lead_with(monkeypatch):
    import rag.retrieval as retrieval
    from rag.tuning import Tuning

    index = _articles(
        [
            "Lumen Capital was fined.",
            "Ana Ortiz spoke.",
            "Lumen Capital appealed.",
            "Rain fell.",
            "Lumen Capital paid.",
            "Publishers sued.",
            "Shares fell.",
        ]
    )
    asked = []

    def second_search(qplan, *args):
        asked.append(qplan.question)
        return [(5, 2.0), (0, 0.9), (6, 0.5), (2, 0.1)]

    monkeypatch.setattr(retrieval, "rank", second_search)
    first = [(0, 0.9), (1, 0.8), (2, 0.7), (3, 0.6), (4, 0.5)]
    question = "Which company was sued by publishers?"
    got = retrieval._with_feedback(question, first, index, None, None, 6, 1.0, 2023, None, Tuning())
    assert asked == ["Which company was sued by publishers? Lumen Capital"]
    # the first four stay; the second search's others follow, scored no higher than the fourth
    assert got == [(0, 0.9), (1, 0.8), (2, 0.7), (3, 0.6), (5, 0.6), (6, 0.5)]
    asked.clear()
    assert (
        retrieval._with_feedback(question, first[1:], index, None, None, 6, 1.0, 2023, None, Tuning())
        == first[1:]
    )
    assert asked == []  # two articles name Lumen Capital there: no name leads, no second search


def test_the_second_search_of_a_who_question_reuses_the_question_embedding(monkeypatch):
    import rag.retrieval as retrieval

    index = _articles(
        [
            "Lumen Capital was fined.",
            "Ana Ortiz spoke.",
            "Lumen Capital appealed.",
            "Rain fell.",
            "Lumen Capital paid.",
            "Publishers sued.",
            "Shares fell.",
        ]
    )

    class Embedder:
        def __init__(self):
            self.calls = []

        def embed(self, texts):
            self.calls.append(list(texts))
            return np.array([[1.0, 0.0]], dtype=np.float32)

    searched, real_rank = [], retrieval.rank

    def spy(qplan, *args):
        searched.append(qplan.question)
        return real_rank(qplan, *args)

    monkeypatch.setattr(retrieval, "rank", spy)
    vectors = np.array([[1.0, 0.0]] * 7, dtype=np.float32)
    question = "Which company was sued by publishers?"
    embedder = Embedder()
    hits = retrieval.hybrid_search(question, index, vectors, embedder, 6, Filters(), 0.7)
    assert searched == [question, question + " Lumen Capital"]
    assert embedder.calls == [[question]]  # one embedding for both searches
    assert len(hits) == 6


def test_copies_of_one_story_count_once_for_the_leading_name(monkeypatch):
    import rag.retrieval as retrieval
    from rag.backends.keyword import KeywordIndex
    from rag.tuning import Tuning

    bodies = [
        "Lumen Capital was fined.",
        "Lumen Capital was fined, AP said.",
        "Lumen Capital was fined today.",
    ]
    texts = [f"Title {i}\nOutlet {i} | 2023-05-01\n\n{b}" for i, b in enumerate(bodies)]
    metas = [{"source": f"Outlet {i}", "doc_id": f"d{i}", "story_id": "d0"} for i in range(3)]
    index = KeywordIndex([f"c{i}" for i in range(3)], texts, metas)
    monkeypatch.setattr(retrieval, "rank", lambda *a: pytest.fail("no name leads: no second search"))
    first = [(0, 0.9), (1, 0.8), (2, 0.7)]
    assert (
        retrieval._with_feedback(
            "Which company was fined?", first, index, None, None, 3, 1.0, 2023, None, Tuning()
        )
        == first
    )


def test_sentence_scores_of_a_few_rows_equal_those_of_the_whole_index_delta_included():
    from rag.backends.keyword import KeywordIndex
    from rag.text import bm25_tokens

    texts = [
        f"Title {i}\nOutlet | 2025-03-0{i % 9 + 1}\n\nThe bank held rates at {i}%. Markets rose. "
        f"Inflation slowed in {'March' if i % 2 else 'May'}. The governor said rates would stay."
        for i in range(12)
    ]
    index = KeywordIndex([f"c{i}" for i in range(12)], texts, [{"source": "A"}] * 12)
    index = index.updated(
        [3], ["n1", "n2"], [texts[0] + " Rates fell again.", "Other\nB | x\n\nRates rose."], [{}] * 2
    )
    n = index._n_main_sentences + index._sentence_delta.size
    rows = np.array([7, 0, 2, n - 1, 5, n - 3, 2])
    for token in bm25_tokens(["rates inflation governor markets rose zzzz"])[0]:
        assert np.array_equal(
            index._sentence_scores_at(token, rows), index._sentence_scores([token])[rows]
        ), token
