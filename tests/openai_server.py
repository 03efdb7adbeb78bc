"""A real local HTTP server speaking the OpenAI protocol, for testing the `openai` backends end to end.

    with OpenAIServer(replies=["Hello [1]."]) as srv:
        Settings(openai_base_url=srv.base_url, ...)   # "http://127.0.0.1:PORT/v1"
        ...
        srv.chat_requests[0].body["model"], srv.chat_requests[0].headers["authorization"]

Endpoints:
  POST /v1/chat/completions  JSON, or Server-Sent Events when the body has "stream": true
                             (`data: {chunk}` lines with choices[0].delta.content, then `data: [DONE]`)
  POST /v1/embeddings        deterministic hashed bag-of-words vectors (`dim` wide, L2-normalised),
                             returned in reverse order with their `index`; honours encoding_format
                             float / base64 (the openai client asks for base64 unless told otherwise)

Scripting (plain attributes, change them at any time):
  replies      queue of chat replies: a str (streamed word by word), a list of str (streamed exactly
               as those pieces) or a callable(body) -> str | list[str]; when empty, a refusal
  status       answer every request with this HTTP status and an OpenAI-style error body (e.g. 500, 401)
  delay        seconds to wait before answering (to make clients time out)
  stall_after  in a stream, stop sending (and hold the connection) after this many content pieces
  stream_error in a stream, send this `data: {"error": ...}` message after the pieces instead of [DONE]
  malformed    in a stream, send `data: <malformed>` (text that is not JSON) after the pieces
  drip         in a stream, wait this many seconds before each piece (a server that never quite stops)
  canned       (status, content type, body) sent for every request instead of an answer, e.g. an HTML page;
               "{authorization}" in the body becomes the request's Authorization header, as some proxies
               echo it back
  api_key      if set, requests without `Authorization: Bearer <api_key>` get 401
Every request is recorded (method, path, headers with lower-case names, JSON body) in `requests`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

REFUSAL = "The sources do not say."
Reply = str | list[str] | Callable[[dict], "str | list[str]"]


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: dict


def hashed_embedding(text: str, dim: int = 64) -> list[float]:
    """Signed feature hashing of lower-cased words, L2-normalised (a zero text gets a fixed unit vector)."""
    vec = [0.0] * dim
    for word in re.findall(r"\w+", text.lower()):
        h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
        vec[h % dim] += 1.0 if (h >> 32) & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vec))
    if norm == 0:
        vec[0], norm = 1.0, 1.0
    return [v / norm for v in vec]


def pieces_of(text: str) -> list[str]:
    """Word-by-word pieces that join back to the text."""
    return re.findall(r"\S+\s*|\s+", text)


class OpenAIServer:
    def __init__(
        self,
        replies: list[Reply] | None = None,
        *,
        dim: int = 64,
        status: int | None = None,
        delay: float = 0.0,
        api_key: str | None = None,
    ):
        self.replies: deque[Reply] = deque(replies or [])
        self.dim = dim
        self.status = status
        self.delay = delay
        self.stall_after: int | None = None
        self.stream_error: str | None = None
        self.malformed: str | None = None
        self.drip = 0.0
        self.canned: tuple[int, str, str] | None = None
        self.api_key = api_key
        # First-token alternatives [(token, logprob), …] for requests with logprobs; None answers them 400,
        # as endpoints without log-probabilities do.
        self.top_logprobs: list[tuple[str, float]] | None = None
        self.requests: list[Recorded] = []
        self.generation = 0  # bumped by reset(): a request delayed across a reset is dropped, not answered
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------
    def start(self) -> OpenAIServer:
        handler = type("Handler", (_Handler,), {"owner": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()  # wakes delayed and stalled handlers
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(timeout=5)
            self._httpd = None

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._httpd is not None, "server not started"
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # -- scripting and inspection -----------------------------------------------------------
    def reset(self, replies: list[Reply] | None = None) -> None:
        """Forget recorded requests, set a new reply queue, clear every failure mode and the key check."""
        with self._lock:
            self.requests.clear()
            self.generation += 1
        self.replies = deque(replies or [])
        self.status = None
        self.delay = 0.0
        self.stall_after = None
        self.stream_error = None
        self.malformed = None
        self.drip = 0.0
        self.canned = None
        self.api_key = None
        self.top_logprobs = None

    def _requests_to(self, suffix: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path.endswith(suffix)]

    @property
    def chat_requests(self) -> list[Recorded]:
        return self._requests_to("/chat/completions")

    @property
    def embedding_requests(self) -> list[Recorded]:
        return self._requests_to("/embeddings")

    def embedded_texts(self) -> list[str]:
        texts: list[str] = []
        for r in self.embedding_requests:
            inp = r.body.get("input")
            texts += [inp] if isinstance(inp, str) else list(inp)
        return texts

    def _record(self, rec: Recorded) -> None:
        with self._lock:
            self.requests.append(rec)

    def _next_reply(self, body: dict) -> list[str]:
        try:
            reply = self.replies.popleft()
        except IndexError:
            reply = REFUSAL
        if callable(reply):
            reply = reply(body)
        return list(reply) if isinstance(reply, list) else pieces_of(reply)

    def _wait(self, seconds: float) -> bool:
        """Sleep unless the server is stopping; True if it is stopping."""
        return self._stop.wait(seconds) if seconds > 0 else self._stop.is_set()


class _Handler(BaseHTTPRequestHandler):
    owner: OpenAIServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):  # noqa: A002 - keep test output quiet
        pass

    # -- plumbing ---------------------------------------------------------------------------
    def _send(self, status: int, content_type: str, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    def _send_json(self, status: int, payload: dict) -> None:
        self._send(status, "application/json", json.dumps(payload).encode())

    def _send_canned(self, status: int, content_type: str, body: str) -> None:
        self._send(
            status,
            content_type,
            body.replace("{authorization}", self.headers.get("Authorization", "")).encode(),
        )

    def _send_error(self, status: int, message: str, kind: str = "server_error") -> None:
        self._send_json(status, {"error": {"message": message, "type": kind, "param": None, "code": None}})

    def _chunk(self, text: str) -> None:
        data = text.encode()
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def do_GET(self):  # noqa: N802
        self._record({})
        self._send_error(404, f"no route GET {self.path}", "invalid_request_error")

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {"_raw": raw.decode("utf-8", "replace")}
        self._record(body)
        srv = self.owner
        generation = srv.generation
        try:
            if srv._wait(srv.delay) or srv.generation != generation:
                return  # stopping, or the test that delayed this request is over
            if srv.canned is not None:
                self._send_canned(*srv.canned)
            elif srv.status is not None:
                kind = "invalid_api_key" if srv.status == 401 else "server_error"
                self._send_error(srv.status, f"scripted failure HTTP {srv.status}", kind)
            elif srv.api_key and self.headers.get("Authorization") != f"Bearer {srv.api_key}":
                self._send_error(401, "Incorrect API key provided", "invalid_api_key")
            elif self.path.rstrip("/").endswith("/chat/completions"):
                self._chat(body)
            elif self.path.rstrip("/").endswith("/embeddings"):
                self._embeddings(body)
            else:
                self._send_error(404, f"no route POST {self.path}", "invalid_request_error")
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            pass  # the client gave up (timed out) before we answered

    def _record(self, body: dict) -> None:
        self.owner._record(
            Recorded(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        )

    # -- endpoints --------------------------------------------------------------------------
    def _chat(self, body: dict) -> None:
        srv = self.owner
        if not body.get("model") or not isinstance(body.get("messages"), list):
            return self._send_error(400, "model and messages are required", "invalid_request_error")
        ident, created, model = f"chatcmpl-{len(srv.requests)}", int(time.time()), body["model"]
        if body.get("logprobs"):
            if srv.top_logprobs is None:
                return self._send_error(
                    400, "logprobs are not supported by this server", "invalid_request_error"
                )
            first, first_lp = srv.top_logprobs[0]
            alternatives = [
                {"token": t, "logprob": lp, "bytes": list(t.encode())}
                for t, lp in srv.top_logprobs[: body.get("top_logprobs") or 0]
            ]
            return self._send_json(
                200,
                {
                    "id": ident,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "length",
                            "message": {"role": "assistant", "content": first},
                            "logprobs": {
                                "content": [
                                    {
                                        "token": first,
                                        "logprob": first_lp,
                                        "bytes": list(first.encode()),
                                        "top_logprobs": alternatives,
                                    }
                                ]
                            },
                        }
                    ],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                },
            )
        pieces = srv._next_reply(body)
        if not body.get("stream"):
            return self._send_json(
                200,
                {
                    "id": ident,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "message": {"role": "assistant", "content": "".join(pieces)},
                        }
                    ],
                    "usage": {
                        "prompt_tokens": 1,
                        "completion_tokens": len(pieces),
                        "total_tokens": 1 + len(pieces),
                    },
                },
            )

        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True

        def event(delta: dict, finish: str | None = None) -> None:
            chunk = {
                "id": ident,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            self._chunk(f"data: {json.dumps(chunk)}\n\n")

        event({"role": "assistant", "content": ""})
        generation = srv.generation
        for i, piece in enumerate(pieces):
            if srv.stall_after is not None and i >= srv.stall_after:
                srv._wait(30)  # hold the connection open, sending nothing, until the server stops
                return
            if srv._wait(srv.drip) or srv.generation != generation:
                return  # stopping, or the test that set the drip is over
            event({"content": piece})
        if srv.malformed is not None:
            self._chunk(f"data: {srv.malformed}\n\n")
            self._chunk("")
            return
        if srv.stream_error:
            self._chunk(
                "data: "
                + json.dumps({"error": {"message": srv.stream_error, "type": "server_error"}})
                + "\n\n"
            )
        else:
            event({}, "stop")
            self._chunk("data: [DONE]\n\n")
        self._chunk("")  # zero-length chunk: end of the chunked body

    def _embeddings(self, body: dict) -> None:
        srv = self.owner
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if (
            not body.get("model")
            or not isinstance(inputs, list)
            or not all(isinstance(t, str) for t in inputs)
        ):
            return self._send_error(
                400, "model and input (a string or a list of strings) are required", "invalid_request_error"
            )
        as_base64 = body.get("encoding_format") == "base64"
        data = []
        for i, text in enumerate(inputs):
            vec = hashed_embedding(text, srv.dim)
            emb = base64.b64encode(struct.pack(f"<{len(vec)}f", *vec)).decode() if as_base64 else vec
            data.append({"object": "embedding", "index": i, "embedding": emb})
        data.reverse()  # clients must order by `index`, not by position
        tokens = sum(len(t.split()) for t in inputs)
        self._send_json(
            200,
            {
                "object": "list",
                "data": data,
                "model": body["model"],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )
