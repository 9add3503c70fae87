"""The address a request is counted under: a forwarded one only from a trusted proxy."""

from __future__ import annotations

from typing import Any

from services.kernel.access import client_address


class _Conn:
    def __init__(self, peer: str, forwarded: str | None = None) -> None:
        self.client = type("Client", (), {"host": peer})()
        self.headers: dict[str, Any] = {"x-forwarded-for": forwarded} if forwarded else {}


def test_a_trusted_proxy_forwards_the_address() -> None:
    conn: Any = _Conn("127.0.0.1", "203.0.113.9, 198.51.100.7")
    assert client_address(conn, "127.0.0.1") == "198.51.100.7"
    assert client_address(_Conn("10.1.2.3", "203.0.113.9"), "10.0.0.0/8") == "203.0.113.9"  # type: ignore[arg-type]
    assert client_address(_Conn("10.1.2.3", "203.0.113.9"), "*") == "203.0.113.9"  # type: ignore[arg-type]


def test_anyone_else_is_counted_as_themself() -> None:
    assert client_address(_Conn("198.51.100.1", "127.0.0.1"), "127.0.0.1") == "198.51.100.1"  # type: ignore[arg-type]
    assert client_address(_Conn("198.51.100.1"), "127.0.0.1") == "198.51.100.1"  # type: ignore[arg-type]
