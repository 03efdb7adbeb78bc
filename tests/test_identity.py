"""Stable identity: an article without a URL is known by where it lives, so editing it replaces it in place."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ingest import load_inputs

OLD = "The harbour authority counted zebrafinch crates on the quay before the strike began."
NEW = "The harbour authority counted quokkaline crates on the quay after the strike ended."

FILES = {
    "note.txt": lambda body: f"Dock strike enters third day\n\n{body}\n",
    "story.md": lambda body: f"---\ntitle: Dock strike enters third day\nsource: Quay Times\n---\n\n{body}\n",
    "page.html": lambda body: (
        "<html><head><title>Dock strike enters third day</title></head><body><article>"
        f"<h1>Dock strike enters third day</h1><p>{body}</p><p>{body}</p></article></body></html>"
    ),
    "rows.jsonl": lambda body: (
        "\n".join(
            json.dumps(r)
            for r in (
                {"title": "Dock strike enters third day", "source": "Quay Times", "body": body},
                {
                    "title": "Ferry timetable changes",
                    "source": "Quay Times",
                    "body": "Ferries run hourly from May.",
                },
            )
        )
        + "\n"
    ),
}


def assistant(settings):
    from rag.assistant import Assistant

    return Assistant(settings)


def ids(inputs) -> list[str]:
    return [a.doc_id for r in load_inputs(inputs) for a in r.articles]


def stored_texts(a) -> str:
    return " ".join(a.collection.get(include=["documents"])["documents"])


@pytest.mark.parametrize("name", sorted(FILES))
def test_editing_a_file_replaces_its_article_in_place(name, settings, tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    path = folder / name
    path.write_text(FILES[name](OLD), encoding="utf-8")
    a = assistant(settings)
    first = a.ingest([folder])
    assert (first.new, first.failed) == (len(first.doc_ids), 0)
    before = sorted(first.doc_ids)
    assert all(d.startswith("p-") for d in before)
    articles = a.stats()["articles"]

    path.write_text(FILES[name](NEW), encoding="utf-8")
    second = a.ingest([folder])
    assert sorted(second.doc_ids) == before
    assert (second.new, second.updated, second.failed) == (0, 1, 0)
    assert a.stats()["articles"] == articles
    assert "zebrafinch" not in stored_texts(a) and "quokkaline" in stored_texts(a)
    assert all("zebrafinch" not in h.node.get_content() for h in a.retrieve("zebrafinch crates quay"))
    assert any("quokkaline" in h.node.get_content() for h in a.retrieve("quokkaline crates quay"))


def test_the_same_folder_from_another_working_directory_gives_the_same_ids(tmp_path, monkeypatch):
    folder = tmp_path / "corpus"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.txt").write_text("Alpha\nAlpha body.", encoding="utf-8")
    (folder / "sub" / "b.jsonl").write_text(
        '{"id": 7, "title": "Beta", "body": "Beta body."}\n', encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    from_parent = ids([Path("corpus")])
    monkeypatch.chdir(folder / "sub")
    from_inside = ids([Path("../../corpus/")])
    assert from_parent == from_inside == ids([folder])
    assert [a.key for r in load_inputs([folder]) for a in r.articles] == [
        "corpus/a.txt",
        "corpus/sub/b.jsonl#id:7",
    ]
    monkeypatch.chdir(folder)
    assert (
        ids([Path("a.txt")]) == ids([folder / "a.txt"]) == from_parent[:1]
    )  # a file alone: "<folder>/<name>"


def test_two_folders_holding_the_same_file_name_do_not_collide(tmp_path):
    for outlet in ("one", "two"):
        (tmp_path / outlet).mkdir()
        (tmp_path / outlet / "index.txt").write_text(
            f"Headline {outlet}\nBody of {outlet}.", encoding="utf-8"
        )
    assert len(set(ids([tmp_path / "one", tmp_path / "two"]))) == 2


def test_json_rows_keep_their_id_when_rows_are_inserted_above(tmp_path):
    path = tmp_path / "rows.json"
    rows = [
        {"guid": "x-1", "title": "One", "body": "First."},
        {"title": "Two", "source": "S", "body": "Second."},
    ]
    path.write_text(json.dumps(rows), encoding="utf-8")
    before = ids([path])
    path.write_text(json.dumps([{"title": "Zero", "body": "New."}, *rows]), encoding="utf-8")
    assert ids([path])[1:] == before


FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>Quay Times</title>
<item><title>Tide tables revised</title><description>The port revised its tide tables for {month}.</description></item>
</channel></rss>"""


