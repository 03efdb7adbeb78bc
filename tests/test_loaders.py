"""Loaders, ids, dates, bad inputs and chunking, on small files written by each test."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

from ingest.article import Article, canonical_url
from ingest.chunking import chunk_article, count_tokens
from ingest.sources import load_inputs, load_path

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "news"

BODY = (
    "Ministers met in Brussels on Monday to agree a new package of measures for the energy market. "
    "The plan caps wholesale prices for two years and sets aside funds for households.\n\n"
    "Officials said the details would be published next week after a final round of talks with "
    "national regulators and the largest suppliers."
)


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def load_ok(path: Path, n: int = 1) -> list[Article]:
    result = load_path(path)
    assert result.errors == [], [str(e) for e in result.errors]
    assert len(result.articles) == n
    return result.articles


def only_error(path: Path, **kw) -> str:
    """The one error a bad input gives (and no articles)."""
    result = load_path(path, **kw)
    assert result.articles == []
    assert len(result.errors) == 1, [str(e) for e in result.errors]
    return str(result.errors[0])


def ts(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


# ------------------------------------------------------------------ per format


def test_txt_first_line_is_title(tmp_path):
    path = write(tmp_path / "note.txt", "EU agrees energy price cap\n\n" + BODY + "\n")
    (a,) = load_ok(path)
    assert a.title == "EU agrees energy price cap"
    assert a.text == BODY
    assert (a.source, a.author, a.url, a.category) == ("", "", "", "")
    assert a.published_at is None and a.published_iso == "" and a.published_ts == -1
    assert a.origin == str(path)
    assert a.key == f"{tmp_path.name}/note.txt"
    assert a.doc_id.startswith("p-")  # no URL: where the file lives, never its content


def test_markdown_with_front_matter(tmp_path):
    path = write(
        tmp_path / "story.md",
        """---
title: "EU agrees energy price cap"
source: Harbour Post
author: Fiona McLaren
published_at: 2025-02-17T18:30:00+01:00
url: https://harbour-post.example/2025/02/17/eu-energy-cap
category: Business
---

# A heading that is not the title

