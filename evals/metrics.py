"""Evaluation metrics for newsrag, following the MultiHop-RAG paper protocol.

MultiHop-RAG: Tang & Yang, "MultiHop-RAG: Benchmarking Retrieval-Augmented
Generation for Multi-Hop Queries", COLM 2024 (arXiv:2401.15391), data under
ODC-BY 1.0.  The retrieval metrics (Hits@4, Hits@10, MRR@10, MAP@10) and the
paper's generation accuracy reproduce the authors' evaluation scripts
(``retrieval_evaluate.py`` and ``qa_evaluate.py``) so that numbers are comparable
with the paper's tables.  Everything else here (fact coverage, normalised answer
match, refusal detection) is this project's own addition and is reported beside
the paper's numbers, never instead of them.

Standard library only.
"""

from __future__ import annotations

import math
import re

__all__ = [
    "normalize_for_match",
    "relevant_fact_ranks",
    "retrieval_scores",
    "aggregate",
    "paper_accuracy",
    "normalize_answer",
    "normalized_match",
    "is_refusal",
    "fact_supported",
    "precision",
    "percentile",
]

RETRIEVAL_KEYS = ["hits@4", "hits@10", "mrr@10", "map@10", "fact_coverage@10"]

# ---------------------------------------------------------------------------
# Retrieval
# ---------------------------------------------------------------------------


def normalize_for_match(text: str) -> str:
    """Delete every space (" ") and newline ("\\n") character, nothing else.

    This is exactly the paper script's ``item.replace(" ", "").replace("\\n", "")``:
    tabs, carriage returns, non-breaking spaces and other whitespace are kept,
    and case is not changed.
    """
    return text.replace(" ", "").replace("\n", "")


def relevant_fact_ranks(retrieved_texts: list[str], facts: list[str], k: int = 10) -> list[list[int]]:
    """For each of the first ``k`` retrieved texts, the indices of matching gold facts.

    Entry ``r`` (0-based rank) lists, in increasing order, the index ``i`` of every
    fact in ``facts`` whose normalised text (``normalize_for_match``) is a substring
    of the normalised retrieved text.  Every matching fact is listed at every rank
    where it matches (no "first match" filtering here).  The result has
    ``min(k, len(retrieved_texts))`` entries.
    """
    norm_facts = [normalize_for_match(f) for f in facts]
    ranks: list[list[int]] = []
    for text in retrieved_texts[: max(k, 0)]:
        chunk = normalize_for_match(text)
        ranks.append([i for i, fact in enumerate(norm_facts) if fact in chunk])
    return ranks


