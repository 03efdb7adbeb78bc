"""Login throttling: after a few failed logins from one address, that address waits, twice as long each time.

Gradio checks passwords in its own `/login` route and knows nothing of attempts, so this is ASGI middleware
in front of the whole app: it answers 429 (with Retry-After) to a login from an address still in backoff,
and reads the status of the logins it lets through (400: wrong credentials, 200: signed in).
"""

from __future__ import annotations

import json
import math
import threading
import time
from dataclasses import dataclass


@dataclass
class _Record:
    failures: int = 0
    blocked_until: float = 0.0


class LoginThrottle:
    """Per client address: `free` failed logins allowed, then a wait of `base_s` seconds doubling with each
    further failure up to `max_s`. A successful login clears the address's record."""

    def __init__(self, app, free: int = 5, base_s: float = 1.0, max_s: float = 300.0, clock=time.monotonic):
        self.app, self.free, self.base_s, self.max_s, self.clock = app, free, base_s, max_s, clock
        self._records: dict[str, _Record] = {}
        self._lock = threading.Lock()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or not _is_login(scope["path"]):
            await self.app(scope, receive, send)
            return
        address = (scope.get("client") or ("unknown", 0))[0]
        wait = self._wait(address)
        if wait > 0:
            await _too_many(send, wait)
            return
        status = {}

        async def record_status(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        await self.app(scope, receive, record_status)
        self._after(address, status.get("code"))

    def _wait(self, address: str) -> float:
        with self._lock:
            record = self._records.get(address)
            return max(0.0, record.blocked_until - self.clock()) if record else 0.0

    def _after(self, address: str, code: int | None) -> None:
        with self._lock:
            if code is not None and 200 <= code < 300:
                self._records.pop(address, None)
                return
            if code not in (400, 401, 403):
                return
            record = self._records.setdefault(address, _Record())
            record.failures += 1
            over = record.failures - self.free
            if over > 0:
                record.blocked_until = self.clock() + min(self.max_s, self.base_s * 2 ** (over - 1))


def _is_login(path: str) -> bool:
    return path.rstrip("/").endswith("/login") or path.rstrip("/") == "login"


async def _too_many(send, wait: float) -> None:
    seconds = max(1, math.ceil(wait))
    body = json.dumps({"detail": f"Too many failed logins: try again in {seconds} s."}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"retry-after", str(seconds).encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": body})
