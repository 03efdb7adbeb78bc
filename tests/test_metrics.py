"""Hand-computed checks for evals.metrics (MultiHop-RAG paper protocol)."""

import math
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from evals.metrics import (  # noqa: E402
    aggregate,
    is_refusal,
    normalize_answer,
    normalize_for_match,
    normalized_match,
    paper_accuracy,
    percentile,
    relevant_fact_ranks,
    retrieval_scores,
    short_answer,
    yes_no_calibration,
)

FILLER = "Unrelated chunk about something else entirely."


def _chunks(n, placed):
    """n filler chunks with placed = {0-based rank: text} substituted in."""
    return [placed.get(i, f"{FILLER} #{i}") for i in range(n)]


# --------------------------------------------------------------- normalisation


def test_normalize_for_match_deletes_only_space_and_newline():
    assert normalize_for_match("a b\nc\td\r\u00a0e") == "abc\td\r\u00a0e"
    assert normalize_for_match("Keep CASE.") == "KeepCASE."


def test_tab_is_kept_so_it_must_match():
    fact = "foo bar\tbaz"
    assert relevant_fact_ranks(["foobar\tbaz"], [fact]) == [[0]]
    assert relevant_fact_ranks(["foobar baz"], [fact]) == [[]]


def test_fact_split_by_newline_in_chunk_matches():
    fact = "The company reported record profits in the third quarter."
    chunk = "Title: X\nSource: Y\nThe company reported record\nprofits in the third  quarter. More."
    assert relevant_fact_ranks([chunk], [fact]) == [[0]]
    assert retrieval_scores([chunk], [fact])["hits@4"] == 1.0


def test_relevant_fact_ranks_lists_all_matches_and_caps_at_k():
    facts = ["alpha one", "beta two", "gamma three"]
    texts = ["x alpha one beta two", "nothing", "beta two and gamma three", "alpha one"]
    assert relevant_fact_ranks(texts, facts) == [[0, 1], [], [1, 2], [0]]
    assert relevant_fact_ranks(texts, facts, k=2) == [[0, 1], []]
    assert relevant_fact_ranks([], facts) == []


# --------------------------------------------------------------- retrieval


def test_map_counts_only_first_matches_example_from_spec():
    facts = ["fact zero here", "fact one here", "fact two here"]
    texts = _chunks(10, {1: "fact zero here. fact one here.", 4: "fact one here. fact two here."})
    assert relevant_fact_ranks(texts, facts)[1] == [0, 1]
    assert relevant_fact_ranks(texts, facts)[4] == [1, 2]
    s = retrieval_scores(texts, facts)
    assert s["map@10"] == pytest.approx((2 / 2 + 1 / 5) / 3)
    assert s["map@10"] == pytest.approx(0.4)
    assert s["mrr@10"] == pytest.approx(0.5)
    assert s["hits@4"] == 1.0
    assert s["hits@10"] == 1.0
    assert s["fact_coverage@10"] == 1.0


def test_map_divides_by_ten_when_more_than_ten_facts():
    facts = [f"gold fact number {i}." for i in range(12)]
    texts = _chunks(10, {0: facts[0] + " " + facts[1], 2: facts[5]})
    s = retrieval_scores(texts, facts)
    assert s["map@10"] == pytest.approx((2 / 1 + 1 / 3) / 10)
    assert s["fact_coverage@10"] == pytest.approx(3 / 12)
    assert s["mrr@10"] == 1.0


def test_hits_boundary_rank4_vs_rank5():
    facts = ["the needle sentence"]
    at4 = retrieval_scores(_chunks(10, {3: "the needle sentence"}), facts)
    assert (at4["hits@4"], at4["hits@10"]) == (1.0, 1.0)
    assert at4["mrr@10"] == pytest.approx(0.25)
    assert at4["map@10"] == pytest.approx(0.25)
    at5 = retrieval_scores(_chunks(10, {4: "the needle sentence"}), facts)
    assert (at5["hits@4"], at5["hits@10"]) == (0.0, 1.0)
    assert at5["mrr@10"] == pytest.approx(0.2)
    assert at5["map@10"] == pytest.approx(0.2)


