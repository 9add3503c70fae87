"""Published OpenAPI documents (openapi/*.json) match the code; regenerate with `make openapi`."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from services import system
from services.kernel.settings import load_settings
from services.openapi_docs import render

OPENAPI = Path(__file__).resolve().parents[2] / "openapi"


@pytest.fixture(scope="module")
def documents(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    # Same settings as `relais openapi` (empty environment), in a scratch home folder.
    home = tmp_path_factory.mktemp("openapi-build")
    return render(load_settings(environ={}, home=home))


@pytest.mark.parametrize("name", system.API_SERVICES)
def test_openapi_document_is_up_to_date(documents: dict[str, bytes], name: str) -> None:
    path = OPENAPI / f"{name}.json"
    assert path.exists(), f"openapi/{name}.json is missing: run `make openapi` and commit it"
    published = path.read_bytes()
    if published != documents[name]:
        diff = "".join(
            list(
                difflib.unified_diff(
                    published.decode().splitlines(keepends=True),
                    documents[name].decode().splitlines(keepends=True),
                    f"openapi/{name}.json (committed)",
                    f"openapi/{name}.json (from the code)",
                    n=1,
                )
            )[:60]
        )
        pytest.fail(
            f"openapi/{name}.json drifted from the code: run `make openapi` and commit it.\n{diff}",
            pytrace=False,
        )
