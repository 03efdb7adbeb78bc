"""The tuning values of retrieval and answering, in one frozen object.

`Settings.tuning` holds one; every field can be set as `NEWSRAG_TUNING__<FIELD>` or swept by an eval
with `--tune FIELD=VALUE`. Code takes the object it is given and never reads a module constant, so a
sweep changes one run and nothing else.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Tuning(BaseModel):
    """Weights, depths and thresholds; their measured effects are in evals/README.md."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    # -- retrieval (rag.retrieval) --
    pool: int = Field(60, description="Candidates taken from each retriever before fusion.")
    outlet_boost: float = Field(0.35, description="Score added to chunks of an outlet the question names.")
    part_outlet_boost: float = Field(0.5, description="Score added to chunks of the outlet a claim names.")
    date_boost: float = Field(0.2, description="Score added to chunks published on a day the question names.")
    part_context: float = Field(
        1.0, description="Weight of the whole-question score when ranking for one claim."
    )
    part_depth: int = Field(20, description="How deep each outlet's and claim's list is read.")
    part_sentence: float = Field(
        1.0, description="Weight of a claim's best-matching sentence in its keyword ranking."
    )
    rounds: int = Field(3, description="Chunks per outlet / claim interleaved before the rest.")
    head: float = Field(1.0, description="Share of k filled by interleaving.")
    lead: int = Field(1, description="Best whole-question chunks placed before the interleaving.")
    cover_depth: int = Field(20, description="First chunks reordered for term coverage.")
    cover_weight: float = Field(
        0.3, description="Weight of a chunk's best sentence on the uncovered terms, against its rank prior."
    )
    cover_decay: float = Field(0.2, description="Weight left to a question term once a chunk above holds it.")
    feedback_depth: int = Field(
        10, description="First chunks whose leading name a who/which question is searched again with."
    )
    feedback_keep: int = Field(4, description="First chunks kept ahead of that second search's.")

    # -- keyword index (rag.backends.keyword) --
    sentence_weight: float = Field(
        0.3, description="Weight of a chunk's best-matching sentence, relative to the chunk's own BM25 scale."
    )
    sentence_pool_from: int = Field(
        250_000,
        description="Largest index (chunks) whose every sentence is scored for each question; above it only "
        "the sentences of the `sentence_pool` chunks with the best BM25 of their own are.",
    )
    sentence_pool: int = Field(
        2_000, description="Chunks whose sentences are scored past `sentence_pool_from`."
    )
    chunk_k1: float = Field(0.6, description="BM25 k1 (term-frequency saturation) for chunks.")
    chunk_b: float = Field(0.75, description="BM25 b (length normalisation) for chunks.")
    sentence_k1: float = Field(0.6, description="BM25 k1 for single sentences.")
    sentence_b: float = Field(0.5, description="BM25 b for single sentences.")

    # -- evidence and answerability (rag.answer) --
    sentences_per_source: int = Field(2, description="Sentences of each source shown to the LLM.")
    pooled_chunks: int = Field(
        3,
        description="Retrieved chunks of one article whose sentences its evidence is chosen from "
        "(1: its best-ranked chunk alone; yes/no and name questions always use that one).",
    )
    built_sentences: int = Field(
        2,
        description="Sentences of each source's evidence for a timeline, comparison or conflict, built "
        "without the LLM (each chosen for what it adds).",
    )
    key_sentences: int = Field(
        2,
        description="Evidence sentences of the source a written answer cites first shown after it when they say "
        "what it does not (0: none).",
    )
    first_source_words: int = Field(
        80, description="Words of evidence of a written answer's first source (0: as many as the others')."
    )
    first_source_sentences: int = Field(
        4, description="Sentences of evidence of a written answer's first source."
    )
    evidence_decay: float = Field(
        0.3,
        description="What a question term still counts, in a written answer's evidence, once a sentence chosen "
        "before holds it.",
    )
    meaning_candidates: int = Field(
        8,
        ge=1,
        description="Sentences of each source compared in meaning to the question: those sharing the most terms "
        "with it, and its lead.",
    )
    lead_sentences: int = Field(2, description="An article's first sentences that count as its lead.")
    lead_bonus: float = Field(
        0.5,
        description="Added to a lead sentence's score (in shared question terms) when evidence is chosen.",
    )
    relevance_floor: float = Field(
        0.3,
        description="Cosine similarity to the question that a source's best "
        "sentence must reach to be sent at all (the best source always is).",
    )
    coverage: float = Field(
        0.4,
        description="Share of the question's key terms the retrieved text must hold before the LLM is asked.",
    )
    slack_from: int = Field(4, description="A question naming fewer names than this may miss none of them.")
    missing_names: float = Field(0.34, description="Otherwise this share of its names may be absent.")
    name_lookup_max_chunks: int = Field(
        50_000,
        description="Largest index whose whole text is searched for how "
        "it capitalises a lower-case question's words (names) absent from the "
        "results; above it only the results are.",
    )
    yes_no_sources: int = Field(
        2, description="Sources a yes/no question is answered from (plus named outlets)."
    )
    name_sources: int = Field(2, description="Sources a who/which/how-many question is answered from.")
    built_sources: int = Field(6, description="Sources a timeline or an outlet comparison is built from.")
    written_sources: int = Field(
        2,
        description="Sources a question answered in the LLM's own sentences (position, summary…) is answered from.",
    )
    written_evidence_words: int = Field(
        30,
        description="Words of each source's evidence such a question's prompt shows (whole sentences first).",
    )
    latest_sources: int = Field(
        3,
        description="Sources a latest-news answer is built from: the best-scored, then ordered newest first.",
    )
    latest_pool: int = Field(
        40, description="Chunks retrieved for a latest-news question, to find the newest."
    )
    latest_words: int = Field(
        110, description="Words of evidence of each source of a latest-news answer (shown whole, no LLM)."
    )
    latest_sentences: int = Field(
        5, description="Sentences of evidence of each source of a latest-news answer."
    )
    latest_score: float = Field(
        0.6, description="Share of the best hit's score a hit needs to count as the latest development."
    )
    latest_pick: float = Field(
        0.7,
        description="Share of the best source's score the source a latest-news answer is built from needs.",
    )
    latest_terms: float = Field(
        0.6, description="Share of a latest-news question's terms a hit must hold to count as its latest."
    )
    name_tokens: int = Field(24, description="Most tokens of a name answer.")
    max_name_options: int = Field(8, description="Most alternative names the LLM chooses among.")

    # -- citations (rag.answer.citations) --
    support: float = Field(
        0.6, description="Share of a claim's content terms a source must hold to support it."
    )
    short_support: float = Field(
        0.3, description="For a bare answer ('Yes.'): share of the question's terms a source must hold."
    )
    max_short_cites: int = Field(3, description="Most sources cited for a bare answer.")

    # -- name answers (rag.answer.names) --
    corroborated: int = Field(
        2, description="Sources that must hold a name before it may replace an answer no source holds."
    )
    widely: int = Field(
        3, description="Sources that must hold a name before it may replace an answer one source holds."
    )
    first_mention: float = Field(
        0.1,
        description="Share of the texts naming someone whose first mention must "
        "carry the first name for a one-word name to be given in full.",
    )
    longest_answer: int = Field(6, description="Words; a longer reply is a sentence, not a name to check.")
    leading_articles: int = Field(
        3, description="Articles among a question's first results that must hold a name for it to lead them."
    )

    # -- follow-up questions (rag.answer.compose) --
    history_turns: int = Field(6, description="Last chat turns shown when rewriting a follow-up.")
    history_chars: int = Field(400, description="Characters of each turn shown when rewriting a follow-up.")
    rewrite_tokens: int = Field(64, description="Most tokens of a rewritten follow-up question.")

    def with_values(self, pairs: list[str]) -> Tuning:
        """A copy with `FIELD=VALUE` pairs applied (values parsed as the field's type)."""
        from rag.errors import ConfigError

        changes: dict[str, str] = {}
        for pair in pairs:
            key, sep, value = pair.partition("=")
            key = key.strip().replace("-", "_")
            if not sep or key not in type(self).model_fields:
                raise ConfigError(
                    f"--tune {pair!r}: expected FIELD=VALUE with FIELD one of "
                    f"{', '.join(type(self).model_fields)}"
                )
            changes[key] = value.strip()
        try:
            return type(self).model_validate({**self.model_dump(), **changes})
        except ValueError as exc:
            raise ConfigError(f"--tune: {exc}") from None


DEFAULT = Tuning()
