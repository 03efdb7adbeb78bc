"""newsrag core: `from rag import Assistant, Settings`."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rag.answer.result import Answer
    from rag.assistant import Assistant
    from rag.settings import Settings

__all__ = ["Answer", "Assistant", "Settings", "ask"]


def __getattr__(name: str):
    # Lazy: `import rag` stays cheap (no chromadb, onnxruntime or llama.cpp until used).
    if name == "Assistant":
        from rag.assistant import Assistant

        return Assistant
    if name == "Settings":
        from rag.settings import Settings

        return Settings
    if name == "Answer":
        from rag.answer.result import Answer

        return Answer
    raise AttributeError(name)


def ask(question: str, **kwargs) -> Answer:
    """One-off question against the configured index (settings from the environment)."""
    from rag.assistant import Assistant

    return Assistant().ask(question, **kwargs)
