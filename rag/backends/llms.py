"""LLM backends behind one small protocol, chosen by name. `extractive` means no LLM at all."""

from __future__ import annotations

import json
import queue
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

from rag.errors import BackendError, ConfigError, ModelError
from rag.settings import Settings

Messages = list[dict[str, str]]
T = TypeVar("T")


class LLM(Protocol):
    name: str

    def stream(self, messages: Messages, max_tokens: int) -> Iterator[str]:
        """Yield text pieces as they are generated."""
        ...


class Verdicts(Protocol):
    """An LLM that can also score its first reply word: optional, used for yes/no questions."""

    def yes_no(self, messages: Messages) -> float | None:
        """log P(yes) - log P(no) for the reply's first token, or None when the backend cannot tell."""
        ...


YES, NO = "yes", "no"


def _polar(piece: str) -> str | None:
    word = piece.strip().strip(",.!:").lower()
    return word if word in (YES, NO) else None


def yes_no_margin(llm: LLM, messages: Messages) -> float | None:
    """The backend's yes/no margin when it offers one (see `Verdicts`), else None."""
    scorer = getattr(llm, "yes_no", None)
    return scorer(messages) if scorer else None


def choice_margin(llm: LLM, messages: Messages, options: tuple[str, str]) -> float | None:
    """log P(first option) - log P(second) as the reply's first word, when the backend can score; else None."""
    scorer = getattr(llm, "choose", None)
    return scorer(messages, options) if scorer else None


def pick(llm: LLM, messages: Messages, options: list[str]) -> str | None:
    """The option the backend replies with when its reply is held to the options, when it can be; else None."""
    chooser = getattr(llm, "pick", None)
    return chooser(messages, options) if chooser else None


def complete(llm: LLM, messages: Messages, max_tokens: int) -> str:
    return "".join(llm.stream(messages, max_tokens)).strip()


def uses_amx(system_info: str) -> bool:
    """Whether llama.cpp reports AMX matrix units it will use (`llama_print_system_info`)."""
    return "AMX_INT8 = 1" in system_info


_PARAMS_LOCK = threading.Lock()


@contextmanager
def _plain_weight_buffers():
    """Load weights into plain CPU buffers where llama.cpp would use AMX.

    llama.cpp's AMX kernels crash on Q4_K weights on some Xeon CPUs (segfault in ggml_backend_amx_mul_mat,
    ggml-org/llama.cpp#20824; seen with the bundled model on this project's machines). llama-cpp-python
    does not expose llama_model_params.use_extra_bufts, so its default params are swapped while a model
    loads. Elsewhere nothing changes (weight repacking stays on)."""
    import llama_cpp.llama_cpp as lib

    info = lib.llama_print_system_info().decode("utf-8", "replace")
    fields = {name for name, _ in lib.llama_model_params._fields_}
    if not uses_amx(info) or "use_extra_bufts" not in fields:
        yield
        return
    original = lib.llama_model_default_params

    def params():
        value = original()
        value.use_extra_bufts = False
        return value

    with _PARAMS_LOCK:
        lib.llama_model_default_params = params
        try:
            yield
        finally:
            lib.llama_model_default_params = original


# Prompt heads whose KV cache is kept (a few MB each): the answer prompts' two and the rewrite's.
_KEPT_HEADS = 4