def test_a_feed_item_without_link_or_guid_is_ingested_once(settings, tmp_path):
    path = tmp_path / "feed.xml"
    path.write_text(FEED.format(month="June"), encoding="utf-8")
    a = assistant(settings)
    first = a.ingest([path])
    assert (first.new, first.unchanged) == (1, 0)
    again = a.ingest([path])
    assert (again.new, again.updated, again.unchanged) == (0, 0, 1)
    path.write_text(FEED.format(month="July"), encoding="utf-8")
    edited = a.ingest([path])
    assert (edited.new, edited.updated, edited.doc_ids) == (0, 1, first.doc_ids)
    assert a.stats()["articles"] == 1


GUID_FEED = """<?xml version="1.0"?><rss version="2.0"><channel><title>Quay Times</title>
<item><guid>{guid}</guid><title>Tide tables revised</title><description>The port revised its tide tables for
June after the survey vessel found the channel two metres shallower than charted near the northern
breakwater.</description></item>{extra}</channel></rss>"""
OTHER_ITEM = (
    "<item><guid>b-1</guid><title>Ferry fares frozen</title><description>Ferry fares stay at last year's "
    "level until October, the operator said.</description></item>"
)


def test_a_feed_that_changes_an_items_guid_replaces_the_stored_item(settings, tmp_path):
    path = tmp_path / "feed.xml"
    path.write_text(GUID_FEED.format(guid="a-1", extra=""), encoding="utf-8")
    a = assistant(settings)
    first = a.ingest([path])
    path.write_text(GUID_FEED.format(guid="a-2", extra=OTHER_ITEM), encoding="utf-8")
    second = a.ingest([path])
    assert (second.new, second.updated, second.unchanged) == (1, 1, 0)
    assert second.replaced == first.doc_ids
    assert a.stats()["articles"] == 2
    stored = {m["doc_id"] for m in a.collection.get(include=["metadatas"])["metadatas"]}
    assert stored == set(second.doc_ids)
    # the replacement keeps the story it belonged to
    story = {m["story_id"] for m in a.collection.get(where={"doc_id": second.doc_ids[0]})["metadatas"]}
    assert story == set(first.doc_ids)


def test_a_copy_from_another_outlet_or_under_another_title_is_not_a_reissue(settings, tmp_path):
    a = assistant(settings)
    path = tmp_path / "feed.xml"
    path.write_text(GUID_FEED.format(guid="a-1", extra=""), encoding="utf-8")
    a.ingest([path])
    other = tmp_path / "other.xml"
    other.write_text(GUID_FEED.format(guid="a-2", extra="").replace("Quay Times", "Harbour Gazette"), "utf-8")
    retitled = tmp_path / "retitled.xml"
    retitled.write_text(
        GUID_FEED.format(guid="a-3", extra="").replace("Tide tables revised", "Tides"), "utf-8"
    )
    report = a.ingest([other, retitled])
    assert (report.new, report.updated, report.replaced) == (2, 0, [])
    assert a.stats()["articles"] == 3


def test_an_article_stored_under_an_older_id_is_replaced_not_duplicated(settings, tmp_path):
    from rag.indexing import write

    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "note.txt").write_text(FILES["note.txt"](OLD + " " + NEW), encoding="utf-8")
    a = assistant(settings)
    legacy = list(load_inputs([folder]))
    for article in legacy[0].articles:
        article.key = ""  # as stored before ids came from paths: from the content
    old = write(legacy, a.collection, a.embedder, a.settings)
    assert old.doc_ids[0].startswith("c-")
    report = a.ingest([folder])
    assert (report.new, report.updated, report.replaced) == (0, 1, old.doc_ids)
    assert report.doc_ids[0].startswith("p-")
    assert a.stats()["articles"] == 1
