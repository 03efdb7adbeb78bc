"""Near-duplicate stories: the same wire story run by several outlets, found with MinHash over word shingles.

Each article gets a signature (NUM_PERM minimum hashes of its body's SHINGLE_WORDS-word shingles); banded LSH
(BANDS bands of NUM_PERM // BANDS rows) proposes candidates, and a candidate whose estimated Jaccard similarity
reaches THRESHOLD joins the article to its story. A story's id is the doc_id of its first member, so it stays
put when copies are re-ingested, added or edited.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

# The tuning values, together: shingle length in words, signature length, LSH bands, Jaccard to join a story.
SHINGLE_WORDS = 5
NUM_PERM = 128
BANDS = 32
THRESHOLD = 0.5

_PRIME = np.uint64((1 << 61) - 1)
_MASK = np.uint64(0xFFFFFFFF)
_rng = np.random.default_rng(20250401)  # fixed: signatures must be comparable across runs and processes
_A = _rng.integers(1, (1 << 61) - 1, NUM_PERM, dtype=np.uint64)
_B = _rng.integers(0, (1 << 61) - 1, NUM_PERM, dtype=np.uint64)
_WORD = re.compile(r"\w+")


def shingles(text: str, size: int = SHINGLE_WORDS) -> set[str]:
    """The text's runs of `size` words, lower-cased (a text shorter than that: itself, as one shingle)."""
    words = _WORD.findall(text.lower())
    if len(words) <= size:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + size]) for i in range(len(words) - size + 1)}


def signature(text: str) -> np.ndarray:
    """NUM_PERM minimum hashes (uint32) of the text's shingles; all ones for a text without words."""
    found = shingles(text)
    if not found:
        return np.full(NUM_PERM, 0xFFFFFFFF, dtype=np.uint32)
    hashed = np.fromiter(
        (int.from_bytes(hashlib.blake2b(s.encode(), digest_size=4).digest(), "little") for s in found),
        dtype=np.uint64,
        count=len(found),
    )
    with np.errstate(over="ignore"):  # the universal hash wraps in uint64 on purpose
        permuted = ((hashed[:, None] * _A[None, :] + _B[None, :]) % _PRIME) & _MASK
    return permuted.min(axis=0).astype(np.uint32)


def similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Estimated Jaccard similarity of the two shingle sets."""
    return float(np.mean(a == b))


def encode(sig: np.ndarray) -> str:
    return base64.b64encode(sig.astype("<u4").tobytes()).decode("ascii")


def decode(text: str) -> np.ndarray | None:
    try:
        raw = base64.b64decode(text, validate=True)
    except (ValueError, TypeError):
        return None
    return np.frombuffer(raw, dtype="<u4").astype(np.uint32) if len(raw) == 4 * NUM_PERM else None


@dataclass
class Stories:
    """The signatures of the articles known so far, their stories, and the LSH buckets over them."""

    signatures: dict[str, np.ndarray] = field(default_factory=dict)  # doc_id -> signature
    story_of: dict[str, str] = field(default_factory=dict)  # doc_id -> story_id
    _buckets: dict[tuple[int, bytes], list[str]] = field(default_factory=dict)
    _order: dict[str, int] = field(default_factory=dict)  # doc_id -> when it was first added

    def add(self, doc_id: str, sig: np.ndarray, story_id: str) -> None:
        if doc_id not in self.signatures:
            self._order[doc_id] = len(self._order)
            for band in _bands(sig):
                self._buckets.setdefault(band, []).append(doc_id)
        elif not np.array_equal(self.signatures[doc_id], sig):
            for band in _bands(self.signatures[doc_id]):
                self._buckets[band].remove(doc_id)
            for band in _bands(sig):
                self._buckets.setdefault(band, []).append(doc_id)
        self.signatures[doc_id] = sig
        self.story_of[doc_id] = story_id

    def matches(self, sig: np.ndarray, exclude: str = "") -> list[tuple[float, str]]:
        """(similarity, doc_id) of the known articles at or above THRESHOLD, best first (ties: first added)."""
        seen = {d for band in _bands(sig) for d in self._buckets.get(band, ()) if d != exclude}
        found = [(similarity(sig, self.signatures[d]), d) for d in seen]
        return sorted(((s, d) for s, d in found if s >= THRESHOLD), key=lambda x: (-x[0], self._order[x[1]]))

    def assign(self, doc_id: str, text: str) -> tuple[str, np.ndarray]:
        """The story of this article (an existing one it nearly duplicates, else its own), and its signature;
        it is recorded, so later articles can join it. An article that still matches its old story keeps it."""
        sig = signature(text)
        found = self.matches(sig, exclude=doc_id)
        story = choose_story(doc_id, [self.story_of[d] for _, d in found], self.story_of.get(doc_id))
        self.add(doc_id, sig, story)
        return story, sig


def choose_story(doc_id: str, matched: list[str], before: str | None) -> str:
    """An article's story among the stories it matched (best first): the one it had (`before`) while it still
    matches it, else the best, else its own."""
    return before if before in matched else matched[0] if matched else doc_id


def band_keys(sig: np.ndarray) -> dict[str, str]:
    """The signature's LSH bands as flat fields ("lsh_0": hex, ...), so a store can be asked for the articles
    that share a band with a new one instead of being read whole."""
    return {f"lsh_{b}": key.hex() for b, key in _bands(sig)}


def _bands(sig: np.ndarray) -> Iterable[tuple[int, bytes]]:
    rows = NUM_PERM // BANDS
    for b in range(BANDS):
        yield b, sig[b * rows : (b + 1) * rows].tobytes()
