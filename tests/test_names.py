"""Name answers checked against the evidence: which names it holds, when one replaces the model's, full forms."""

import pytest

from rag.answer.names import alternatives, evidence_names, full_name
from rag.assistant import Assistant
from rag.tuning import Tuning
from tests.conftest import ScriptedLLM
from tests.test_citations import src

QUESTION = (
    "Who is the founder accused of misusing customer deposits, as reported by the Harbour Post, and of "
    "hiding losses from auditors, according to the Daily Meridian?"
)
OUTLETS = ["Harbour Post", "Daily Meridian"]
TRIAL = [
    src(1, "Prosecutors said Varga moved customer deposits into Lumen Capital. Judge Ana Ortiz denied bail."),
    src(2, "Auditors told the court that Varga hid losses from them. Lumen Capital kept two sets of books."),
    src(3, "Milo Varga founded the exchange in 2019. On Tuesday, Varga's lawyers asked for more time."),
]


def test_names_in_the_evidence_with_the_sources_that_hold_them():
    assert evidence_names(QUESTION, TRIAL, OUTLETS) == [
        ("Milo Varga", 3),
        ("Lumen Capital", 2),
        ("Ana Ortiz", 1),
    ]
    # titles go ("Judge Ana Ortiz"); "Prosecutors", "Auditors" open their sentences and appear nowhere else capitalised: not names;
    # "Tuesday" is a day; "Harbour Post" and "Daily Meridian" are outlets.


@pytest.mark.parametrize(
    ("answer", "options"),
    [
        ("Sam Reyes", ["Milo Varga"]),  # in no source: the name three sources hold instead
        ("Ana Ortiz", ["Milo Varga"]),  # in one source, while another name is in three
        ("Milo Varga", []),  # corroborated: it stands
        ("Lumen Capital", []),  # in two sources: it stands
        ("The founder moved customer deposits into a fund he controlled", []),  # a sentence, not a name
    ],
)
def test_an_answer_the_evidence_does_not_bear_out_gets_the_best_corroborated_names(answer, options):
    assert alternatives(answer, QUESTION, TRIAL, OUTLETS) == options


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Officials said French President Emmanuel Macron agreed.", "Emmanuel Macron"),
        ("The filing quoted Fed Chair Paul Volcker.", "Paul Volcker"),
        ("The report by CNBC's Dawn Giel followed.", "Dawn Giel"),
        ("Shares in General Motors fell.", "General Motors"),  # two words: a name, not a title and a name
        ("Fans of the Premier League cheered.", "Premier League"),
    ],
)
def test_titles_before_a_name_are_dropped(text, name):
    assert evidence_names("Who was it?", [src(1, text)], []) == [(name, 1)]


def test_no_alternative_without_a_name_held_by_two_sources():
    sources = [
        src(1, "Prosecutors said Varga moved customer deposits."),
        src(2, "Auditors found hidden losses."),
    ]
    assert evidence_names(QUESTION, sources, OUTLETS) == [("Varga", 1)]
    assert alternatives("Sam Reyes", QUESTION, sources, OUTLETS) == []


def test_an_acronym_counts_as_the_name_whose_initials_it_is():
    sources = [
        src(1, "Prosecutors said Bankman-Fried moved customer deposits."),
        src(2, "Auditors said SBF hid losses. Judge Ana Ortiz denied bail."),
    ]
    full = {"Bankman-Fried": "Sam Bankman-Fried"}.get
    assert evidence_names(QUESTION, sources, OUTLETS, lambda n: full(n, n)) == [
        ("Bankman-Fried", 2),
        ("Ana Ortiz", 1),
    ]
    assert alternatives("Sam Reyes", QUESTION, sources, OUTLETS, lambda n: full(n, n)) == ["Bankman-Fried"]
    # without the full form "SBF" is only "BF" short of "Bankman-Fried"'s own initials: two names, one source each
    assert evidence_names(QUESTION, sources, OUTLETS) == [("Bankman-Fried", 1), ("SBF", 1), ("Ana Ortiz", 1)]
    # initials as the sources give them are enough; a name's initials that merely end the acronym are not
    sources = [
        src(1, "Customers sued Lumen Capital."),
        src(2, "Lawyers for LC denied it. Milo Varga said IMV would appeal."),
    ]
    assert evidence_names(QUESTION, sources, OUTLETS) == [("Lumen Capital", 2), ("Milo Varga", 1), ("IMV", 1)]


