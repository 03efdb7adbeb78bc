"""LLM backends behind one small protocol, chosen by name. `extractive` means no LLM at all."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from rag.errors import BackendError, ConfigError, ModelError
from rag.settings import Settings

Messages = list[dict[str, str]]


class LLM(Protocol):
    name: str

    def stream(self, messages: Messages, max_tokens: int) -> Iterator[str]:
        """Yield text pieces as they are generated."""
        ...


def complete(llm: LLM, messages: Messages, max_tokens: int) -> str:
    return "".join(llm.stream(messages, max_tokens)).strip()


class LocalLLM:
    """A GGUF model on llama-cpp-python; the chat template is read from the file."""

    def __init__(self, settings: Settings):
        from rag.models import model_path

        path = model_path(settings)
        try:
            from llama_cpp import Llama
        except ImportError:
            raise ModelError("llama-cpp-python is not installed: pip install llama-cpp-python") from None
        try:
            self.model = Llama(model_path=str(path), n_ctx=settings.n_ctx, n_threads=settings.n_threads,
                               n_threads_batch=settings.n_threads, verbose=False, seed=0)
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"cannot load the GGUF model {path}: {exc}") from None
        self.name = f"local:{path.name}"
        self.temperature = settings.temperature

    def stream(self, messages: Messages, max_tokens: int) -> Iterator[str]:
        for chunk in self.model.create_chat_completion(messages=messages, max_tokens=max_tokens, stream=True,
                                                       temperature=self.temperature, top_k=1 if self.temperature == 0 else 40):
            piece = chunk["choices"][0]["delta"].get("content")
            if piece:
                yield piece


class OpenAILLM:
    """Any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, Ollama, llama.cpp server)."""

    def __init__(self, settings: Settings):
        from openai import OpenAI

        self.client = OpenAI(base_url=settings.openai_base_url, api_key=settings.api_key() or "not-needed",
                             timeout=settings.openai_timeout, max_retries=1)
        self.model = settings.openai_model
        self.name = f"openai:{self.model}"
        self.temperature = settings.temperature
        self.where = settings.openai_base_url or "api.openai.com"

    def stream(self, messages: Messages, max_tokens: int) -> Iterator[str]:
        import httpx
        import openai

        try:
            response = self.client.chat.completions.create(model=self.model, messages=messages, stream=True,
                                                           max_tokens=max_tokens, temperature=self.temperature)
            for chunk in response:
                if chunk.choices and chunk.choices[0].delta.content:
                    yield chunk.choices[0].delta.content
        except (openai.APITimeoutError, httpx.TimeoutException):  # httpx's own: a stall mid-stream
            raise BackendError(f"the LLM endpoint {self.where} timed out; try again, raise "
                               "NEWSRAG_OPENAI_TIMEOUT, or use --llm extractive") from None
        except openai.APIConnectionError:
            raise BackendError(f"cannot reach the LLM endpoint {self.where}; check NEWSRAG_OPENAI_BASE_URL "
                               "or use --llm local / extractive") from None
        except openai.APIStatusError as exc:
            raise BackendError(f"the LLM endpoint {self.where} answered HTTP {exc.status_code}: "
                               f"{str(exc.message)[:200]}") from None
        except (openai.APIError, httpx.TransportError) as exc:  # error event / dropped connection mid-stream
            raise BackendError(f"the LLM endpoint {self.where} failed mid-answer: "
                               f"{type(exc).__name__}: {str(exc)[:200]}") from None


LLMS = {"local": LocalLLM, "openai": OpenAILLM, "extractive": None}


def check_name(name: str) -> None:
    if name not in LLMS:
        raise ConfigError(f"unknown LLM backend {name!r}; valid: {', '.join(LLMS)} (set NEWSRAG_LLM or --llm)")


def make_llm(settings: Settings) -> LLM | None:
    """The configured LLM, or None for the extractive backend."""
    check_name(settings.llm)
    cls = LLMS[settings.llm]
    return cls(settings) if cls else None