class LocalLLM:
    """A GGUF model on llama-cpp-python; the chat template is read from the file."""

    def __init__(self, settings: Settings):
        from rag.backends.models import model_path

        path = model_path(settings)
        try:
            from llama_cpp import Llama
        except ImportError:
            raise ModelError("llama-cpp-python is not installed: pip install llama-cpp-python") from None
        try:
            with _plain_weight_buffers():
                self.model = Llama(
                    model_path=str(path),
                    n_ctx=settings.n_ctx,
                    n_threads=settings.n_threads,
                    n_threads_batch=settings.n_threads,
                    verbose=False,
                    seed=0,
                )
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"cannot load the GGUF model {path}: {exc}") from None
        self.name = f"local:{path.name}"
        self.temperature = settings.temperature
        self._polar_ids: dict[str, list[int]] | None = None
        self._formatter = None
        self._head: list[int] = []  # the prompt head last evaluated on its own (see _prefill)
        # each head read so far -> the KV cache holding just it
        self._heads: dict[tuple[int, ...], bytes] = {}

    def _prompt_tokens(self, messages: Messages) -> list[int]:
        """The chat-formatted prompt, as create_chat_completion would build it from the GGUF's template."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        model = self.model
        if self._formatter is None:
            template = model.metadata.get("tokenizer.chat_template")
            if not template:
                return []
            eos, bos = model.token_eos(), model.token_bos()
            self._formatter = Jinja2ChatFormatter(
                template=template,
                eos_token=model.detokenize([eos], special=True).decode("utf-8", "replace")
                if eos >= 0
                else "",
                bos_token=model.detokenize([bos], special=True).decode("utf-8", "replace")
                if bos >= 0
                else "",
            )
        prompt = self._formatter(messages=messages).prompt
        return model.tokenize(prompt.encode(), add_bos=False, special=True)

    def _prefill(self, messages: Messages) -> list[int]:
        """Tokenise the prompt and make the KV cache hold its fixed head (system prompt and the user turn's
        opening) evaluated on its own. llama.cpp's logits shift with how a prompt is split into batches, so
        the head is always evaluated alone (or its cache reloaded as it was then) and the rest in one go: the
        same prompt then scores the same whatever was asked before. Returns the tokens; the cache holds their
        head."""
        model = self.model
        tokens = self._prompt_tokens(messages)
        if not tokens:
            return []
        other = self._prompt_tokens(messages[:-1] + [{**messages[-1], "content": "#"}])
        head = 0
        while head < min(len(tokens), len(other)) - 1 and tokens[head] == other[head]:
            head += 1
        cached = list(model.input_ids[: min(model.n_tokens, head)])
        if self._head != tokens[:head] or cached != tokens[:head]:
            state = self._heads.get(tuple(tokens[:head]))
            if state is None:
                model.reset()
                model.eval(tokens[:head])
                self._heads[tuple(tokens[:head])] = self._kv_state()
                while len(self._heads) > _KEPT_HEADS:
                    self._heads.pop(next(iter(self._heads)))
            else:  # read before, then replaced by another prompt's (a rewrite's): reloaded, not read again
                self._load_kv_state(state)
                model.input_ids[:head] = tokens[:head]
            self._head = tokens[:head]
        model.n_tokens = head
        return tokens

    def _kv_state(self) -> bytes:
        """llama.cpp's context state (the KV cache of what was evaluated), without llama-cpp-python's copy of
        every batch's logits that `save_state` adds."""
        import ctypes

        import llama_cpp

        ctx = self.model._ctx.ctx
        size = llama_cpp.llama_state_get_size(ctx)
        buffer = (ctypes.c_uint8 * size)()
        return ctypes.string_at(buffer, llama_cpp.llama_state_get_data(ctx, buffer, size))

    def _load_kv_state(self, state: bytes) -> None:
        import ctypes

        import llama_cpp

        data = (ctypes.c_uint8 * len(state)).from_buffer_copy(state)
        if llama_cpp.llama_state_set_data(self.model._ctx.ctx, data, len(state)) != len(state):
            raise ModelError("could not restore the model's cached prompt head")

    def yes_no(self, messages: Messages) -> float | None:
        import numpy as np

        model = self.model
        if self._polar_ids is None:
            self._polar_ids = {YES: [], NO: []}
            for i in range(model.n_vocab()):
                word = _polar(model.detokenize([i]).decode("utf-8", "ignore"))
                if word:
                    self._polar_ids[word].append(i)
        if not self._polar_ids[YES] or not self._polar_ids[NO]:
            return None
        tokens = self._prefill(messages)
        if not tokens or len(tokens) >= model.n_ctx():
            return None
        model.eval(tokens[model.n_tokens :])
        logits = self._last_logits()
        top = logits.max()
        mass = {w: np.log(np.exp(logits[ids] - top).sum()) for w, ids in self._polar_ids.items()}
        return float(mass[YES] - mass[NO])

    def _last_logits(self):
        """The next-token logits after the last evaluated token, as float64 (a copy)."""
        import numpy as np
        from llama_cpp import llama_get_logits_ith

        model = self.model
        return np.ctypeslib.as_array(llama_get_logits_ith(model.ctx, -1), shape=(model.n_vocab(),)).astype(
            np.float64
        )

    def _log_softmax(self):
        """Log-probabilities of every next token after the last evaluated one."""
        import numpy as np

        logits = self._last_logits()
        top = logits.max()
        return logits - top - np.log(np.exp(logits - top).sum())

    def choose(self, messages: Messages, options: tuple[str, str]) -> float | None:
        """log P(a) - log P(b) for the reply opening with option a or b (each word's whole token sequence,
        capitalised or not): the `yes_no` margin for questions that offer their own two answers."""
        import numpy as np

        model = self.model
        tokens = self._prefill(messages)
        if not tokens or len(tokens) + 8 >= model.n_ctx():
            return None
        model.eval(tokens[model.n_tokens :])
        end = model.n_tokens
        first = self._log_softmax()
        scores = []
        for option in options:
            variants = []
            for word in dict.fromkeys((option.capitalize(), option.lower())):
                ids = model.tokenize(word.encode(), add_bos=False, special=False)
                total = float(first[ids[0]])
                model.n_tokens = end
                for prev, nxt in zip(ids, ids[1:]):
                    model.eval([prev])
                    total += float(self._log_softmax()[nxt])
                variants.append(total)
            scores.append(float(np.logaddexp.reduce(variants)))
        model.n_tokens = end
        return scores[0] - scores[1]

    def pick(self, messages: Messages, options: list[str]) -> str | None:
        """Its reply held by a grammar to one of the options (greedy): which of them the model prefers."""
        import json

        from llama_cpp import LlamaGrammar

        if not options:
            return None
        grammar = LlamaGrammar.from_string(
            "root ::= " + " | ".join(json.dumps(o) for o in options), verbose=False
        )
        self._prefill(messages)
        longest = max(len(self.model.tokenize(o.encode(), add_bos=False)) for o in options)
        reply = self.model.create_chat_completion(
            messages=messages, max_tokens=longest + 2, temperature=0, top_k=1, grammar=grammar
        )
        text = (reply["choices"][0]["message"]["content"] or "").strip()
        return text if text in options else None

    def count_prompt_tokens(self, messages: Messages) -> int:
        """Tokens in the chat-formatted prompt (the system prompt and the user turn's opening included)."""
        return len(self._prompt_tokens(messages))

    def throughput(self, prompt_tokens: int = 256, new_tokens: int = 32) -> dict[str, float]:
        """Prompt evaluation and decoding speed, in tokens per second, on a fixed text: what the time to the
        first token is made of (the perf suite reports it). Leaves the KV cache empty."""
        import time

        model = self.model
        text = " ".join(["The council met on Tuesday and agreed the budget for the coming year."] * 64)
        tokens = model.tokenize(text.encode(), add_bos=False)
        prompt, decoded = tokens[:prompt_tokens], tokens[prompt_tokens : prompt_tokens + new_tokens]
        model.reset()
        t0 = time.perf_counter()
        model.eval(prompt)
        prompt_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        for token in decoded:  # one decoding step per token, as generation does
            model.eval([token])
        decode_s = time.perf_counter() - t0
        model.reset()  # _prefill sees the empty cache and reloads the next prompt's head
        return {
            "prompt_tokens": len(prompt),
            "prompt_tokens_per_s": len(prompt) / prompt_s,
            "new_tokens": len(decoded),
            "decode_tokens_per_s": len(decoded) / decode_s,
        }

    def stream(self, messages: Messages, max_tokens: int) -> Iterator[str]:
        self._prefill(messages)  # the head as yes_no evaluates it; the completion reuses it
        for chunk in self.model.create_chat_completion(
            messages=messages,
            max_tokens=max_tokens,
            stream=True,
            temperature=self.temperature,
            top_k=1 if self.temperature == 0 else 40,
        ):
            piece = chunk["choices"][0]["delta"].get("content")
            if piece:
                yield piece


