"""Text clean-up shared by the loaders."""

from __future__ import annotations

import re
import unicodedata

# Control characters, and the two non-characters XML refuses.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")
_SURROGATES = re.compile("[\ud800-\udfff]")  # lone halves (JSON "\\ud800"): no UTF-8 encodes them
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b]+")
_BLANKS = re.compile(r"\n{3,}")


def clean_text(text: str) -> str:
    """NFC, no control characters, single spaces, at most one blank line between paragraphs."""
    text = unicodedata.normalize("NFC", no_surrogates(text)).replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def no_surrogates(text: str) -> str:
    """Lone surrogates replaced by U+FFFD, so that the text can be encoded (hashed, stored, printed)."""
    return _SURROGATES.sub("\ufffd", text)


def clean_line(text: str | None) -> str:
    return _SPACES.sub(" ", clean_text(text or "").replace("\n", " ")).strip()


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment (feed descriptions), paragraphs kept apart."""
    if "<" not in fragment:
        return clean_text(fragment)
    import lxml.html

    fragment = _CONTROL.sub("", no_surrogates(fragment))  # lxml refuses both in the text it is given
    try:
        root = lxml.html.fromstring(f"<div>{fragment}</div>")
    except Exception:  # noqa: BLE001 - lxml raises several types for junk; fall back to tag stripping
        return clean_text(re.sub(r"<[^<>]+>", " ", fragment))  # [^<>]: linear on a run of "<"
    for br in root.iter("br"):
        br.tail = "\n" + (br.tail or "")
    for block in root.iter("p", "div", "li", "h1", "h2", "h3", "h4", "blockquote"):
        block.tail = "\n\n" + (block.tail or "")
    return clean_text(root.text_content())
