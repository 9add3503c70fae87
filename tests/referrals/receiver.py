"""A real webhook receiver for tests: an HTTP server on a random localhost port.

It can be down (the port refuses connections), slow, or answer an error status, and it records
every request. ``verify`` is the Standard Webhooks reference verification, written here from the
specification and independent of the code under test.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any

from tests.conftest import free_port


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def message_id(self) -> str:
        return self.headers["webhook-id"]

    @property
    def json(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.body)
        return value


def verify(secret: str, headers: dict[str, str], body: bytes, *, tolerance: int = 300) -> bool:
    """Standard Webhooks: signature = base64(HMAC-SHA256(base64decode(secret without whsec_),
    "{webhook-id}.{webhook-timestamp}.{body}")), header "v1,<sig> v1,<sig>…"."""
    msg_id = headers["webhook-id"]
    timestamp = headers["webhook-timestamp"]
    if abs(time.time() - int(timestamp)) > tolerance:
        return False
    key = base64.b64decode(secret.split("_", 1)[1])
    content = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, content, hashlib.sha256).digest())
    for part in headers["webhook-signature"].split(" "):
        version, _, signature = part.partition(",")
        if version == "v1" and hmac.compare_digest(signature.encode(), expected):
            return True
    return False


@dataclass
class Receiver:
    port: int = field(default_factory=free_port)
    status: int = 200
    delay: float = 0.0
    extra_headers: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    requests: int = 0

    def __post_init__(self) -> None:
        self._server: asyncio.Server | None = None
        self.got_request = asyncio.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/relais"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def unique(self) -> dict[str, Received]:
        """De-duplicated by webhook-id (the first copy of each message)."""
        seen: dict[str, Received] = {}
        for item in self.received:
            seen.setdefault(item.message_id, item)
        return seen

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                headers: dict[str, str] = {}
                while True:
                    raw = await reader.readline()
                    if raw in (b"\r\n", b"\n", b""):
                        break
                    name, _, value = raw.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                self.requests += 1
                self.got_request.set()
                if self.delay:
                    await asyncio.sleep(self.delay)
                if 200 <= self.status < 300:
                    self.received.append(Received(headers, body))
                extra = "".join(f"{k}: {v}\r\n" for k, v in self.extra_headers.items())
                writer.write(
                    f"HTTP/1.1 {self.status} X\r\nContent-Length: 2\r\n{extra}\r\nok".encode()
                )
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()
