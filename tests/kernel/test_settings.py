"""Settings come from the environment, typed, with *_FILE secrets and named errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.kernel.settings import SettingsError, load_settings


def test_paths_and_numbers_are_typed_from_strings(tmp_path: Path) -> None:
    settings = load_settings({"RELAIS_HOME": str(tmp_path), "DATABASE_POOL_SIZE": "3"})
    assert settings.home == tmp_path
    assert settings.database_pool_size == 3


def test_secret_from_file(tmp_path: Path) -> None:
    secret = tmp_path / "meili"
    secret.write_text("s3cr3t\n")
    assert load_settings({"MEILI_KEY_FILE": str(secret)}).meili_key == "s3cr3t"


def test_unreadable_secret_file_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="MEILI_KEY_FILE"):
        load_settings({"MEILI_KEY_FILE": str(tmp_path / "missing")})


def test_malformed_value_names_the_variable() -> None:
    with pytest.raises(SettingsError, match="DATABASE_POOL_SIZE"):
        load_settings({"DATABASE_POOL_SIZE": "many"})


def test_production_refuses_sqlite() -> None:
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        load_settings({"RELAIS_ENV": "production"})
