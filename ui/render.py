"""Answers, citations and reports as safe HTML (for the page) or markdown (for the `/chat` API).

Everything that comes from an article or a model (titles, outlets, quotes, URLs, answer text) is
data: it is HTML-escaped, and the characters markdown or LaTeX would act on are written as character
references, so the chat's markdown renderer shows them as text. Only http(s) URLs become links.
The page's HTML is emitted on one line: an HTML block in markdown ends at a blank line.
"""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

from rag.answer.result import Answer

NOT_FOUND = "No article in the index (with the filters in force) says it."
_MARKER = re.compile(r"\[(\d+)\]")
# HTML's special characters, and those that markdown (or the chat's LaTeX handling) would read as syntax.
_ESCAPES = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    '"': "&quot;",
    "'": "&#39;",
    **{c: f"&#{ord(c)};" for c in "\\`*_{}[]()#+-!|~$:"},
}
CSS = """
.nr-answer p { margin: 0 0 .5em 0; }
.nr-meta { font-size: .85em; opacity: .75; }
.nr-cite { text-decoration: none; font-weight: 600; }
.nr-sources { margin-top: .6em; display: flex; flex-direction: column; gap: .5em; }
.nr-card { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: .5em .7em; }
.nr-card:target { outline: 2px solid var(--color-accent); }
.nr-byline { font-size: .85em; opacity: .8; }
.nr-card blockquote { margin: .35em 0 0 0; padding-left: .6em; border-left: 3px solid var(--border-color-accent); }
.nr-ok { color: #15803d; font-weight: 600; }
.nr-warn { color: #b45309; font-weight: 600; }
.nr-error { color: #b91c1c; }
"""


def text(value: object) -> str:
    """Plain text, safe inside HTML and inert for markdown; line breaks kept."""
    escaped = "".join(_ESCAPES.get(c, c) for c in str(value or ""))
    return escaped.replace("\r", "").replace("\n", "<br>")


def http_url(url: str | None) -> str | None:
    """The URL if it is an absolute http(s) URL, else None (javascript:, data:, relative paths…)."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme.lower() in ("http", "https") and parts.netloc and not re.search(r"[\s\x00-\x1f]", url):
        return url
    return None


def link(label: str, url: str | None) -> str:
    """An escaped link for http(s) URLs; anything else is the label as text."""
    safe = http_url(url)
    if safe is None:
        return text(label)
    return f'<a href="{html.escape(safe, quote=True)}" target="_blank" rel="noopener noreferrer">{text(label)}</a>'


def date(value: str | None) -> str:
    return (value or "")[:10] or "undated"


def anchor(turn: int, n: int) -> str:
    return f"nr-{turn}-{n}"


def streaming(partial: str, sources=()) -> str:
    """The answer as it is being generated, under the sources it is being written from."""
    found = "".join(
        f"<li>{text(f'[{s.n}]')} {link(s.title or '(untitled)', s.url)} "
        f'<span class="nr-meta">{text(s.source or "unknown outlet")} · {text(date(s.published_at))}</span></li>'
        for s in sources
    )
    listed = f'<div class="nr-meta">Sources found</div><ul class="nr-found">{found}</ul>' if found else ""
    return f'<div class="nr-answer"><p class="nr-text">{text(partial) or "…"}</p>{listed}</div>'


def pending(message: str = "Searching the news…") -> str:
    return f'<div class="nr-answer"><p class="nr-meta">{text(message)}</p></div>'


def error(message: str) -> str:
    return f'<div class="nr-answer nr-error"><p><strong>Could not answer:</strong> {text(message)}</p></div>'


def _linked(value: str, cited: set[int], turn: int) -> str:
    """Escaped text whose [n] markers link to their source cards."""
    out = []
    pos = 0
    for m in _MARKER.finditer(value):
        out.append(text(value[pos : m.start()]))
        n = int(m.group(1))
        mark = text(f"[{n}]")
        out.append(f'<a class="nr-cite" href="#{anchor(turn, n)}">{mark}</a>' if n in cited else mark)
        pos = m.end()
    out.append(text(value[pos:]))
    return "".join(out)


def _answer_text(answer: Answer, turn: int) -> str:
    """The answer's paragraphs, and its "- " lines (timelines, one line per outlet) as a list."""
    cited = {c.n for c in answer.citations}
    blocks, items = [], []
    for line in answer.text.split("\n"):
        if line.startswith("- "):
            items.append(f"<li>{_linked(line[2:], cited, turn)}</li>")
            continue
        if items:
            blocks.append(f'<ul class="nr-list">{"".join(items)}</ul>')
            items = []
        if line.strip():
            blocks.append(f'<p class="nr-text">{_linked(line, cited, turn)}</p>')
    if items:
        blocks.append(f'<ul class="nr-list">{"".join(items)}</ul>')
    return "".join(blocks)


def meta(answer: Answer, n_sources: int | None = None) -> str:
    """The standalone query (when it differs from the question) and the filters in force."""
    parts = []
    if answer.query.strip() != answer.question.strip():
        parts.append(f"Searched: “{text(answer.query)}”")
    shown = f"Filters: {text(answer.filters)}"
    if n_sources:
        shown += f" · up to {n_sources} sources"
    parts.append(shown)
    return f'<p class="nr-meta">{" · ".join(parts)}</p>'


