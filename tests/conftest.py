"""Shared fixtures: isolated settings, a scripted LLM that records prompts, a demo index built once."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "news"
SHARED = ROOT.parent / "shared" / "data" / "multihop-rag"


class ScriptedLLM:
    """Returns the given replies in order (then a refusal), streaming word by word; keeps every prompt."""

    name = "scripted"

    def __init__(self, *replies: str):
        self.replies = list(replies)
        self.prompts: list[list[dict[str, str]]] = []

    def stream(self, messages, max_tokens):
        self.prompts.append(messages)
        reply = self.replies.pop(0) if self.replies else "The sources do not say."
        yield from re.findall(r"\S+\s*", reply)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for key in list(os.environ):
        if key.startswith("NEWSRAG_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("ANONYMIZED_TELEMETRY", "False")


@pytest.fixture
def settings(tmp_path):
    from rag.settings import Settings

    return Settings(data_dir=tmp_path / "data", llm="extractive")


@pytest.fixture(scope="session")
def demo_data_dir(tmp_path_factory):
    """A data dir with the demo corpus ingested once per session; copy it before mutating."""
    from rag.assistant import Assistant
    from rag.settings import Settings

    data = tmp_path_factory.mktemp("demo") / "data"
    report = Assistant(Settings(data_dir=data, llm="extractive")).ingest([DEMO])
    assert report.failed == 0 and report.new == 20
    return data


@pytest.fixture
def demo(demo_data_dir, tmp_path):
    """An Assistant over a private copy of the demo index (extractive backend)."""
    from rag.assistant import Assistant
    from rag.settings import Settings

    data = tmp_path / "data"
    shutil.copytree(demo_data_dir, data)
    return Assistant(Settings(data_dir=data, llm="extractive"))


def demo_url(stem: str) -> str:
    """The URL of the demo article whose URL ends with `stem`."""
    for path in DEMO.rglob("*"):
        if path.is_file():
            for url in re.findall(r"https://[\w.-]+\.example/[\w/.-]+", path.read_text()):
                if url.rstrip("/").endswith(stem):
                    return url
    raise KeyError(stem)
