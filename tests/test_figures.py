"""A question asking for a figure is answered only when a source sentence holds a figure of that kind."""

from __future__ import annotations

import pytest

from rag.answer.figures import Asked, asked_figure, figures, missing_figure


@pytest.mark.parametrize(
    "question, asked",
    [
        ("how many points did everton get docked?", Asked("count", "points")),
        ("How much did OpenAI pay Emmett Shear?", Asked("money")),
        ("how much does beeper mini cost?", Asked("money")),
        ("how much bigger is the new stadium?", Asked("figure")),
        ("how big would the european force be?", Asked("figure")),
        ("what was the score in the derby?", Asked("score")),
        ("what were the judges' scores?", Asked("score")),
        ("what's kestrel's full-year revenue?", Asked("money")),
        ("what is the jobless rate in Spain?", Asked("figure")),
        ("what is Russia's position on peacekeepers?", None),
        ("who won the final?", None),
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


def test_a_date_is_not_a_scoreline():
    assert missing_figure(
        "what was the score in westbury's game?", ["Westbury game\nX | 2025-02-03\n\nIt rained."]
    ) == ("The sources found do not give the score.")