def test_rank_11_is_ignored_and_nothing_relevant_gives_zero():
    facts = ["the needle sentence"]
    s = retrieval_scores(_chunks(12, {10: "the needle sentence"}), facts)
    assert s == {"hits@4": 0.0, "hits@10": 0.0, "mrr@10": 0.0, "map@10": 0.0, "fact_coverage@10": 0.0}
    assert retrieval_scores([], facts)["mrr@10"] == 0.0


def test_two_facts_in_same_chunk_at_rank_1():
    facts = ["first fact.", "second fact.", "third fact.", "fourth fact."]
    s = retrieval_scores(_chunks(10, {0: "first fact. second fact."}), facts)
    assert s["map@10"] == pytest.approx(2 / 4)
    assert s["fact_coverage@10"] == pytest.approx(0.5)


def test_duplicate_facts_follow_paper_script():
    # Each listed fact counts in the denominator, but the paper credits a string once.
    facts = ["same fact.", "same fact.", "other fact."]
    s = retrieval_scores(_chunks(10, {0: "same fact. other fact."}), facts)
    assert s["map@10"] == pytest.approx(2 / 3)
    assert s["fact_coverage@10"] == 1.0


def test_no_facts_gives_none():
    s = retrieval_scores(["anything"], [])
    assert set(s) == {"hits@4", "hits@10", "mrr@10", "map@10", "fact_coverage@10"}
    assert all(v is None for v in s.values())


# --------------------------------------------------------------- aggregate


def test_aggregate_plain_and_grouped_with_none():
    rows = [
        {"t": "inference", "acc": True, "mrr": 1.0},
        {"t": "inference", "acc": False, "mrr": 0.5},
        {"t": "null", "acc": True, "mrr": None},
        {"t": "comparison", "acc": False, "mrr": 0.0},
    ]
    plain = aggregate(rows, ["acc", "mrr"])
    assert plain["acc"] == pytest.approx(0.5)
    assert plain["mrr"] == pytest.approx(0.5)
    assert plain["n"] == 4

    g = aggregate(rows, ["acc", "mrr"], group_key="t")
    assert set(g) == {"overall", "inference", "null", "comparison"}
    assert g["overall"] == plain
    assert g["inference"] == {"acc": pytest.approx(0.5), "mrr": pytest.approx(0.75), "n": 2}
    assert g["null"] == {"acc": 1.0, "mrr": None, "n": 1}
    assert g["comparison"] == {"acc": 0.0, "mrr": 0.0, "n": 1}


def test_aggregate_empty():
    assert aggregate([], ["x"]) == {"x": None, "n": 0}


# --------------------------------------------------------------- paper accuracy


def test_paper_accuracy():
    assert paper_accuracy("Sam Bankman-Fried", "Sam Bankman-Fried")
    assert paper_accuracy("It was sam altman", "Sam Bankman-Fried")  # lenient: "sam"
    assert paper_accuracy("YES", "Yes")
    assert not paper_accuracy("Yes.", "yes")  # punctuation kept, as in the script
    assert not paper_accuracy("Google", "Apple")
    assert not paper_accuracy("", "Apple")
    # Lenient quirk on null queries: any reply with the token "information." passes ...
    assert paper_accuracy("I have no information.", "Insufficient information.")
    # ... but, as the script splits on whitespace only, "information" without the full stop does not.
    assert not paper_accuracy("I have no information", "Insufficient information.")
    assert paper_accuracy("The insufficient data", "Insufficient information.")


# --------------------------------------------------------------- normalised match


def test_normalize_answer():
    assert normalize_answer("  The   Answer is: Sam Bankman-Fried! ") == "answer is sam bankman fried"
    assert normalize_answer("An apple, a day") == "apple day"
    assert normalize_answer("Google\u2019s 2023 plan") == "google s 2023 plan"


@pytest.mark.parametrize(
    "pred,gold,expected",
    [
        ("Yes.", "yes", True),
        ("yes", "Yes", True),
        ("No, it did not", "no", True),
        ("No.", "No", True),
        ("Yes", "No", False),
        ("No", "yes", False),
        ("The answer is yes.", "Yes", True),
        ("Correct, both reported it.", "Yes", True),
        ("That is false.", "no", True),
        ("Based on the two articles from the sources given, yes.", "Yes", True),
        ("True", "True", True),
        ("Maybe", "Yes", False),
        ("", "no", False),
        ("Insufficient information.", "no", False),
    ],
)
def test_normalized_match_yes_no(pred, gold, expected):
    assert normalized_match(pred, gold) is expected