Ministers met in **Brussels** on Monday. See [the plan](https://example.org/plan) for details.
""",
    )
    (a,) = load_ok(path)
    assert a.title == "EU agrees energy price cap"
    assert a.source == "Harbour Post"
    assert a.author == "Fiona McLaren"
    assert a.url == "https://harbour-post.example/2025/02/17/eu-energy-cap"
    assert a.category == "Business"
    assert a.published_iso == "2025-02-17T17:30:00Z"
    assert a.published_at == datetime(2025, 2, 17, 17, 30, tzinfo=timezone.utc)
    assert a.published_ts == ts("2025-02-17T17:30:00Z") == 1739813400
    # markdown stripped: no emphasis, links reduced to their text, the heading line removed
    assert a.text == "Ministers met in Brussels on Monday. See the plan for details."
    assert a.doc_id == Article(title="", text="", url=a.url).doc_id
    assert a.doc_id.startswith("u-")


def test_markdown_without_front_matter_heading_is_title(tmp_path):
    path = write(
        tmp_path / "plain.md",
        "# Heatwave breaks record\n\nTemperatures reached 45.8C in Adelaide.\n\n"
        "Power demand hit a new high.\n",
    )
    (a,) = load_ok(path)
    assert a.title == "Heatwave breaks record"
    assert a.text == "Temperatures reached 45.8C in Adelaide.\n\nPower demand hit a new high."
    assert a.source == "" and a.published_iso == "" and a.url == ""


def test_markdown_date_only_front_matter(tmp_path):
    path = write(tmp_path / "d.md", "---\ntitle: T\nsource: S\npublished_at: 2025-03-01\n---\nBody text.\n")
    (a,) = load_ok(path)
    assert a.published_iso == "2025-03-01T00:00:00Z"
    assert a.doc_id.startswith("p-")  # no URL: the file, not outlet+title+date


def test_markdown_bad_front_matter(tmp_path):
    path = write(tmp_path / "f.md", "---\n- just\n- a list\n---\nBody.\n")
    assert only_error(path) == f"{path}: front matter must be `key: value` lines"


HTML_PARAS = "".join(
    f"<p>{s}</p>\n"
    for s in (
        "European leaders met at the Elysee Palace in Paris on Monday for emergency talks on Ukraine.",
        "The meeting was called by the French president after Washington signalled direct talks with Moscow.",
        "Several leaders said any peace deal must include firm security guarantees for Kyiv and for Europe.",
        "Others warned that sending troops was premature while the fighting continued along the front line.",
        "No joint statement was issued at the end of the meeting, which lasted about three and a half hours.",
    )
)


def test_html_meta_tags(tmp_path):
    path = write(
        tmp_path / "page.html",
        f"""<!DOCTYPE html>
<html lang="en"><head>
<meta charset="utf-8">
<title>Leaders split at Paris talks - Continental Ledger</title>
<link rel="canonical" href="https://continental-ledger.example/2025/02/17/paris-talks">
<meta name="author" content="Claire Fontaine">
<meta property="og:title" content="Leaders split at Paris talks">
<meta property="og:site_name" content="Continental Ledger">
<meta property="og:url" content="https://continental-ledger.example/og-url-is-not-used">
<meta property="article:published_time" content="2025-02-17T18:30:00+01:00">
<meta property="article:section" content="World">
</head><body>
<nav><a href="/">Home</a> <a href="/world">World</a></nav>
<article><h1>Leaders split at Paris talks</h1>
{HTML_PARAS}</article>
<footer>Copyright Continental Ledger</footer>
</body></html>""",
    )
    (a,) = load_ok(path)
    assert a.title == "Leaders split at Paris talks"
    assert a.source == "Continental Ledger"
    assert a.author == "Claire Fontaine"
    assert a.url == "https://continental-ledger.example/2025/02/17/paris-talks"  # canonical beats og:url
    assert a.category == "World"
    assert a.published_iso == "2025-02-17T17:30:00Z"
    assert a.published_ts == 1739813400
    assert a.text.startswith("European leaders met at the Elysee Palace")
    assert "No joint statement was issued" in a.text
    assert "Leaders split at Paris talks" not in a.text  # headline not repeated in the body
    assert "Copyright" not in a.text


def test_html_json_ld_only(tmp_path):
    ld = {
        "@context": "https://schema.org",
        "@type": "NewsArticle",
        "headline": "Court upholds ride-hailing fine",
        "datePublished": "2025-03-13T16:30:00+01:00",
        "author": {"@type": "Person", "name": "Mathis Oberlin"},
        "publisher": {"@type": "Organization", "name": "Continental Ledger"},
        "articleSection": "Business",
        "mainEntityOfPage": "https://continental-ledger.example/2025/03/13/velocab-fine",
    }
    path = write(
        tmp_path / "ld.htm",
        f"""<html><head>
<script type="application/ld+json">{json.dumps(ld)}</script>
</head><body><article>{HTML_PARAS}</article></body></html>""",
    )
    (a,) = load_ok(path)
    assert a.title == "Court upholds ride-hailing fine"
    assert a.source == "Continental Ledger"
    assert a.author == "Mathis Oberlin"
    assert a.category == "Business"
    assert a.url == "https://continental-ledger.example/2025/03/13/velocab-fine"
    assert a.published_iso == "2025-03-13T15:30:00Z"
    assert "European leaders met at the Elysee Palace" in a.text


def test_html_without_text(tmp_path):
    path = write(tmp_path / "empty.html", "<html><head><title>x</title></head><body></body></html>")
    assert only_error(path) == f"{path}: no article text found in the HTML"


RECORD = {
    "title": "Moscow rejects European peacekeepers",
    "author": None,
    "source": "Eastbridge Observer",
    "published_at": "2025-03-06T17:45:00+01:00",
    "category": "World",
    "url": "https://eastbridge-observer.example/2025/03/06/moscow-peacekeepers",
    "body": "Russia's foreign ministry rejected any deployment of European troops.\n\nDiplomats shrugged.",
}


def test_json_array_and_single_object(tmp_path):
    second = dict(
        RECORD,
        title="Second",
        url="https://eastbridge-observer.example/second",
        author="Jonas Richter",
        published_at="Thu, 06 Mar 2025 09:00:00 GMT",
    )
    arr = write(tmp_path / "arr.json", json.dumps([RECORD, second], indent=2))
    a, b = load_ok(arr, 2)
    assert a.title == "Moscow rejects European peacekeepers"
    assert a.author == ""  # null author
    assert a.source == "Eastbridge Observer"
    assert a.published_iso == "2025-03-06T16:45:00Z"
    assert a.text == RECORD["body"]
    assert a.origin == f"{arr}[0]"
    assert (b.title, b.author, b.published_iso, b.origin) == (
        "Second",
        "Jonas Richter",
        "2025-03-06T09:00:00Z",
        f"{arr}[1]",
    )
    single = write(tmp_path / "one.json", json.dumps(RECORD))
    (c,) = load_ok(single)
    assert c.doc_id == a.doc_id and c.content_hash == a.content_hash
    assert c.origin == f"{single}[0]"
    wrapped = write(tmp_path / "wrapped.json", json.dumps({"articles": [RECORD, second]}))
    assert [x.title for x in load_ok(wrapped, 2)] == ["Moscow rejects European peacekeepers", "Second"]


def test_json_alternative_field_names(tmp_path):
    rec = {
        "headline": "Alt names",
        "content": "<p>First para.</p><p>Second para.</p>",
        "publisher": "P",
        "byline": "B",
        "datePublished": 1740787200,
        "link": "https://p.example/alt",
        "section": "S",
    }
    (a,) = load_ok(write(tmp_path / "alt.json", json.dumps(rec)))
    assert (a.title, a.source, a.author, a.url, a.category) == (
        "Alt names",
        "P",
        "B",
        "https://p.example/alt",
        "S",
    )
    assert a.text == "First para.\n\nSecond para."
    assert a.published_iso == "2025-03-01T00:00:00Z" and a.published_ts == 1740787200


def test_jsonl_multihop_schema(tmp_path):
    lines = [
        dict(RECORD, title=f"Story {i}", url=f"https://eastbridge-observer.example/{i}") for i in range(3)
    ]
    path = write(tmp_path / "corpus.jsonl", "\n".join(json.dumps(r) for r in lines) + "\n\n")
    arts = load_ok(path, 3)
    assert [a.title for a in arts] == ["Story 0", "Story 1", "Story 2"]
    assert [a.origin for a in arts] == [f"{path}:1", f"{path}:2", f"{path}:3"]
    assert all(
        a.author == ""
        and a.category == "World"
        and a.published_iso == "2025-03-06T16:45:00Z"
        and a.published_ts == 1741279500
        for a in arts
    )
    assert len({a.doc_id for a in arts}) == 3


def test_rss_feed(tmp_path):
    path = write(
        tmp_path / "feed.xml",
        """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel>
  <title>Northern Wire</title>
  <link>https://northern-wire.example/</link>
  <item>
    <title>Kite-2 rocket reaches orbit</title>
    <link>https://northern-wire.example/2025/03/24/kite-2?utm_source=rss</link>
    <pubDate>Mon, 17 Feb 2025 18:30:00 +0100</pubDate>
    <dc:creator>Ingrid Halvorsen</dc:creator>
    <category>Science</category>
    <description><![CDATA[<p>The rocket lifted off at 11:42.</p><p>It deployed 14 satellites.</p>]]></description>
  </item>
  <item>
    <title>Second item</title>
    <link>https://northern-wire.example/2025/03/25/second</link>
    <pubDate>Tue, 25 Mar 2025 09:00:00 GMT</pubDate>
    <description>Plain text description.</description>
  </item>
</channel>
</rss>""",
    )
    a, b = load_ok(path, 2)
    assert a.title == "Kite-2 rocket reaches orbit"
    assert a.source == "Northern Wire"
    assert a.author == "Ingrid Halvorsen"
    assert a.category == "Science"
    assert a.published_iso == "2025-02-17T17:30:00Z" and a.published_ts == 1739813400
    assert a.text == "The rocket lifted off at 11:42.\n\nIt deployed 14 satellites."
    assert a.origin == f"{path} item 1"
    assert (
        a.doc_id == Article(title="", text="", url="https://northern-wire.example/2025/03/24/kite-2").doc_id
    )
    assert (b.title, b.text, b.published_iso, b.author, b.origin) == (
        "Second item",
        "Plain text description.",
        "2025-03-25T09:00:00Z",
        "",
        f"{path} item 2",
    )


def test_atom_feed(tmp_path):
    path = write(
        tmp_path / "feed.atom",
        """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Daily Meridian</title>
  <id>urn:daily-meridian</id>
  <updated>2025-02-18T20:05:00+01:00</updated>
  <entry>
    <title>Lavrov: NATO troops unacceptable</title>
    <link rel="alternate" href="https://daily-meridian.example/2025/02/18/lavrov"/>
    <id>urn:dm:1</id>
    <published>2025-02-18T20:05:00+01:00</published>
    <updated>2025-02-18T21:00:00+01:00</updated>
    <author><name>Priya Raman</name></author>
    <category term="World"/>
    <content type="html">&lt;p&gt;Russia's foreign minister spoke in Riyadh.&lt;/p&gt;&lt;p&gt;He ruled out NATO troops.&lt;/p&gt;</content>
  </entry>
</feed>""",
    )
    (a,) = load_ok(path)
    assert a.title == "Lavrov: NATO troops unacceptable"
    assert a.source == "Daily Meridian"
    assert a.author == "Priya Raman"
    assert a.category == "World"
    assert a.url == "https://daily-meridian.example/2025/02/18/lavrov"
    assert a.published_iso == "2025-02-18T19:05:00Z"  # published, not updated
    assert a.text == "Russia's foreign minister spoke in Riyadh.\n\nHe ruled out NATO troops."


# ------------------------------------------------------------------ ids


def test_canonical_url():
    assert (
        canonical_url("HTTPS://News.Example/a/b/?utm_source=x&id=3&fbclid=z#top")
        == "https://news.example/a/b?id=3"
    )
    assert canonical_url("  ") == ""


def test_doc_id_same_for_url_variants():
    base = "https://harbour-post.example/2025/02/17/story"
    variants = [
        base,
        base + "/",
        base + "?utm_source=rss&utm_medium=feed",
        base + "#comments",
        "HTTPS://Harbour-Post.example/2025/02/17/story/?utm_campaign=x#top",
    ]
    ids = {Article(title=f"T{i}", text=f"body {i}", source="X", url=u).doc_id for i, u in enumerate(variants)}
    assert len(ids) == 1
    (doc_id,) = ids
    assert re.fullmatch(r"u-[0-9a-f]{20}", doc_id)
    assert Article(title="T", text="b", url=base + "?id=2").doc_id != doc_id  # real query parameters count


def test_doc_id_same_across_loaders(tmp_path):
    url = "https://harbour-post.example/2025/02/17/story"
    md = write(tmp_path / "a.md", f"---\ntitle: Story\nurl: {url}/\n---\nBody one.\n")
    js = write(
        tmp_path / "b.json",
        json.dumps({"title": "Story", "url": url + "?utm_source=x#f", "body": "Body two."}),
    )
    assert load_ok(md)[0].doc_id == load_ok(js)[0].doc_id


def test_doc_id_without_url_from_outlet_title_date():
    when = datetime(2025, 2, 17, 17, 30, tzinfo=timezone.utc)
    a = Article(title="Big news", text="one body", source="Harbour Post", published_at=when)
    b = Article(title="BIG NEWS", text="another body", source="harbour post", published_at=when)
    assert a.doc_id == b.doc_id and a.doc_id.startswith("t-")
    assert (
        Article(
            title="Big news",
            text="one body",
            source="Harbour Post",
            published_at=datetime(2025, 2, 18, tzinfo=timezone.utc),
        ).doc_id
        != a.doc_id
    )
    assert (
        Article(title="Big news", text="one body", source="Daily Meridian", published_at=when).doc_id
        != a.doc_id
    )


def test_doc_id_from_content_when_nothing_else():
    a = Article(title="Note", text="same body")
    assert a.doc_id == Article(title="Note", text="same body").doc_id
    assert a.doc_id.startswith("c-")
    assert Article(title="Note", text="other body").doc_id != a.doc_id


# ------------------------------------------------------------------ bad inputs


def test_empty_file(tmp_path):
    path = write(tmp_path / "empty.txt", b"")
    assert only_error(path) == f"{path}: file is empty"


def test_whitespace_only_file(tmp_path):
    path = write(tmp_path / "blank.md", " \n\t\n  \n")
    assert only_error(path) == f"{path}: file is empty"


def test_binary_file_named_txt(tmp_path):
    path = write(tmp_path / "photo.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    assert only_error(path) == f"{path}: binary file, not text"


def test_non_utf8_file(tmp_path):
    path = write(
        tmp_path / "latin.txt", "Café opens\nA new café opened in the town centre.".encode("latin-1")
    )
    assert only_error(path) == (
        f"{path}: not UTF-8 text (invalid byte 0xe9 at offset 3); convert it to UTF-8"
    )


def test_utf8_bom_is_accepted(tmp_path):
    path = write(tmp_path / "bom.txt", "\ufeffCafé opens\nA new café opened.".encode("utf-8"))
    assert load_ok(path)[0].title == "Café opens"


def test_malformed_json_names_line_and_column(tmp_path):
    path = write(tmp_path / "bad.json", '[\n  {"title": "a",\n   "body": }\n]')
    assert only_error(path) == f"{path}: malformed JSON at line 3 column 12: Expecting value"


def test_json_scalar(tmp_path):
    path = write(tmp_path / "n.json", "42")
    assert only_error(path) == f"{path}: expected a JSON object or an array of objects"


def test_jsonl_one_bad_line(tmp_path):
    good = [dict(RECORD, title=f"Good {i}", url=f"https://e.example/{i}") for i in range(3)]
    path = write(
        tmp_path / "mixed.jsonl",
        "\n".join(
            [
                json.dumps(good[0]),
                '{"title": "broken", ',
                json.dumps(good[1]),
                '"a string"',
                json.dumps(good[2]),
            ]
        ),
    )
    result = load_path(path)
    assert [a.title for a in result.articles] == ["Good 0", "Good 1", "Good 2"]
    assert [str(e) for e in result.errors] == [
        f"{path}:2: malformed JSON at column 21: Expecting property name enclosed in double quotes",
        f"{path}:4: expected a JSON object per article, got str",
    ]


def test_json_empty_array(tmp_path):
    for name, text in (("empty.json", "[]"), ("wrapped.json", '{"articles": []}')):
        path = write(tmp_path / name, text)
        assert only_error(path) == f"{path}: no articles in the JSON (an empty array)"


def test_json_dates_out_of_range(tmp_path):
    path = write(
        tmp_path / "d.json",
        '[{"body": "x", "date": NaN}, {"body": "y", "date": 1e400}, '
        '{"body": "z", "date": "0001-01-01T00:00:00+01:00"}]',
    )
    assert [str(e) for e in load_path(path).errors] == [
        f"{path}[0]: field published_at: cannot read the date 'nan'",
        f"{path}[1]: field published_at: cannot read the date 'inf'",
        f"{path}[2]: field published_at: cannot read the date '0001-01-01T00:00:00+01:00'",
    ]


def test_json_lone_surrogate_escapes(tmp_path):
    path = write(
        tmp_path / "s.json", '{"title": "a\\ud800b", "body": "c\\udc00d", "url": "https://e.example/\\ud800"}'
    )
    (a,) = load_ok(path)
    assert (a.title, a.text, a.url) == ("a\ufffdb", "c\ufffdd", "https://e.example/\ufffd")
    assert a.doc_id.startswith("u-") and a.content_hash  # hashing encodes every field as UTF-8


def test_txt_of_control_characters_only(tmp_path):
    path = write(tmp_path / "ctrl.txt", "\x01\x02\x1b\n\x7f")
    assert only_error(path) == f"{path}: no text (only control characters or whitespace)"


def test_markdown_heading_and_front_matter_edges(tmp_path):
    path = write(tmp_path / "h.md", "---\n---\n# Title ##\n\nBody text.\n")
    (a,) = load_ok(path)
    assert (a.title, a.text) == ("Title", "Body text.")


def test_json_record_without_body(tmp_path):
    path = write(tmp_path / "nobody.json", json.dumps([dict(RECORD, body="   "), RECORD]))
    result = load_path(path)
    assert len(result.articles) == 1
    assert [str(e) for e in result.errors] == [
        f"{path}[0]: article has no text (expected one of the fields: body, text, content, article, "
        "full_text, description, summary)"
    ]


def test_json_record_with_unreadable_date(tmp_path):
    path = write(tmp_path / "d.json", json.dumps(dict(RECORD, published_at="not a date at all, no")))
    assert only_error(path) == f"{path}[0]: field published_at: cannot read the date 'not a date at all, no'"


def test_malformed_xml(tmp_path):
    path = write(tmp_path / "broken.xml", "<rss><channel><title>x</title><item>")
    assert only_error(path) == f"{path}: malformed XML: no element found: line 1, column 36"


def test_xml_that_is_not_a_feed(tmp_path):
    path = write(tmp_path / "other.xml", "<?xml version='1.0'?><note><to>you</to></note>")
    assert only_error(path) == f"{path}: XML is not an RSS or Atom feed with items"


def test_billion_laughs_refused(tmp_path):
    path = write(
        tmp_path / "bomb.rss",
        """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<rss version="2.0"><channel><title>&lol4;</title>
<item><title>x</title><description>y</description></item></channel></rss>""",
    )
    assert only_error(path) == f"{path}: unsafe XML refused (EntitiesForbidden)"


def test_oversized_file(tmp_path):
    path = write(tmp_path / "big.jsonl", json.dumps(RECORD) * 20)
    size = path.stat().st_size
    assert size > 2048
    assert only_error(path, max_bytes=2048) == (
        f"{path}: file is too large ({size / 1048576:.1f} MB > 0.00195312 MB limit; "
        "raise NEWSRAG_MAX_FILE_MB to allow it)"
    )


def test_too_large_message_uses_the_configured_megabytes(tmp_path):
    path = write(tmp_path / "big.txt", "Title\n" + "word " * 300_000)  # 1.5 MB
    assert only_error(path, max_bytes=1024 * 1024) == (
        f"{path}: file is too large (1.4 MB > 1 MB limit; raise NEWSRAG_MAX_FILE_MB to allow it)"
    )


def test_unsupported_extension_named_explicitly(tmp_path):
    path = write(tmp_path / "report.pdf", "%PDF-1.4")
    assert only_error(path) == (
        f"{path}: unsupported file type '.pdf' (supported: .atom, .htm, .html, .json, "
        ".jsonl, .markdown, .md, .ndjson, .rss, .txt, .xml)"
    )
    noext = write(tmp_path / "README", "hello")
    assert only_error(noext).startswith(f"{noext}: unsupported file type '(none)' (supported: ")


def test_missing_path(tmp_path):
    path = tmp_path / "nope.txt"
    assert only_error(path) == f"{path}: no such file or folder"
    folder = tmp_path / "no-such-folder"
    (result,) = list(load_inputs([folder]))
    assert [str(e) for e in result.errors] == [f"{folder}: no such file or folder"]


def test_folder_walk_skips_hidden_and_unsupported(tmp_path):
    root = tmp_path / "corpus"
    write(root / "a.txt", "Alpha\nAlpha body.")
    write(root / "sub" / "b.md", "# Beta\n\nBeta body.")
    write(root / "sub" / "deeper" / "c.json", json.dumps({"title": "Gamma", "body": "Gamma body."}))
    write(root / ".hidden.txt", "Hidden\nHidden body.")
    write(root / ".git" / "d.txt", "Git\nGit body.")
    write(root / "sub" / ".cache" / "e.md", "# Cached\n\nbody")
    write(root / "image.png", b"\x89PNG\x00\x00")
    write(root / "notes.docx", "x")
    write(root / "README", "no extension")
    results = list(load_inputs([root]))
    assert [r.origin for r in results] == [
        str(root / "a.txt"),
        str(root / "sub" / "b.md"),
        str(root / "sub" / "deeper" / "c.json"),
    ]
    assert all(not r.errors for r in results)
    assert [a.title for r in results for a in r.articles] == ["Alpha", "Beta", "Gamma"]


def test_hidden_parent_of_an_explicit_folder_is_not_a_reason_to_skip(tmp_path):
    root = tmp_path / ".stash" / "corpus"
    write(root / "a.txt", "Alpha\nAlpha body.")
    assert [a.title for r in load_inputs([root]) for a in r.articles] == ["Alpha"]


def test_mixed_inputs_one_result_each(tmp_path):
    good = write(tmp_path / "good.txt", "Good\nGood body.")
    empty = write(tmp_path / "empty.md", "")
    results = list(load_inputs([good, empty, tmp_path / "missing.json"]))
    assert [(r.origin, len(r.articles), len(r.errors)) for r in results] == [
        (str(good), 1, 0),
        (str(empty), 0, 1),
        (str(tmp_path / "missing.json"), 0, 1),
    ]


# ------------------------------------------------------------------ demo corpus


def test_demo_corpus_loads_clean():
    results = list(load_inputs([DEMO]))
    errors = [str(e) for r in results for e in r.errors]
    articles = [a for r in results for a in r.articles]
    assert errors == []
    assert len(articles) == 20
    assert len({a.doc_id for a in articles}) == 20
    for a in articles:
        for field in ("title", "source", "author", "url", "text"):
            assert getattr(a, field).strip(), (a.origin, field)
        assert a.published_at is not None and a.published_iso, a.origin
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", a.published_iso)
        assert a.doc_id.startswith("u-")
    by_title = {a.title: a for a in articles}
    paris = by_title["European leaders split over peacekeepers at emergency Paris talks"]
    assert (paris.source, paris.author, paris.published_iso, paris.category) == (
        "Continental Ledger",
        "Claire Fontaine",
        "2025-02-17T21:40:00Z",
        "World",
    )
    assert min(a.published_iso for a in articles) == "2025-02-03T23:40:00Z"
    assert max(a.published_iso for a in articles) == "2025-03-27T19:15:00Z"


# ------------------------------------------------------------------ chunking

WORDS = (
    "minister council budget harbour airline strike court appeal rocket orbit summit troops energy "
    "market tariff election border rail port bank inflation farmers drought heatwave vaccine hospital "
    "school teachers union wages housing rents river flood bridge tunnel satellite factory export"
).split()


def long_article(n_words: int = 3000) -> tuple[Article, list[str]]:
    sentences = []
    total = 0
    i = 0
    while total < n_words:
        k = 8 + i % 11
        words = [WORDS[(i * 7 + j * 3) % len(WORDS)] for j in range(k)]
        sentence = f"Sentence {i} says the " + " ".join(words) + f" moved by {i * 13 % 97} percent."
        sentences.append(sentence)
        total += len(sentence.split())
        i += 1
    paras = [" ".join(sentences[j : j + 6]) for j in range(0, len(sentences), 6)]
    art = Article(
        title="A long report on everything",
        text="\n\n".join(paras),
        source="Harbour Post",
        author="Rui Tavares",
        published_at=datetime(2025, 3, 7, 23, 30, tzinfo=timezone.utc),
        url="https://harbour-post.example/long",
        category="World",
    )
    return art, sentences


def test_chunks_fit_and_are_labelled():
    art, sentences = long_article()
    nodes = chunk_article(art)
    assert len(nodes) >= 10
    head = "A long report on everything\nHarbour Post | 2025-03-07\n\n"
    for i, node in enumerate(nodes):
        assert node.id_ == f"{art.doc_id}:{i:04d}"
        assert node.text.startswith(head)
        assert count_tokens(node.text) <= 256, (i, count_tokens(node.text))
        md = node.metadata
        assert md["chunk_index"] == i and md["n_chunks"] == len(nodes)
        assert (
            md["doc_id"],
            md["title"],
            md["source"],
            md["author"],
            md["published_at"],
            md["published_ts"],
            md["url"],
            md["category"],
            md["content_hash"],
        ) == (
            art.doc_id,
            "A long report on everything",
            "Harbour Post",
            "Rui Tavares",
            "2025-03-07T23:30:00Z",
            1741390200,
            "https://harbour-post.example/long",
            "World",
            art.content_hash,
        )
        assert all(v is not None for v in md.values())
    bodies = "\n".join(n.text[len(head) :] for n in nodes)
    missing = [s for s in sentences if s not in bodies]
    assert missing == []


def test_chunk_sizes_follow_settings():
    art, _ = long_article(1500)
    small = chunk_article(art, chunk_tokens=128, overlap=8)
    assert all(count_tokens(n.text) <= 128 for n in small)
    assert len(small) > len(chunk_article(art))


def test_short_article_is_one_chunk():
    art = Article(title="Short", text="Just one line.", source="", published_at=None)
    (node,) = chunk_article(art)
    assert node.text == "Short\n\nJust one line."
    assert node.id_ == f"{art.doc_id}:0000"
    assert node.metadata["n_chunks"] == 1 and node.metadata["published_ts"] == -1


def test_very_long_title_still_fits():
    art = Article(
        title="Headline " * 200,
        text=" ".join(f"Sentence number {i} is here." for i in range(200)),
        source="S",
        published_at=datetime(2025, 1, 1, tzinfo=timezone.utc),
    )
    nodes = chunk_article(art)
    assert len(nodes) > 1
    assert all(count_tokens(n.text) <= 256 for n in nodes)
