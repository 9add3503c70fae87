"""A minimal keep-alive HTTP/1.1 client for load loops.

httpx costs the load generator 1–3 ms of CPU per request; on a 2-core machine that starves the
server being measured. This client writes one request and reads one Content-Length response on a
raw asyncio stream: enough for JSON APIs and pages served by uvicorn, nothing more (no chunked
bodies, no redirects, no TLS; the Set-Cookie lines are kept, a caller that needs cookies keeps
them)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import msgspec


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    set_cookies: list[str] = field(default_factory=list)

    def json(self) -> Any:
        return msgspec.json.decode(self.body)


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int, host: str = "127.0.0.1") -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def request(
        self,
        method: str,
        path: str,
        headers: dict[str, str] | None = None,
        body: bytes = b"",
    ) -> Reply:
        head = [f"{method} {path} HTTP/1.1", "Host: bench"]
        head += [f"{name}: {value}" for name, value in (headers or {}).items()]
        if body or method in ("POST", "PUT", "PATCH"):
            head.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection")
        received: dict[str, str] = {}
        cookies: list[str] = []
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            received[name.strip().lower()] = value.strip()
            if name.strip().lower() == "set-cookie":
                cookies.append(value.strip())
        content = await self.reader.readexactly(int(received.get("content-length", "0")))
        return Reply(int(status_line.split(b" ", 2)[1]), received, content, cookies)

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()
