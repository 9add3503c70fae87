"""What every ``relais`` command shares: reading the settings, and a configuration error as a
French message on stderr with exit status 2 (never a traceback)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer

from services.kernel.settings import Settings, SettingsError, load_settings


@contextmanager
def settings_errors_exit() -> Iterator[None]:
    """Inside it, a ``SettingsError`` (bad variable, missing key…) ends the command, status 2."""
    try:
        yield
    except SettingsError as exc:
        typer.echo(f"Configuration invalide : {exc}", err=True)
        raise typer.Exit(2) from exc


def settings_or_exit() -> Settings:
    """The process's settings, read from the environment (status 2 when they are invalid)."""
    with settings_errors_exit():
        return load_settings()