@pytest.mark.parametrize(
    "pred,gold,expected",
    [
        ("The answer is Sam Bankman-Fried.", "Sam Bankman-Fried", True),
        ("sam bankman fried", "Sam Bankman-Fried.", True),
        ("Sam Bankman-Fried's trial", "Sam Bankman-Fried", True),
        ("Sam Altman", "Sam Bankman-Fried", False),
        ("Bankman-Fried Sam", "Sam Bankman-Fried", False),
        ("Google", "Google", True),
        ("Googleplex", "Google", False),
        ("Inconsistent", "Consistent", False),
        ("I don't know whether Google did it", "Google", False),
    ],
)
def test_normalized_match_entities(pred, gold, expected):
    assert normalized_match(pred, gold) is expected


@pytest.mark.parametrize(
    "pred,expected",
    [
        ("Insufficient information.", True),
        ("The sources do not say.", True),
        ("", True),
        ("I have no information", True),
        ("Google", False),
        ("Yes, the sources say so.", False),
        ("Insufficient", False),
    ],
)
def test_normalized_match_null_gold(pred, expected):
    assert normalized_match(pred, "Insufficient information.") is expected


# --------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "text",
    [
        "Insufficient information.",
        "insufficient information",
        "The sources do not say.",
        "The sources don't answer this question.",
        "The sources don\u2019t answer who did it.",
        "I don't know.",
        "There is not enough information to answer.",
        "This cannot be determined from the sources.",
        "No information is available on this.",
        "There is no relevant information in the articles.",
        "The provided articles do not mention this event.",
        "I cannot determine the answer.",
        "Unknown",
        "",
        "   \n",
    ],
)
def test_is_refusal_positive(text):
    assert is_refusal(text)


@pytest.mark.parametrize(
    "text",
    [
        "Yes, the sources say X.",
        "Yes",
        "No, it did not.",
        "No.",
        "Sam Bankman-Fried",
        "Google, according to the sources.",
        "The information was reported by TechCrunch first.",
        "There is no doubt that Apple released it.",
    ],
)
def test_is_refusal_negative(text):
    assert not is_refusal(text)


# --------------------------------------------------------------- percentile


def test_percentile():
    assert percentile([1, 2, 3, 4], 50) == pytest.approx(2.5)
    assert percentile([1, 2, 3, 4], 95) == pytest.approx(3.85)
    assert percentile([4, 1, 3, 2], 0) == 1.0
    assert percentile([4, 1, 3, 2], 100) == 4.0
    assert percentile([7.0], 90) == 7.0
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile([1.0], 101)


@pytest.mark.parametrize(
    "reply, short",
    [
        ("Yes, the Fortune article says so [2].", "Yes"),
        ("Sam Altman, a former CEO of OpenAI, left [1][3].", "Sam Altman"),
        ("Google [4]. It was sued.", "Google"),
        (
            "Insufficient information: the sources do not say.",
            "Insufficient information: the sources do not say",
        ),
        ("No.", "No"),
    ],
)
def test_short_answer_is_the_leading_clause(reply, short):
    assert short_answer(reply) == short
    assert paper_accuracy(short_answer("Yes, they do [1]."), "Yes") and not paper_accuracy(
        "Yes, they do [1].", "Yes"
    )


def test_yes_no_calibration_exact_values():
    margins = [(2.0, True), (1.0, False), (0.5, True), (-1.0, False)]
    assert yes_no_calibration(margins, 0.6) == {
        "n": 4,
        "gold_yes_share": 0.5,
        "auc": 0.75,
        "threshold": 0.6,
        "accuracy": 0.5,
        "accuracy_at_0": 0.75,
        "best_threshold": -0.25,
        "best_accuracy": 0.75,
    }
    assert yes_no_calibration([], 0.6) == {"n": 0}
    assert yes_no_calibration([(1.0, True)], 0.0)["auc"] is None
