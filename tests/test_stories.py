"""Near-duplicate stories: one wire story run by three outlets is one story, one source slot, "also reported by"."""

from __future__ import annotations

import json

from ingest.stories import THRESHOLD, Stories, signature, similarity
from rag.answer.citations import Source
from rag.answer.names import evidence_names
from rag.answer.sources import also_reported_by

WIRE = (
    "The Port of Valmora will close its northern container terminal for six weeks from 3 March while engineers "
    "replace the quay cranes, the port authority said on Monday. Shipping lines were told to divert about "
    "forty vessels a week to the southern terminal, which will extend its hours to run around the clock. "
    "Harbour master Ilse Brandvik said the cranes, installed in 1989, had reached the end of their working life "
    "and that the new ones would lift twice as many containers an hour. Dock workers' union leader Tomas Reyna "
    "said the union had agreed to the temporary shift pattern after talks that ended late on Sunday. Freight "
    "companies warned that delivery times for imported goods could rise by two or three days during the works. "
    "The port handled 1.2 million containers last year, a record, and expects the upgrade to cost 84 million euros."
)
OUTLETS = {
    "Coastal Ledger": ("Valmora port to shut northern terminal for crane upgrade", WIRE),
    "Morning Anchor": (
        "Valmora's northern terminal closes six weeks for new cranes",
        WIRE.replace("said on Monday", "announced on Monday").replace("warned", "cautioned"),
    ),
    "Inland Courier": (
        "Port of Valmora closes terminal for crane works",
        "VALMORA (Wire) - " + WIRE.replace("a record,", "its busiest year,").replace("84 million", "84m"),
    ),
}
OTHER = [
    {
        "title": "Valmora council approves new tram line",
        "source": "Coastal Ledger",
        "url": "https://coastal.example/tram",
        "published_at": "2025-03-01T08:00:00Z",
        "body": "Valmora's city council approved a twelve-kilometre tram line linking the port district with the "
        "university campus. Construction is due to start next spring and the first trams should run in 2028. "
        "Mayor Petra Lund said the line would cut car traffic in the old town by a fifth.",
    },
    {
        "title": "Valmora fishing fleet reports strong herring season",
        "source": "Morning Anchor",
        "url": "https://anchor.example/herring",
        "published_at": "2025-03-02T08:00:00Z",
        "body": "Valmora's fishing fleet landed its largest herring catch in a decade this winter, the fishermen's "
        "cooperative said. Prices at the quayside auction fell slightly as supply rose, and the cooperative plans "
        "to buy two new trawlers with the proceeds.",
    },
]


def write_corpus(folder, edit: str = "") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    rows = [
        {
            "title": title,
            "source": outlet,
            "author": f"{outlet.split()[0]} Desk",
            "url": f"https://{outlet.split()[0].lower()}.example/valmora-terminal",
            "published_at": f"2025-03-0{3 + i}T09:00:00Z",
            "body": body + edit if i == 1 else body,
        }
        for i, (outlet, (title, body)) in enumerate(OUTLETS.items())
    ]
    (folder / "wire.jsonl").write_text(
        "\n".join(json.dumps(r) for r in rows + OTHER) + "\n", encoding="utf-8"
    )


def stories_of(a) -> dict[str, str]:
    got = a.collection.get(include=["metadatas"])
    return {m["source"] + " " + m["title"]: m["story_id"] for m in got["metadatas"]}


def test_light_edits_stay_above_the_threshold_and_other_stories_below():
    sigs = {o: signature(body) for o, (_, body) in OUTLETS.items()}
    copies = [similarity(sigs[a], sigs[b]) for a in sigs for b in sigs if a < b]
    assert min(copies) >= THRESHOLD
    assert max(similarity(signature(o["body"]), s) for o in OTHER for s in sigs.values()) < 0.2
    stories = Stories()
    assigned = [stories.assign(o, body)[0] for o, (_, body) in OUTLETS.items()]
    assert assigned == ["Coastal Ledger"] * 3
    assert stories.assign("tram", OTHER[0]["body"])[0] == "tram"


