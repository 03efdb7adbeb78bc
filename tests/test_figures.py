"""A question asking for a figure is answered only when a source sentence holds a figure of that kind."""

from __future__ import annotations

import pytest

from rag.answer.figures import Asked, asked_figure, figures, gives_figure, missing_figure


@pytest.mark.parametrize(
    "question, asked",
    [
        ("how many points did everton get docked?", Asked("count", "points")),
        ("How much did OpenAI pay Emmett Shear?", Asked("money")),
        ("how much does beeper mini cost?", Asked("money")),
        ("how much bigger is the new stadium?", Asked("figure")),
        ("how big would the european force be?", Asked("figure")),
        ("how many more goals does he need for the record?", Asked("count", "goals")),
        ("how much got wagered in the first month?", Asked("money")),
        ("how many paying subscribers does it have now?", Asked("count", "subscribers")),
        ("how many people did it hit?", Asked("count", "people")),
        ("how many battery-swapping stations does gogoro want?", Asked("count", "stations")),
        ("how many premier league goals has he scored?", Asked("count", "goals")),
        ("how big a fine is tiktok facing?", Asked("money")),
        ("what was the score in the derby?", Asked("score")),
        ("what were the judges' scores?", Asked("score")),
        ("what's kestrel's full-year revenue?", Asked("money")),
        ("what is the jobless rate in Spain?", Asked("figure", "jobless rate")),
        ("what's ohtani's batting average so far?", Asked("figure", "batting average")),
        ("what's kestrel's average?", Asked("figure", "average")),
        ("what is Russia's position on peacekeepers?", None),
        ("who won the final?", Asked("winner", "the final")),
        (
            "which team won the davis cup final, australia or italy?",
            Asked("winner", "the davis cup final, australia or italy"),
        ),
        ("who won last week?", None),
        ("what was the score, and who won the final?", Asked("score")),
        ("how did the daily meridian cover the summit?", None),
    ],
)
def test_the_kind_of_figure_asked_for(question, asked):
    assert asked_figure(question) == asked


def test_years_and_days_of_dates_are_not_figures():
    assert figures("On Tuesday, 18 February 2025, the bank cut rates by 25 basis points to 4.10%.") == [
        "25",
        "4.10%",
    ]
    assert figures("It was founded in 1989.") == []


SOURCES = [
    "Everton docked points\nThe Guardian | 2023-11-24\n\nEverton's appeal against the 10-point deduction will be "
    "heard in the spring. The club sits on four points.",
    "Derby report\nSports Desk | 2025-02-03\n\nWestbury United beat Kingsford City 2-1 on Saturday, 1 February. "
    "The transfer fee was €48 million.",
]


@pytest.mark.parametrize(
    "question, reason",
    [
        ("how many points did everton get docked?", None),
        ("how many fans did everton lose?", "The sources found do not give how many fans."),
        ("what was the score in westbury united's game against kingsford city?", None),
        ("what was the score in the everton game?", "The sources found do not give the score."),
        ("how much did westbury united pay for the striker?", None),
        ("how much did everton pay for its new stadium?", "The sources found do not give the amount."),
        ("what did everton say about the deduction?", None),
    ],
)
def test_a_figure_of_the_asked_kind_said_of_the_question_s_subject(question, reason):
    assert missing_figure(question, SOURCES) == reason


def test_dates_money_and_light_verbs_are_not_what_a_figure_question_is_about():
    stake = "Meltwater investment\nTechCrunch | 2023-12-18\n\nVerdane is taking a stake in Meltwater, valued at $65 million."
    assert missing_figure("who put money into meltwater yesterday, and how much?", [stake]) is None
    assert (
        missing_figure("how much did kestrel pay last week?", [stake])
        == "The sources found do not give the amount."
    )


DAVIS = [
    "Davis Cup\nThe Age | 2023-11-25\n\nItaly's Davis Cup semi-final victory over Serbia was Sinner's second win "
    "over Djokovic. Australia hope to beat Italy in the Davis Cup final. Canada defeated rivals Italy "
    "in the Davis Cup final group stage. The Buckeyes have Heisman Trophy candidate Marvin Harrison Jr., who "
    "shone when Ohio State beat Penn State 20-12. Popyrin won his only clash with Musetti, but the emerging Italian "
    "claimed three of their four showdowns. The season featured an ATP finals showdown victory over Sinner, with "
    "a second Davis Cup title to come.",
    "Cricket\nThe Guardian | 2023-12-21\n\nThe T20 series went the distance. The fifth game was eventually won "
    "for West Indies with four balls to spare. Jayden Daniels is the 2023 Heisman Trophy winner.",
    # a side's win in another competition's final
    "Cricket\nZee Business | 2023-11-19\n\nWounds are still to be healed, as Australia beat India in the 2003 final.",
]


@pytest.mark.parametrize(
    "question, reason",
    [
        # a semi-final, a hope, and the losing side are no result of the final
        (
            "who won the davis cup final, australia or italy?",
            "The sources found do not say who won the davis cup final, australia or italy.",
        ),
        ("who won the t20 decider between west indies and england?", None),  # a side named as the winner
        ("who won the heisman trophy?", None),  # a winner word after what was won
        (
            "who won the nba in-season tournament?",
            "The sources found do not say who won the nba in-season tournament.",
        ),
    ],
)
def test_who_won_needs_a_sentence_that_names_the_winner(question, reason):
    assert missing_figure(question, DAVIS) == reason


