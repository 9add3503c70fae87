"""``relais structures search``: an operator finds a structure's id from the command line."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from typer.testing import CliRunner

from services.cli import app as cli
from tests.conftest import BACKENDS, cli_database

STRUCTURES = [
    {
        "source": "cli",
        "id": "s1",
        "nom": "Centre social Le Tournesol",
        "date_maj": "2025-02-14",
        "adresse": "1 rue de Paris",
        "code_postal": "59000",
        "code_insee": "59350",
        "commune": "Lille",
    },
    {
        "source": "cli",
        "id": "s2",
        "nom": "Épicerie solidaire du Val",
        "date_maj": "2025-02-14",
        "code_insee": "26362",
        "commune": "Valence",
    },
]


@pytest.mark.parametrize("backend", BACKENDS)
def test_structures_search_prints_id_name_and_commune(
    backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    with cli_database(backend, tmp_path, monkeypatch):
        assert runner.invoke(cli, ["migrate", "directory"]).exit_code == 0
        data = tmp_path / "structures.json"
        data.write_text(json.dumps({"structures": STRUCTURES, "services": []}))
        imported = runner.invoke(cli, ["import", "data-inclusion", str(data)])
        assert imported.exit_code == 0, imported.output

        found = runner.invoke(cli, ["structures", "search", "tournesol"])
        assert found.exit_code == 0, found.output
        rows = [line.split("\t") for line in found.stdout.splitlines()]
        assert len(rows) == 1
        structure_id, name, commune = rows[0]
        uuid.UUID(structure_id)
        assert (name, commune) == ("Centre social Le Tournesol", "Lille")

        # Accents and case do not matter, as in the site's search.
        accents = runner.invoke(cli, ["structures", "search", "EPICERIE"])
        assert accents.exit_code == 0, accents.output
        assert accents.stdout.split("\t")[1:] == ["Épicerie solidaire du Val", "Valence\n"]

        nothing = runner.invoke(cli, ["structures", "search", "zzzqqq"])
        assert nothing.exit_code == 1
        assert nothing.stdout == ""
        assert "Aucune structure" in nothing.stderr

        too_long = runner.invoke(cli, ["structures", "search", "a" * 500])
        assert too_long.exit_code == 2
        assert "Recherche impossible" in too_long.stderr


def test_help_and_light_commands_do_not_load_the_server() -> None:
    """``relais --help`` and the admin commands start without the web framework, the ORM and the
    HTTP client: an operator waits for typer and the settings only (bench/cli.py times it)."""
    heavy = ["sqlalchemy", "litestar", "httpx", "alembic", "uvicorn", "services.system"]
    probe = (
        "import sys; import services.cli; "
        f"print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == ""