def retrieval_scores(retrieved_texts: list[str], facts: list[str], k: int = 10) -> dict:
    """Per-query retrieval metrics, as in the MultiHop-RAG paper's script.

    Returns a dict with keys ``"hits@4"``, ``"hits@10"``, ``"mrr@10"``,
    ``"map@10"`` (the paper's four) and ``"fact_coverage@10"`` (ours); all floats.

    A retrieved chunk is *relevant* when any normalised gold fact is a substring of
    its normalised text (see ``normalize_for_match``).  Only the first ``k``
    retrieved texts are considered (``k`` = 10 in the paper; with another ``k`` the
    "@10" metrics are computed at ``k`` and hits@4 at ``min(4, k)``, key names
    unchanged).

    - hits@4 / hits@10: 1.0 if a relevant chunk is in the top 4 / top ``k``.
    - mrr@10: 1 / (1-based rank of the first relevant chunk), 0.0 if none.
    - map@10: for each rank r (1-based) <= k, add (number of gold facts *first*
      matched at r) / r; divide the sum by ``min(len(facts), k)``.  A fact already
      matched at an earlier rank is not counted again.
    - fact_coverage@10: distinct (normalised) gold facts matched anywhere in the
      top ``k``, divided by the number of distinct (normalised) gold facts.

    Duplicate facts (a judgement call, reproducing the paper's script exactly):
    each *listed* fact is its own gold item in the MAP denominator, i.e.
    ``min(len(facts), k)`` counts duplicates, as the paper does.  The "already
    found" bookkeeping of the paper, however, is keyed on the normalised fact
    string, so a fact string listed twice (or two facts that normalise to the same
    string) can only ever be credited once in the numerator; such a query cannot
    reach MAP 1.0 in the paper, and it does not here either.  fact_coverage@10,
    which is not a paper metric, counts distinct normalised strings on both sides
    so that it can reach 1.0.

    With no gold facts (a null query; the paper excludes these, and its formula
    would divide by zero) every metric is ``None``, which ``aggregate`` skips.
    """
    if not facts:
        return {key: None for key in RETRIEVAL_KEYS}

    norm_facts = [normalize_for_match(f) for f in facts]
    per_rank = relevant_fact_ranks(retrieved_texts, facts, k)

    hits4 = False
    hits_k = False
    first_relevant_rank = None
    ap_sum = 0.0
    found: set[str] = set()  # normalised strings already credited (paper: find_gold)

    for rank, matched in enumerate(per_rank, start=1):
        if not matched:
            continue
        hits_k = True
        if rank <= 4:
            hits4 = True
        if first_relevant_rank is None:
            first_relevant_rank = rank
        newly = 0
        for i in matched:
            if norm_facts[i] not in found:
                found.add(norm_facts[i])
                newly += 1
        ap_sum += newly / rank

    distinct = set(norm_facts)
    return {
        "hits@4": 1.0 if hits4 else 0.0,
        "hits@10": 1.0 if hits_k else 0.0,
        "mrr@10": 1.0 / first_relevant_rank if first_relevant_rank else 0.0,
        "map@10": ap_sum / min(len(facts), k) if k > 0 else 0.0,
        "fact_coverage@10": len(found) / len(distinct),
    }


# ---------------------------------------------------------------------------
# Aggregation
# ---------------------------------------------------------------------------


def _mean_block(rows: list[dict], keys: list[str]) -> dict:
    out: dict = {}
    for key in keys:
        values = [row.get(key) for row in rows]
        values = [float(v) for v in values if v is not None]
        out[key] = sum(values) / len(values) if values else None
    out["n"] = len(rows)
    return out


def aggregate(rows: list[dict], keys: list[str], group_key: str | None = None) -> dict:
    """Mean of each key over ``rows``, skipping ``None`` (and missing) values.

    Booleans count as 1.0 / 0.0.  A key with no non-None value gets ``None``.
    ``"n"`` is the number of rows in the block (including rows whose values were
    ``None``; e.g. null queries have ``None`` retrieval metrics).

    Without ``group_key``: ``{key: mean, ..., "n": N}``.
    With ``group_key``: ``{"overall": {..., "n": N}, "<group>": {..., "n": n}, ...}``
    where groups are ``str(row.get(group_key))``, listed after "overall" in sorted
    order.
    """
    if group_key is None:
        return _mean_block(rows, keys)
    result = {"overall": _mean_block(rows, keys)}
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(str(row.get(group_key)), []).append(row)
    for name in sorted(groups):
        result[name] = _mean_block(groups[name], keys)
    return result


# ---------------------------------------------------------------------------
# Generation
# ---------------------------------------------------------------------------


def short_answer(text: str) -> str:
    """The leading answer of a reply, as the paper extracted it before scoring: citation markers removed,
    the first sentence up to its first comma, outer punctuation stripped.
    "Yes, the Fortune article says… [2]." -> "Yes"; "Sam Altman, a former CEO…" -> "Sam Altman"."""
    text = re.sub(r"\s*\[\d+(?:\s*[,;]\s*\d+)*\]", "", text).strip()
    first = re.split(r"(?<=[.!?])\s", text, maxsplit=1)[0]
    return first.split(",", 1)[0].strip(" .!?:;\"'")


