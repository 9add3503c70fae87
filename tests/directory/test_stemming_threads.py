"""Stemming from several threads at once (the importer builds search documents in worker
threads while the event loop stems too) gives the stems one thread alone gives."""

from __future__ import annotations

import random
import sys
import threading
from collections.abc import Iterator

import pytest
import snowballstemmer  # type: ignore[import-untyped]

from services.directory.search import analysis


@pytest.fixture
def frequent_switches() -> Iterator[None]:
    """Threads switched as often as the interpreter allows, so any shared state shows."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(interval)


def test_concurrent_stemming_matches_a_single_stemmer(frequent_switches: None) -> None:
    rng = random.Random(7)
    letters = "abcdeilmnorstu"
    words = {
        "".join(rng.choice(letters) for _ in range(rng.randint(4, 14))) + ending
        for _ in range(5_000)
        for ending in ("ement", "ations", "euses")
    }
    words -= set(analysis._STEMS)  # stem them now, not from the memo
    found: dict[str, str] = {}
    failures: list[BaseException] = []

    def stem_all(chunk: list[str]) -> None:
        try:
            for word in chunk:
                found[word] = analysis.stem(word)
        except Exception as exc:  # a shared stemmer fails with IndexError
            failures.append(exc)

    ordered = sorted(words)
    threads = [threading.Thread(target=stem_all, args=(ordered[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    alone = snowballstemmer.stemmer("french")
    assert {w: s for w, s in found.items() if (alone.stemWord(w) or w) != s} == {}
    assert len(found) == len(words)