# -- OpenAI-compatible endpoints ---------------------------------------------------------------------------
_SECRET = re.compile(r"(?i)\b(bearer|basic)\s+[^\s\"',;()<>\[\]{}]+|\bsk-[\w-]{6,}|(?<=//)[^/@\s]+(?=@)")
_URL_HINT = "check that NEWSRAG_OPENAI_BASE_URL is an OpenAI-compatible API (usually ending in /v1)"
_RETRY_PAUSE_S = 0.5
_END = object()


def redact(text: str, key: str | None = None) -> str:
    """`text` on one line with secrets masked: the API key, bearer/basic credentials, sk-… tokens and
    passwords in URLs. Some endpoints echo the request's Authorization header in their error bodies."""
    if key and len(key) >= 4:
        text = text.replace(key, "[redacted]")
    text = _SECRET.sub(lambda m: f"{m[1]} [redacted]" if m[1] else "[redacted]", text)
    return " ".join(text.split())


def _snippet(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return f'"{text[:limit]}…"' if len(text) > limit else f'"{text}"'


class InvalidResponse(Exception):
    """A successful HTTP answer that is neither JSON nor an event stream: an HTML page, a proxy's notice."""


class MalformedStream(Exception):
    """An event stream whose events are not chat-completion chunks."""


def json_body(response, expected: str = "JSON") -> dict:
    """The JSON object an httpx response holds; InvalidResponse when it holds anything else."""
    response.read()
    try:
        data = response.json()
    except ValueError:  # JSONDecodeError, or bytes that are not text
        data = None
    if not isinstance(data, dict):
        kind = response.headers.get("content-type", "no content type").split(";")[0].strip()
        garbled = " that is not a JSON object" if kind.endswith("json") else ""
        raise InvalidResponse(f"expected {expected}, got {kind}{garbled} ({_snippet(response.text)})")
    return data


def _within(seconds: float, items: Callable[[float, threading.Event], Iterator[T]]) -> Iterator[T]:
    """What `items(deadline, stop)` yields, produced in a worker thread, until `seconds` have passed in all;
    then TimeoutError. The openai client's timeout bounds each read, not a whole response: a server that
    drips tokens would outlast it. `stop` is set once nobody waits for more; a worker blocked in a read
    ends at its own timeout, which is the time left at the deadline."""
    results: queue.SimpleQueue = queue.SimpleQueue()
    stop = threading.Event()
    deadline = time.monotonic() + seconds

    def work() -> None:
        source = items(deadline, stop)
        try:
            for item in source:
                results.put((item, None))
                if stop.is_set():
                    break
        except Exception as exc:  # raised again in the caller's thread
            results.put((_END, exc))
        else:
            results.put((_END, None))
        finally:
            source.close()

    threading.Thread(target=work, name="newsrag-openai", daemon=True).start()
    try:
        while True:
            try:
                item, error = results.get(timeout=max(deadline - time.monotonic(), 0))
            except queue.Empty:
                raise TimeoutError(f"no complete answer within {seconds:g} s") from None
            if item is _END:
                if error is not None:
                    raise error
                return
            yield item
    finally:
        stop.set()


class Endpoint:
    """An OpenAI-compatible endpoint: one client, each call bounded by NEWSRAG_OPENAI_TIMEOUT in all (one
    retry of a quick failure included), failures as one fix-it line with secrets redacted."""

    def __init__(self, settings: Settings, kind: str):
        from openai import OpenAI

        self.kind = kind  # "LLM" or "embedding", as messages name it
        self.where = settings.openai_base_url or "api.openai.com"
        self.key = settings.api_key()
        self.seconds = settings.openai_timeout
        # Retries are made here, where the deadline is known (_send).
        self.client = OpenAI(
            base_url=settings.openai_base_url,
            api_key=self.key or "not-needed",
            timeout=self.seconds,
            max_retries=0,
        )

    def stream(self, send: Callable[[float], Any], read: Callable[[Any], Iterator[T]]) -> Iterator[T]:
        """What `read` yields from the raw response of `send(timeout)`, all within the deadline."""
        import httpx
        import openai

        def items(deadline: float, stop: threading.Event) -> Iterator[T]:
            yield from read(self._send(send, deadline, stop))

        try:
            yield from _within(self.seconds, items)
        except (
            openai.OpenAIError,
            httpx.HTTPError,
            TimeoutError,
            InvalidResponse,
            MalformedStream,
        ) as exc:
            raise self.error(exc) from None

    def fetch(self, send: Callable[[float], Any], read: Callable[[Any], T]) -> T:
        """`read` of the raw response of `send(timeout)`, within the deadline."""
        (result,) = self.stream(send, lambda raw: iter([read(raw)]))
        return result

    @staticmethod
    def _send(send: Callable[[float], Any], deadline: float, stop: threading.Event) -> Any:
        """`send(seconds left)`, tried once more after a quick failure (no connection, HTTP 408, 409, 429 or
        5xx) while the caller still waits and time is left for it; else the failure is the answer."""
        import openai

        try:
            return send(max(deadline - time.monotonic(), 0.01))
        except (openai.APIConnectionError, openai.APIStatusError) as exc:
            status = getattr(exc, "status_code", None)
            transient = not isinstance(exc, openai.APITimeoutError) and (
                status is None or status in (408, 409, 429) or status >= 500
            )
            if not transient or deadline - time.monotonic() < 2 * _RETRY_PAUSE_S or stop.wait(_RETRY_PAUSE_S):
                raise
        return send(max(deadline - time.monotonic(), 0.01))

    def error(self, exc: Exception) -> BackendError:
        """The one line a user sees for a failed call."""
        import httpx
        import openai

        kind, where = self.kind, self.where
        llm = kind == "LLM"
        if isinstance(exc, (TimeoutError, openai.APITimeoutError, httpx.TimeoutException)):
            message = f"the {kind} endpoint {where} timed out; try again, raise NEWSRAG_OPENAI_TIMEOUT" + (
                ", or use --llm extractive" if llm else ""
            )
        elif isinstance(exc, openai.APIConnectionError):
            message = f"cannot reach the {kind} endpoint {where}; check NEWSRAG_OPENAI_BASE_URL" + (
                " or use --llm local / extractive" if llm else ""
            )
        elif isinstance(exc, openai.APIStatusError):
            body = exc.body
            said = body.get("message") if isinstance(body, dict) else body
            said = str(said or exc.message)[:200]
            if exc.status_code in (401, 403):
                message = (
                    f"the {kind} endpoint {where} refused the API key (HTTP {exc.status_code}: {said}); "
                    "check NEWSRAG_OPENAI_API_KEY (or OPENAI_API_KEY)"
                )
            else:
                message = f"the {kind} endpoint {where} answered HTTP {exc.status_code}: {said}"
        elif isinstance(exc, InvalidResponse):
            message = f"the {kind} endpoint {where} sent an invalid response: {exc}; {_URL_HINT}"
        elif isinstance(exc, MalformedStream):
            message = f"the {kind} endpoint {where} sent a malformed stream: {exc}; {_URL_HINT}"
        else:  # an error event, or the connection dropped, mid-stream
            message = f"the {kind} endpoint {where} failed mid-answer: {type(exc).__name__}: {str(exc)[:200]}"
        return BackendError(redact(message, self.key))


def _chunk_text(chunk: Any) -> str | None:
    """The text a streamed chat-completion chunk adds, if any."""
    try:
        content = chunk.choices[0].delta.content if chunk.choices else None
    except (AttributeError, IndexError, TypeError):
        fields = getattr(chunk, "model_fields_set", None)  # the client builds models without checking them
        held = {name: getattr(chunk, name) for name in fields} if fields is not None else chunk
        raise MalformedStream(
            f"an event is not a chat completion chunk ({_snippet(json.dumps(held, default=str))})"
        ) from None
    return content if isinstance(content, str) else None


def _completion_text(data: dict) -> str:
    """The reply text of a (non-streamed) chat completion."""
    try:
        content = data["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise InvalidResponse(
            f"expected a chat completion, got JSON without choices ({_snippet(json.dumps(data))})"
        ) from None
    return content if isinstance(content, str) else ""


class OpenAILLM:
    """Any OpenAI-compatible chat-completions endpoint (OpenAI, vLLM, Ollama, llama.cpp server)."""

    def __init__(self, settings: Settings):
        self.endpoint = Endpoint(settings, "LLM")
        self.client = self.endpoint.client
        # Resolved now: the client imports it on first use, which takes most of a second of the deadline.
        self.completions = self.client.chat.completions.with_raw_response
        self.model = settings.openai_model
        self.name = f"openai:{self.model}"
        self.temperature = settings.temperature
        self.where = self.endpoint.where

    def stream(self, messages: Messages, max_tokens: int) -> Iterator[str]:
        def send(timeout: float):
            return self.completions.create(
                model=self.model,
                messages=messages,
                stream=True,
                max_tokens=max_tokens,
                temperature=self.temperature,
                timeout=timeout,
            )

        return self.endpoint.stream(send, self._pieces)

    @staticmethod
    def _pieces(raw: Any) -> Iterator[str]:
        response = raw.http_response
        if not response.headers.get("content-type", "").startswith("text/event-stream"):
            # Some servers ignore "stream": true and send the whole completion as JSON.
            text = _completion_text(json_body(response, "JSON/SSE"))
            if text:
                yield text
            return
        chunks = raw.parse()
        try:
            for chunk in chunks:
                piece = _chunk_text(chunk)
                if piece:
                    yield piece
        except json.JSONDecodeError as exc:
            raise MalformedStream(f"an event is not JSON ({_snippet(exc.doc)})") from None
        finally:
            chunks.close()

    def yes_no(self, messages: Messages) -> float | None:
        """From the endpoint's top log-probabilities of the first token; None if it gives none."""
        import math

        import openai

        def send(timeout: float):
            try:
                return self.completions.create(
                    model=self.model,
                    messages=messages,
                    max_tokens=1,
                    temperature=0,
                    logprobs=True,
                    top_logprobs=20,
                    timeout=timeout,
                )
            except (openai.BadRequestError, openai.UnprocessableEntityError):
                return None  # the endpoint does not offer log-probabilities: the answer is generated instead

        def read(raw: Any):
            if raw is None:
                return None
            _completion_text(json_body(raw.http_response))  # a chat completion, not a page or garbage
            return raw.parse()

        # Anything else that fails (down, refused, garbled) is for the user to fix, not a reason to answer
        # another way: it raises.
        response = self.endpoint.fetch(send, read)
        if response is None:
            return None
        choice = response.choices[0]
        content = choice.logprobs.content if choice.logprobs else None
        if not content:
            return None
        mass = {YES: 0.0, NO: 0.0}
        for alt in content[0].top_logprobs or []:
            word = _polar(alt.token)
            if word:
                mass[word] += math.exp(alt.logprob)
        if not mass[YES] and not mass[NO]:
            return None
        floor = 1e-6  # an option outside the top 20 is unlikely, not impossible
        return math.log(max(mass[YES], floor)) - math.log(max(mass[NO], floor))


LLMS = {"local": LocalLLM, "openai": OpenAILLM, "extractive": None}


def check_name(name: str) -> None:
    if name not in LLMS:
        raise ConfigError(
            f"unknown LLM backend {name!r}; valid: {', '.join(LLMS)} (set NEWSRAG_LLM or --llm)"
        )


def make_llm(settings: Settings) -> LLM | None:
    """The configured LLM, or None for the extractive backend."""
    check_name(settings.llm)
    cls = LLMS[settings.llm]
    return cls(settings) if cls else None