def paper_accuracy(prediction: str, gold: str) -> bool:
    """The paper's lenient accuracy: the lower-cased, whitespace-split word sets
    of prediction and gold share at least one word.

    Exactly ``set(pred.lower().split()) & set(gold.lower().split())``; punctuation
    is *not* stripped, so gold "Insufficient information." matches any reply
    containing the token "information." (with the full stop) but not
    "information" alone.  The paper's prompt-specific extraction of
    ``The answer to the question is "..."`` is not applied here.
    """
    return bool(set(prediction.lower().split()) & set(gold.lower().split()))


_ARTICLES = {"a", "an", "the"}


def normalize_answer(text: str) -> str:
    """Lower-case; every character that is not a letter, digit or whitespace
    becomes a space; drop the articles a/an/the; collapse whitespace.

    Punctuation is replaced by a space rather than deleted, so "Bankman-Fried"
    becomes "bankman fried" and "Google's" becomes "google s" (which still
    contains the token "google").
    """
    chars = [c if (c.isalnum() or c.isspace()) else " " for c in text.lower()]
    tokens = [t for t in "".join(chars).split() if t not in _ARTICLES]
    return " ".join(tokens)


_YES_WORDS = {"yes", "yeah", "yep", "true", "correct"}
_NO_WORDS = {"no", "nope", "false", "incorrect"}
_YES_NO_WINDOW = 6
_NULL_GOLD = "insufficient information"


def _polarity(text: str) -> str | None:
    """ "yes", "no" or None for a prediction.

    First the first yes/no-like word among the first 6 normalised words
    (yes/yeah/yep/true/correct vs no/nope/false/incorrect); failing that, the first
    plain "yes" or "no" anywhere in the text.
    """
    tokens = normalize_answer(text).split()
    for tok in tokens[:_YES_NO_WINDOW]:
        if tok in _YES_WORDS:
            return "yes"
        if tok in _NO_WORDS:
            return "no"
    for tok in tokens:
        if tok in ("yes", "no"):
            return tok
    return None


def _gold_polarity(gold: str) -> str | None:
    norm = normalize_answer(gold)
    if norm in ("yes", "true"):
        return "yes"
    if norm in ("no", "false"):
        return "no"
    return None


def normalized_match(prediction: str, gold: str) -> bool:
    """Stricter answer match reported beside the paper's accuracy.

    - gold "Insufficient information." (null query): True iff ``is_refusal(prediction)``.
    - yes/no gold ("Yes", "yes", "No", "no"; also "True"/"False"): the
      prediction's polarity (see ``_polarity``) equals the gold's.
    - any other gold: normalised gold (``normalize_answer``) is a contiguous token
      subsequence of the normalised prediction.
    For non-null gold a refusal is always wrong, even if it happens to contain the
    answer's words (e.g. "There is no information about Google").
    """
    norm_gold = normalize_answer(gold)
    if norm_gold == _NULL_GOLD:
        return is_refusal(prediction)
    if is_refusal(prediction):
        return False
    gold_pol = _gold_polarity(gold)
    if gold_pol is not None:
        return _polarity(prediction) == gold_pol
    gold_toks = norm_gold.split()
    pred_toks = normalize_answer(prediction).split()
    if not gold_toks:
        return not pred_toks
    n = len(gold_toks)
    return any(pred_toks[i : i + n] == gold_toks for i in range(len(pred_toks) - n + 1))


_REFUSAL_PATTERNS = [
    r"\binsufficient (?:\w+ )?(?:information|evidence|data|context|details)\b",
    r"\bnot (?:\w+ )?enough (?:\w+ )?(?:information|evidence|data|context|details|info)\b",
    r"\bno (?:\w+ ){0,2}(?:information|evidence|data|details|mention)\b",
    r"\b(?:i|we) (?:do not|don't|dont|cannot|can't|can not|am unable to|are unable to) "
    r"(?:know|say|determine|tell|answer|find)\b",
    r"\b(?:sources?|articles?|documents?|context|passages?|texts?) "
    r"(?:provided |given |above )?(?:do not|don't|does not|doesn't|did not|didn't) "
    r"(?:\w+ )?(?:say|answer|mention|specify|provide|contain|state|include|indicate|"
    r"address|discuss|give|cover|tell|support)\b",
    r"\b(?:cannot|can't|can not|could not|couldn't|unable to|impossible to|not possible to) "
    r"(?:be )?(?:determined?|answered|answer|tell|told|say|said|know|known|confirm|"
    r"confirmed|verify|verified)\b",
    r"\b(?:not|n't) (?:contain|provide|include|have|give) (?:any |enough |sufficient )?"
    r"(?:relevant )?(?:information|details|evidence)\b",
    r"^\W*(?:unknown|unanswerable|n/?a|not specified|not mentioned)\W*$",
]
_REFUSAL_RE = re.compile("|".join(f"(?:{p})" for p in _REFUSAL_PATTERNS))