def test_equally_corroborated_names_are_all_offered():
    sources = [src(1, "The filing named Varga and Lumen Capital."), src(2, "Varga ran Lumen Capital.")]
    assert alternatives("Sam Reyes", QUESTION, sources, OUTLETS) == ["Varga", "Lumen Capital"]
    # a capitalised first word is a name when the sources also capitalise it inside a sentence
    sources[0] = src(1, "The filing named Lumen Capital. Varga ran it.")
    assert alternatives("Sam Reyes", QUESTION, sources, OUTLETS) == ["Lumen Capital"]


def test_a_one_word_name_gets_the_names_news_put_before_its_first_mention():
    texts = [
        "Milo Varga founded the exchange. Varga denied it.",
        "Prosecutors said Milo Varga lied.",
        "But Varga told the jury otherwise.",
        "But Milo Varga, 31, testified.",
        "Varga's lawyer, Ana Ortiz, spoke.",
    ]
    assert full_name("Varga", texts) == "Milo Varga"  # "But" is no name: the texts also have "but"
    assert full_name("Milo Varga", texts) == "Milo Varga"  # already full
    games = [
        "Kansas City Chiefs won again. The Chiefs lead.",
        "Kansas City Chiefs fans cheered.",
        "Chiefs win.",
    ]
    assert full_name("Chiefs", games) == "Kansas City Chiefs"
    # once only before its first mention ("Old Lumen"): not the name's; a title is not a first name
    assert full_name("Lumen", ["Lumen Capital grew.", "Lumen said so.", "Old Lumen fans left."]) == "Lumen"
    assert full_name("Xi", ["Chinese President Xi met Biden.", "Chinese President Xi spoke."]) == "Xi"


class PickingLLM(ScriptedLLM):
    """A scripted LLM that can also be held to options (rag.backends.llms.pick): it takes the last one offered."""

    def __init__(self, *replies):
        super().__init__(*replies)
        self.offered = []

    def pick(self, messages, options):
        self.offered.append(options)
        return options[-1]


SUMMIT = "Who hosted the Paris summit on a reassurance force for Ukraine?"


def test_a_name_the_evidence_does_not_hold_gives_way_to_the_one_it_corroborates(demo):
    # Zelensky is in source 3's text, not in the sentences shown; Macron is in those of sources 1 and 3 (three
    # sentences a source, three sources); "European" (troops, force) describes and names no one
    settings = demo.settings.model_copy(update={"tuning": Tuning(sentences_per_source=3, name_sources=3)})
    answer = Assistant(settings, llm=ScriptedLLM("Volodymyr Zelensky [3]")).ask(SUMMIT)
    assert answer.text == (
        "Emmanuel Macron [1]. French President Emmanuel Macron said on Thursday, 27 March, that a European "
        '"reassurance force" would be deployed to Ukraine by a group of willing countries once a peace deal was '
        "signed, even though not every ally supported the plan [1]."
    )
    assert [(c.n, c.verified) for c in answer.citations] == [(1, True)]

    llm = PickingLLM("Volodymyr Zelensky [3]")
    answer = Assistant(settings, llm=llm).ask(SUMMIT)
    assert llm.offered == []  # one best-corroborated name: nothing to choose
    assert answer.text.startswith("Emmanuel Macron [1]")


def test_a_name_no_source_holds_is_still_no_answer(demo):
    llm = PickingLLM("Olaf Scholz")
    answer = Assistant(demo.settings, llm=llm).ask(SUMMIT)
    assert answer.text == "Insufficient information: the sources do not say." and llm.offered == []


def test_a_one_word_name_answer_is_given_in_full(demo):
    answer = Assistant(demo.settings, llm=ScriptedLLM("Macron [1]")).ask(SUMMIT)
    assert answer.text.startswith("Emmanuel Macron [1]. French President Emmanuel Macron said on Thursday")


@pytest.mark.parametrize(
    "reply, question, name",
    [
        ("Starmer announced the coalition [1][2].", "Who announced the coalition?", "Starmer"),
        (
            "Sam Bankman-Fried was convicted of fraud",
            "Who was convicted of fraud in November?",
            "Sam Bankman-Fried",
        ),
        ("Keir Starmer [1].", "Who announced the coalition?", "Keir Starmer"),
        (
            "The coalition of the willing [2].",
            "Which coalition did Starmer announce?",
            "The coalition of the willing",
        ),
        ("OpenAI and Microsoft", "Which firm partnered with Microsoft?", "OpenAI and Microsoft"),
    ],
)
def test_the_name_a_reply_gives_leaves_out_its_echo_of_the_question(reply, question, name):
    from rag.answer.compose import lead

    assert lead(reply, question) == name