def card(citation, turn: int) -> str:
    badge = (
        '<span class="nr-ok">✓ verified</span>'
        if citation.verified
        else '<span class="nr-warn">⚠ not verified: the quote may not support the sentence</span>'
    )
    url_note = (
        ""
        if http_url(citation.url) or not citation.url
        else f' <span class="nr-meta">(address not shown as a link: {text(citation.url)})</span>'
    )
    author = getattr(citation, "author", "")
    byline = f' · <span class="nr-author">{text(author)}</span>' if author else ""
    return (
        f'<div class="nr-card" id="{anchor(turn, citation.n)}">'
        f'<div class="nr-headline"><strong>{text(f"[{citation.n}]")}</strong> '
        f"{link(citation.title or '(untitled)', citation.url)}{url_note}</div>"
        f'<div class="nr-byline"><span class="nr-outlet">{text(citation.source or "unknown outlet")}</span>'
        f"{byline} · "
        f'<span class="nr-date">{text(date(citation.published_at))}</span> · {badge}</div>'
        f'<blockquote class="nr-quote">{text(citation.quote)}</blockquote>{also_html(citation)}</div>'
    )


def _copies(citation) -> list[dict]:
    """Other outlets' copies of the citation's story, each outlet once (its own outlet aside)."""
    seen = {citation.source}
    out = []
    for copy in getattr(citation, "also", None) or []:
        if copy.get("source") and copy["source"] not in seen:
            seen.add(copy["source"])
            out.append(copy)
    return out


def also_html(citation) -> str:
    """ "Also reported by A, B", each outlet linked to its copy; empty when no other outlet ran the story."""
    copies = _copies(citation)
    if not copies:
        return ""
    links = ", ".join(link(c["source"], c.get("url")) for c in copies)
    return f'<div class="nr-also nr-meta">Also reported by {links}</div>'


def answer_html(answer: Answer, turn: int, n_sources: int | None = None) -> str:
    """The final answer: text with [n] links, what was searched and filtered, then one card per citation."""
    if not answer.answered:
        return (
            '<div class="nr-answer nr-none"><p><strong>The sources do not answer this.</strong> '
            f"{text(answer.note or NOT_FOUND)} There is no answer to show: try rephrasing, widening the "
            f"filters or ingesting more articles.</p>{meta(answer, n_sources)}</div>"
        )
    cards = "".join(card(c, turn) for c in answer.citations)
    sources = (
        f'<div class="nr-sources"><div class="nr-meta">Sources</div>{cards}</div>'
        if cards
        else '<p class="nr-meta nr-warn">No sentence of this answer could be matched to a source.</p>'
    )
    return f'<div class="nr-answer">{_answer_text(answer, turn)}{meta(answer, n_sources)}{sources}</div>'


# -- markdown for the API ----------------------------------------------------------------------
def _md(value: object) -> str:
    """Inline markdown text: no raw HTML, no accidental links or emphasis."""
    return re.sub(r"([\\`*_\[\]<>])", r"\\\1", str(value or "").replace("\n", " "))


def _md_answer(value: str) -> str:
    """Answer text as markdown: its [n] markers kept, anything else inert."""
    lines = []
    for line in value.split("\n"):  # a timeline's lines and a paragraph break stay
        parts = _MARKER.split(line)  # text, n, text, n, ..., text
        lines.append("".join(_md(p) if i % 2 == 0 else f"[{p}]" for i, p in enumerate(parts)))
    return "\n".join(lines)


def answer_markdown(answer: Answer) -> str:
    """The answer with its [n] markers, then the sources it cites (headline, outlet, date)."""
    lines = [_md_answer(answer.text)]
    if not answer.answered:
        lines += ["", f"{_md(answer.note or NOT_FOUND)} There is no answer to show."]
    if answer.query.strip() != answer.question.strip():
        lines += ["", f"Searched: {_md(answer.query)}"]
    lines += ["", f"Filters: {_md(answer.filters)}"]
    if answer.answered and answer.citations:
        lines += ["", "Sources:"]
        for c in answer.citations:
            mark = "verified" if c.verified else "not verified"
            headline = f"[{_md(c.title)}]({c.url})" if http_url(c.url) and ")" not in c.url else _md(c.title)
            lines.append(f"- [{c.n}] {headline} — {_md(c.source)}, {date(c.published_at)} ({mark})")
            if c.quote:
                lines.append(f"  > {_md(c.quote)}")
            copies = [
                f"[{_md(o['source'])}]({o['url']})"
                if http_url(o.get("url")) and ")" not in o["url"]
                else _md(o["source"])
                for o in _copies(c)
            ]
            if copies:
                lines.append(f"  Also reported by {', '.join(copies)}")
    return "\n".join(lines)


# -- corpus ------------------------------------------------------------------------------------
def stats_markdown(stats: dict) -> str:
    if not stats["articles"]:
        return "**No articles yet.** Upload files or paste a feed URL below to ingest some."
    span = (
        f"{date(stats['first_published'])} to {date(stats['last_published'])}"
        if stats["first_published"]
        else "no dates"
    )
    outlets = ", ".join(f"{text(name)} ({n})" for name, n in stats["outlets"].items())
    lines = [
        f"**{stats['articles']} articles**, {stats['chunks']} chunks, {len(stats['outlets'])} outlets",
        f"Published {text(span)}",
        f"Outlets: {outlets}",
    ]
    if stats.get("incomplete"):
        lines.append(f"{stats['incomplete']} article(s) incompletely written: ingest them again.")
    return "<br>".join(lines)


def ingest_markdown(summary: str, failures: list[tuple[str, str]]) -> str:
    """The ingest summary and a table of what failed and why."""
    out = f"{text(summary)}"
    if failures:
        rows = "".join(f"<tr><td>{text(name)}</td><td>{text(reason)}</td></tr>" for name, reason in failures)
        out += f'<table class="nr-failures"><tr><th>Not ingested</th><th>Why</th></tr>{rows}</table>'
    return out
