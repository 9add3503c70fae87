"""Calls to the outside world (websites, the geocoder): each item once, a bounded number at a
time, on the caller's client or on one made for the run and closed after it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import TypeVar

import httpx

Item = TypeVar("Item", bound=Hashable)
Result = TypeVar("Result")


async def each_at_most(
    items: Sequence[Item],
    limit: int,
    run: Callable[[httpx.AsyncClient, Item], Awaitable[Result]],
    *,
    client: httpx.AsyncClient | None,
    make_client: Callable[[], httpx.AsyncClient],
) -> dict[Item, Result]:
    """``run`` on each item, at most ``limit`` at a time; their results by item."""
    semaphore = asyncio.Semaphore(max(1, limit))
    http = client or make_client()
    results: dict[Item, Result] = {}

    async def one(item: Item) -> None:
        async with semaphore:
            results[item] = await run(http, item)

    try:
        await asyncio.gather(*(one(item) for item in items))
    finally:
        if client is None:
            await http.aclose()
    return results