def is_refusal(text: str) -> bool:
    """True if the reply declines to answer (or is empty / whitespace only).

    Recognises, case-insensitively: "insufficient information", "not enough
    information/evidence", "no (relevant) information/evidence", "I don't know",
    "I cannot determine", "the sources do not say / don't answer / do not
    mention ...", "cannot be determined", "does not contain any information",
    and bare "Unknown" / "N/A".  A reply that gives an answer and cites the
    sources ("Yes, the sources say X") is not a refusal.
    """
    if text is None or not text.strip():
        return True
    lowered = " ".join(text.lower().replace("\u2019", "'").replace("\u2018", "'").split())
    return _REFUSAL_RE.search(lowered) is not None


# ---------------------------------------------------------------------------
# Citations
# ---------------------------------------------------------------------------


def fact_supported(cited_text: str, facts: list[str]) -> bool:
    """A cited chunk supports the answer when it holds a gold fact under the paper's
    relevance rule (``normalize_for_match`` substring), the same rule as retrieval."""
    chunk = normalize_for_match(cited_text)
    return any(normalize_for_match(f) in chunk for f in facts)


def precision(judgements: list[bool]) -> float | None:
    """Share of True among judgements (e.g. one per citation); ``None`` when there are none."""
    return sum(1 for j in judgements if j) / len(judgements) if judgements else None


# ---------------------------------------------------------------------------
# Misc
# ---------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (q in [0, 100]) with linear interpolation between the
    closest ranks (numpy's default "linear" method); ``nan`` for no values."""
    if not 0 <= q <= 100:
        raise ValueError(f"q must be in [0, 100], got {q!r}")
    data = sorted(float(v) for v in values)
    if not data:
        return float("nan")
    pos = (len(data) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(data) - 1)
    frac = pos - lo
    return data[lo] + (data[hi] - data[lo]) * frac


def yes_no_calibration(margins: list[tuple[float, bool]], threshold: float) -> dict:
    """How well log P(yes) - log P(no) separates gold Yes from gold No: AUC (1 = perfect, 0.5 = chance), the
    accuracy at `threshold`, at 0 (plain argmax) and at the best threshold for these questions (midpoints
    between observed margins, ties broken towards `threshold`)."""
    if not margins:
        return {"n": 0}

    def accuracy(t: float) -> float:
        return sum((m > t) == yes for m, yes in margins) / len(margins)

    yes = [m for m, y in margins if y]
    no = [m for m, y in margins if not y]
    auc = (
        (sum((a > b) + 0.5 * (a == b) for a in yes for b in no) / (len(yes) * len(no)))
        if yes and no
        else None
    )
    values = sorted({m for m, _ in margins})
    cuts = [values[0] - 1.0] + [(a + b) / 2 for a, b in zip(values, values[1:])] + [values[-1] + 1.0]
    best = max(cuts, key=lambda t: (accuracy(t), -abs(t - threshold)))
    return {
        "n": len(margins),
        "gold_yes_share": len(yes) / len(margins),
        "auc": auc,
        "threshold": threshold,
        "accuracy": accuracy(threshold),
        "accuracy_at_0": accuracy(0.0),
        "best_threshold": round(best, 3),
        "best_accuracy": accuracy(best),
    }
