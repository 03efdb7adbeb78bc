"""The one settings object. Built once at an entry point and passed down."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Literal

from platformdirs import user_data_dir
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.tuning import Tuning


def _default_data_dir() -> Path:
    return Path(user_data_dir("newsrag", appauthor=False))


class Settings(BaseSettings):
    """newsrag configuration; every field can be set as `NEWSRAG_<FIELD>` in the environment."""

    model_config = SettingsConfigDict(env_prefix="NEWSRAG_", env_nested_delimiter="__", extra="ignore")

    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Where the index, the manifest and the joined model file live.",
    )
    collection: str = Field("news", description="Chroma collection name (3-512 characters).")
    chroma_url: str | None = Field(
        None,
        description="URL of a Chroma server (http://host:port); "
        "unset uses the embedded store under data_dir.",
    )

    llm: str = Field("local", description="LLM backend: local, openai or extractive.")
    embeddings: str = Field("local", description="Embedding backend: local or openai.")

    model_path: Path | None = Field(
        None,
        description="A GGUF file for the local LLM; unset uses the "
        "bundled Qwen2.5-Coder-1.5B-Instruct Q4_K_M.",
    )
    n_threads: int = Field(
        default_factory=lambda: os.cpu_count() or 2,
        description="CPU threads for the local LLM and the embedder.",
    )
    n_ctx: int = Field(4096, description="Context window of the local LLM, in tokens.")
    max_tokens: int = Field(256, description="Most tokens the LLM may generate per answer.")
    temperature: float = Field(0.0, description="Sampling temperature (0 = deterministic).")

    openai_base_url: str | None = Field(
        None,
        description="Base URL of an OpenAI-compatible endpoint "
        "(e.g. http://localhost:8000/v1); unset means api.openai.com.",
    )
    openai_model: str = Field("gpt-4o-mini", description="Chat model name at the OpenAI-compatible endpoint.")
    openai_embedding_model: str = Field(
        "text-embedding-3-small", description="Embedding model at the OpenAI-compatible endpoint."
    )
    openai_api_key: str | None = Field(None, description="API key; falls back to OPENAI_API_KEY.")
    openai_timeout: float = Field(
        90.0,
        gt=0,
        description="Seconds an OpenAI-compatible call may take in all: its retry and the whole "
        "streamed answer included (each embedding batch is one call).",
    )

    chunk_tokens: int = Field(256, description="Chunk size in cl100k tokens, header included.")
    chunk_overlap: int = Field(16, description="Token overlap between neighbouring chunks.")
    max_file_mb: float = Field(20.0, description="Files larger than this are skipped.")

    top_k: int = Field(10, description="Chunks retrieved per question.")
    context_sources: int = Field(
        4,
        description="Most sources an answer rests on; yes/no questions use their "
        "best 2 and who/which questions 3, plus one for each further outlet they name.",
    )
    bm25_weight: float = Field(
        0.7, description="Weight of keyword (BM25) scores in hybrid fusion; dense gets 1 - this."
    )

    exact_dense_max: int = Field(
        250_000,
        description="Largest index (chunks) searched by exact dense similarity; above it Chroma's HNSW "
        "index answers, with filters pushed down.",
    )
    compact_fraction: float = Field(
        0.1,
        description="Share of the index that may be added or removed since it was last built before it "
        "is rebuilt in one segment and saved (each update alone costs what the change costs).",
    )
    refresh_s: float = Field(
        1.0, description="Seconds between checks for changes other processes made to the store."
    )

    yes_no: Literal["auto", "verdict", "generate"] = Field(
        "auto",
        description="How yes/no questions are decided: 'verdict' compares the LLM's "
        "probabilities of Yes and No for its first word and then quotes the sources; 'generate' "
        "lets it write freely; 'auto' is verdict for the local model, generate for openai.",
    )
    yes_margin: float | None = Field(
        None,
        description="log P(yes) - log P(no) above which the verdict is Yes; "
        "unset is the value calibrated for the bundled model (0 for any other).",
    )

    as_of: date | None = Field(
        None,
        description="The date questions are asked on (YYYY-MM-DD): relative "
        "dates ('last week', 'on Tuesday') resolve against it; unset is today.",
    )
    tuning: Tuning = Field(
        default_factory=Tuning,
        description="Weights and thresholds of retrieval and "
        "answering (rag.tuning); one value as NEWSRAG_TUNING__<FIELD>, or `--tune` in evals.",
    )

    ui_auth: str | None = Field(
        None, description="user:password required by the chat UI; needed to bind to a non-loopback address."
    )

    def api_key(self) -> str | None:
        return self.openai_api_key or os.environ.get("OPENAI_API_KEY")
