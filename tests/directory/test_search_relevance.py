"""Relevance on the demo territory: precision@5 and recall@5 of search_relevance.yaml.

The floors are the levels reached when the set was written; a change that lowers them fails.
Run with ``-s`` to print the per-query figures.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml

from services.directory.demo.seed import seed_demo
from services.directory.models import Service
from tests.conftest import BACKENDS, Relais, start_relais
from tests.directory.search_support import MEILI_URL
from tests.tokens import TokenFactory

JUDGEMENTS = Path(__file__).with_name("search_relevance.yaml")
SEARCH = "/directory/v1/search/services"
# Reached: precision@5 0.885, recall@5 0.907-0.911 on SQLite and PostgreSQL. Ties in score are
# broken by id, and ids (UUIDv7) differ between runs, so a tie at the 5th place can move one
# judged service in or out: the floors sit one such swap below the level reached.
PRECISION_FLOOR = 0.87
RECALL_FLOOR = 0.90


@pytest.fixture(scope="session", params=[*BACKENDS, "meilisearch"])
async def demo(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, tokens: TokenFactory
) -> AsyncIterator[tuple[Relais, dict[str, str]]]:
    backend, overrides = request.param, {}
    if backend == "meilisearch":
        if not MEILI_URL:
            pytest.skip("Meilisearch relevance test needs MEILI_URL (no Meilisearch here)")
        backend = "postgresql"
        overrides = {
            "meili_url": MEILI_URL,
            "meili_key": os.environ.get("MEILI_KEY", ""),
            "meili_index_prefix": f"t{os.urandom(4).hex()}_",
        }
    home = tmp_path_factory.mktemp(f"relevance-{request.param}")
    relais, stack = await start_relais(backend, home, tokens, **overrides)
    async with stack:
        db = relais.app("directory").state.db
        async with db.session() as session:
            await seed_demo(session)
        if request.param == "meilisearch":
            from services.directory.search.feed import sync_outbox
            from services.directory.search.meili_feed import reindex

            await reindex(relais.app("directory"))
            await sync_outbox(relais.app("directory"), wait=True)  # the seed's events
        async with db.session() as session:
            rows = await session.execute(
                sa.select(Service.id, Service.source_id).where(Service.status == "published")
            )
            source_ids = {str(i): s for i, s in rows}
        yield relais, source_ids


async def _all(relais: Relais, params: dict[str, Any]) -> list[str]:
    ids: list[str] = []
    query = {**params, "limit": 100, "facets": "false", "highlight": "false"}
    while True:
        body = (await relais.client.get(SEARCH, params=query)).json()
        ids += [i["id"] for i in body["items"]]
        if not body["next_cursor"]:
            return ids
        query["cursor"] = body["next_cursor"]


def test_the_judged_set_is_big_enough() -> None:
    queries = yaml.safe_load(JUDGEMENTS.read_text(encoding="utf-8"))["queries"]
    assert len(queries) >= 40
    assert sum("commune" in q for q in queries) >= 3


async def test_precision_and_recall_at_5(demo: tuple[Relais, dict[str, str]]) -> None:
    relais, source_ids = demo
    queries = yaml.safe_load(JUDGEMENTS.read_text(encoding="utf-8"))["queries"]
    precisions: list[float] = []
    recalls: list[float] = []
    report: list[str] = []
    for judged in queries:
        where = {"commune": judged["commune"]} if "commune" in judged else {}
        eligible = await _all(relais, where)
        relevant = {
            i for i in eligible if any(p in source_ids.get(i, "") for p in judged["relevant"])
        }
        assert relevant, f"no relevant service for {judged['q']!r}: fix the judgement"
        response = await relais.client.get(SEARCH, params={"q": judged["q"], **where, "limit": 5})
        assert response.status_code == 200, response.text
        top = [i["id"] for i in response.json()["items"]][:5]
        found = len([i for i in top if i in relevant])
        precision = found / len(top) if top else 0.0
        recall = found / min(5, len(relevant))
        precisions.append(precision)
        recalls.append(recall)
        report.append(
            f"{precision:4.2f} {recall:4.2f}  {judged['q']!r} {where or ''} "
            + ", ".join(source_ids.get(i, "?").removeprefix("drome-") for i in top)
        )
    mean_precision = sum(precisions) / len(precisions)
    mean_recall = sum(recalls) / len(recalls)
    print(f"\n[{relais.backend}] precision@5={mean_precision:.3f} recall@5={mean_recall:.3f}")
    print("\n".join(report))
    assert mean_precision >= PRECISION_FLOOR
    assert mean_recall >= RECALL_FLOOR


async def test_housing_words_return_housing_first(demo: tuple[Relais, dict[str, str]]) -> None:
    """« logement urgence »: every one of the first five is a housing or shelter service (not
    an emergency food or cash aid whose description mentions housing)."""
    relais, _ = demo
    response = await relais.client.get(SEARCH, params={"q": "logement urgence", "limit": 5})
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert len(items) == 5
    for item in items:
        assert any(t.startswith("logement-hebergement--") for t in item["thematiques"]), item