def test_a_side_wins_what_was_asked_when_the_other_side_or_the_prize_follows():
    final = "Davis Cup\nThe Age | 2023-11-27\n\nItaly beat Australia 2-0 in Malaga."
    assert missing_figure("who won the davis cup final, australia or italy?", [final]) is None
    prize = "Davis Cup\nThe Age | 2023-11-27\n\nIn Malaga, Italy won the Davis Cup."
    assert missing_figure("who won the davis cup, australia or italy?", [prize]) is None
    # what was won named in the article, the sentence naming its last word: "won by" the winner
    odi = "ICC Cricket World Cup\nZee | 2023-11-20\n\nThe final of the ODI World Cup was won by Australia, beating India."
    assert missing_figure("who won the cricket world cup final?", [odi]) is None
    stage = "Davis Cup\nThe Age | 2023-11-24\n\nThe final is on Sunday. Canada defeated Italy in the Davis Cup group stage."
    assert missing_figure("who won the davis cup final?", [stage]) == (
        "The sources found do not say who won the davis cup final."
    )


def test_a_headline_s_figure_is_said_of_what_its_article_is_about():
    sphere = "Inside the $US2.3b venue\nSMH | 2023-10-19\n\nThe Sphere has opened on the Las Vegas skyline."
    assert missing_figure("how much did the sphere in las vegas cost to build?", [sphere]) is None
    assert missing_figure("how much did the london eye cost to build?", [sphere]) == (
        "The sources found do not give the amount."
    )


def test_who_won_a_game_named_only_by_its_day_is_told_by_a_scored_win():
    game = "Dolphins vs. Eagles\nSporting News | 2023-10-22\n\nThe Eagles won again. They rolled to a 31-17 win over Miami."
    assert missing_figure("who won the sunday night game last night?", [game]) is None
    preview = "Dolphins vs. Eagles\nSporting News | 2023-10-22\n\nThe Eagles won again. They host Miami on Sunday night."
    assert missing_figure("who won the sunday night game last night?", [preview]) == (
        "The sources found do not say who won the sunday night game last night."
    )
    # with its sides named, a scored win of other sides says nothing
    assert missing_figure("who won the game between the jets and the chiefs?", [game]) is not None
    # both sides typed side by side, and a scored win naming both
    night = "Bills vs. Bengals\nSporting News | 2023-11-05\n\nThe Bengals won their fourth straight, beating the Bills 24-18."
    assert missing_figure("who won bills bengals last night?", [night]) is None
    assert missing_figure("who won dolphins bengals last night?", [night]) == (
        "The sources found do not say who won dolphins bengals last night."
    )


def test_a_measure_asked_for_must_be_the_one_the_sentence_gives():
    contract = [
        "Deal\nNYT | 2023-12-11\n\nThe deferrals lower Ohtani's average annual value to $25.5 million."
    ]
    assert missing_figure("what's ohtani's batting average?", contract) == (
        "The sources found do not give the figure asked for."
    )
    assert missing_figure("what's ohtani's average annual value?", contract) is None


def test_a_date_is_not_a_scoreline():
    assert missing_figure(
        "what was the score in westbury's game?", ["Westbury game\nX | 2025-02-03\n\nIt rained."]
    ) == ("The sources found do not give the score.")


CUBIC = [
    "Deal\nTechCrunch | 2023-12-05\n\nTo be clear, the investment comes from SoftBank Corp. The Vision Fund "
    "has put $100 billion into startups.",
    "Deal\nTechCrunch | 2023-12-05\n\nCubic Telecom has picked up €473 million from SoftBank Corp. It was "
    "founded in Dublin.",
]


def test_the_chunk_an_article_answers_a_figure_question_from_gives_that_figure_of_its_subject():
    from llama_index.core.schema import NodeWithScore, TextNode

    from rag.assistant import _figure_first

    question = "how much did softbank pay for its cubic telecom stake?"
    assert [gives_figure(question, text) for text in CUBIC] == [False, True]  # $100 billion is the fund's
    hits = [
        NodeWithScore(node=TextNode(id_=f"c:{i}", text=text, metadata={"doc_id": "c"}), score=1.0 - i / 10)
        for i, text in enumerate(CUBIC)
    ]
    assert [h.node.node_id for h in _figure_first(hits, question)] == ["c:1", "c:0"]
    assert missing_figure(question, CUBIC[:1]) == "The sources found do not give the amount."


def test_a_figure_question_s_evidence_leads_with_the_sentence_giving_that_figure():
    from rag.answer.sources import _best
    from rag.text import terms

    sentences = [
        "Kentucky sports betting sites let fans wager on every sport, from football to college basketball.",
        "The governor said that a month after launch, upwards of $250 million has been wagered.",
    ]
    q_terms = set(terms("how much got wagered on kentucky sports betting in the first month?"))
    assert _best(sentences, q_terms, None, 1) == [0]  # more of the question's words
    assert _best(sentences, q_terms, None, 1, asked=Asked("money")) == [1]


def test_a_figure_of_someone_the_question_names_is_said_of_them():
    preview = (
        "USC odds ahead of Bronny James' debut\nSporting News | 2023-12-09\n\n"
        "USC opened its season against Kansas State. "
        "Gonzaga led by as many as 18 points, overcame Ellis scoring 28 and outscored the Trojans 21-8."
    )
    question = "How many points did Bronny James score in his USC debut against Long Beach State?"
    assert missing_figure(question, [preview]) == "The sources found do not give how many points."
    debut = preview + " Bronny James scored four points in his debut as USC beat Long Beach State."
    assert missing_figure(question, [debut]) is None
    # one word of a name is enough where the name has two ("James")
    assert (
        missing_figure(
            "How many points did Bronny James score?", ["T\nO | 2023-12-11\n\nJames scored 4 points."]
        )
        is None
    )