def test_three_outlets_one_story_one_slot_also_reported_by(settings, tmp_path):
    from rag.assistant import Assistant

    write_corpus(tmp_path / "news")
    a = Assistant(settings)
    report = a.ingest([tmp_path / "news"])
    assert (report.new, report.failed) == (5, 0)
    story = stories_of(a)
    wire = {story[f"{o} {t}"] for o, (t, _) in OUTLETS.items()}
    first = report.doc_ids[0]
    assert wire == {first}  # one story, named after its first copy
    assert len(set(story.values())) == 3

    answer = a.ask("How long will the Port of Valmora close its northern container terminal?")
    assert answer.answered
    copies = [s for s in answer.sources if s.story_id == first]
    assert len(copies) == 1  # one slot for the three copies
    kept = copies[0]
    others = sorted(o for o in OUTLETS if o != kept.source)
    assert sorted(c["source"] for c in kept.also) == others
    assert all(c["url"].startswith("https://") and c["title"] for c in kept.also)
    assert also_reported_by(kept) == f"Also reported by {', '.join(c['source'] for c in kept.also)}"
    cited = [c for c in answer.citations if c.doc_id == kept.doc_id]
    assert cited and sorted(c["source"] for c in cited[0].also) == others
    as_json = answer.to_dict()
    assert any(len(s["also"]) == 2 for s in as_json["sources"])
    assert all(s["author"].endswith("Desk") for s in as_json["sources"] if s["story_id"] == first)

    # Re-ingesting with one copy edited keeps every story where it was.
    write_corpus(tmp_path / "news", edit=" A spokesperson added that the schedule could still change.")
    again = a.ingest([tmp_path / "news"])
    assert (again.new, again.updated, again.unchanged) == (0, 1, 4)
    assert stories_of(a) == story


def test_a_question_naming_two_outlets_keeps_a_copy_from_each(settings, tmp_path):
    from rag.assistant import Assistant

    write_corpus(tmp_path / "news")
    a = Assistant(settings)
    a.ingest([tmp_path / "news"])
    answer = a.ask("How did Coastal Ledger and Morning Anchor report the Valmora terminal closure?")
    outlets = [s.source for s in answer.sources]
    assert "Coastal Ledger" in outlets and "Morning Anchor" in outlets


def src(n: int, story: str, evidence: str) -> Source:
    return Source(
        n, f"c{n}", f"d{n}", "t", f"Outlet {n}", "", "", evidence, "t\n\n" + evidence, 1.0, story_id=story
    )


def test_name_corroboration_counts_stories_not_copies():
    text = "Harbour master Ilse Brandvik approved the plan."
    copies = [
        src(1, "s1", text),
        src(2, "s1", text),
        src(3, "s1", text),
        src(4, "s2", "Tomas Reyna objected."),
    ]
    assert dict(evidence_names("Who approved the plan?", copies, []))["Ilse Brandvik"] == 1


def test_ask_json_shows_author_and_also(tmp_path):
    from tests.test_indexing import newsrag

    write_corpus(tmp_path / "news")
    data = str(tmp_path / "data")
    assert newsrag("--data-dir", data, "ingest", str(tmp_path / "news")).returncode == 0
    run = newsrag(
        "--data-dir", data, "ask", "--json", "--llm", "extractive", "How long will Valmora's terminal close?"
    )
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout)
    cited = got["citations"][0]
    assert cited["author"] == f"{cited['source'].split()[0]} Desk"
    assert sorted(c["source"] for c in cited["also"]) == sorted(o for o in OUTLETS if o != cited["source"])


def test_an_index_stored_without_signatures_or_bands_is_given_them_once(settings, tmp_path):
    from rag.assistant import Assistant
    from rag.backends.store import change_log
    from rag.backends.story_index import BANDED, SIGNATURE

    write_corpus(tmp_path / "news")
    a = Assistant(settings)
    a.ingest([tmp_path / "news"])
    story = stories_of(a)
    firsts = a.collection.get(where={"chunk_index": 0}, include=["metadatas"])
    assert all(SIGNATURE in m and "lsh_31" in m for m in firsts["metadatas"])
    # as stored by an older version: no signature, no bands, no flag
    stale = {SIGNATURE: None, **{f"lsh_{b}": None for b in range(32)}}
    a.collection.update(ids=firsts["ids"], metadatas=[stale] * len(firsts["ids"]))
    log = change_log(settings)
    log.modify(metadata={BANDED: "none"})
    assert not any(SIGNATURE in m for m in a.collection.get(where={"chunk_index": 0})["metadatas"])

    write_corpus(tmp_path / "news", edit=" A spokesperson added that the schedule could still change.")
    assert a.ingest([tmp_path / "news"]).updated == 1
    assert stories_of(a) == story
    assert all(
        SIGNATURE in m and "lsh_31" in m for m in a.collection.get(where={"chunk_index": 0})["metadatas"]
    )
    assert change_log(settings).metadata[BANDED] == "lsh-v1"
