"""Configuration surface: every variable the code reads is documented, exemplified and deployed."""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import pytest

from services.cli import CONFIG_END, CONFIG_START, render_config_table, replace_config_section
from services.kernel.settings import (
    ENVIRONMENT_VARIABLES,
    EXAMPLE_MARKER,
    Settings,
    SettingsError,
    check_production,
    load_settings,
    secret_variables,
)
from tests.deploy.kustomize import by_key, render_python

ROOT = Path(__file__).resolve().parents[2]
VARIABLES = {variable for variable, _, _ in ENVIRONMENT_VARIABLES}
# Read from the environment but not settings: set by the program itself, never by operators.
INTERNAL = {
    "PROMETHEUS_MULTIPROC_DIR": "set by `relais serve --workers N` for its server processes",
}
ENV_READ = re.compile(
    r"""(?:os\.environ(?:\.get|\.setdefault|\.pop)?\s*[\[(]\s*|os\.getenv\(\s*|getenv\(\s*)"""
    r"""["']([A-Z][A-Z0-9_]+)["']"""
)
ENV_CONSTANT = re.compile(r"""^[A-Z_]+_ENV\s*=\s*["']([A-Z][A-Z0-9_]+)["']""", re.MULTILINE)


def variables_read_by_code() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "services").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for name in ENV_READ.findall(text) + ENV_CONSTANT.findall(text):
            found.setdefault(name, []).append(str(path.relative_to(ROOT)))
    return found


def env_example() -> dict[str, str]:
    values = {}
    for line in (ROOT / "deploy" / ".env.example").read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    return values


def test_the_scan_finds_what_the_code_reads() -> None:
    found = variables_read_by_code()
    assert "PROMETHEUS_MULTIPROC_DIR" in found  # observability (through MULTIPROC_ENV)
    assert "RELAIS_SERVICES" in found  # cli.py sets it for the server processes


def test_every_variable_read_by_the_code_is_a_documented_setting() -> None:
    undocumented = {
        name: where
        for name, where in variables_read_by_code().items()
        if name not in VARIABLES and name not in INTERNAL
        and not (name.endswith("_FILE") and name.removesuffix("_FILE") in VARIABLES)
    }  # fmt: skip
    assert not undocumented, f"add these to ENVIRONMENT_VARIABLES: {undocumented}"


def test_the_table_and_the_settings_match() -> None:
    fields = set(Settings.__struct_fields__)
    table_fields = [field for _, field, _ in ENVIRONMENT_VARIABLES]
    assert len(table_fields) == len(set(table_fields))
    assert set(table_fields) == fields, "every setting has exactly one variable"
    for variable, _, description in ENVIRONMENT_VARIABLES:
        assert re.fullmatch(r"[A-Z][A-Z0-9_]+", variable)
        assert description.strip()


def test_readme_configuration_table_is_generated() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme.count(CONFIG_START) == 1
    assert readme.count(CONFIG_END) == 1
    section = readme[readme.index(CONFIG_START) : readme.index(CONFIG_END) + len(CONFIG_END)]
    assert section == render_config_table(), "README is stale: run `make docs`"
    for variable in VARIABLES:
        assert f"| `{variable}`" in section


def test_replace_config_section_only_touches_the_markers() -> None:
    text = f"# T\n\nintro\n\n{CONFIG_START}\nold\n{CONFIG_END}\n\nafter\n"
    assert replace_config_section(text, f"{CONFIG_START}\nnew\n{CONFIG_END}") == (
        f"# T\n\nintro\n\n{CONFIG_START}\nnew\n{CONFIG_END}\n\nafter\n"
    )
    appended = replace_config_section("# T\n", "TABLE")
    assert appended == "# T\n\n## Configuration\n\nTABLE\n"


def test_env_example_has_every_variable_and_no_real_secret() -> None:
    example = env_example()
    missing = VARIABLES - set(example)
    assert not missing, f"add to deploy/.env.example: {sorted(missing)}"
    for name in secret_variables():
        value = example[name]
        assert value == "" or EXAMPLE_MARKER in value, f"{name}: use a {EXAMPLE_MARKER} value"


def test_env_example_parses_and_production_refuses_its_placeholders() -> None:
    example = {k: v for k, v in env_example().items() if k in VARIABLES}
    with pytest.raises(SettingsError) as refused:
        load_settings(environ=example)
    message = str(refused.value)
    for name in ("DATABASE_URL", "MEILI_KEY", "AUTH_KEY_ENCRYPTION_KEY", "SMTP_URL"):
        assert f"{name} still holds the example value" in message
    # Once the placeholders are replaced it loads, with the types the settings expect.
    filled = {k: v.replace(EXAMPLE_MARKER, "s3cret") for k, v in example.items()}
    settings = load_settings(environ=filled)
    assert settings.production
    check_production(settings, ["directory", "referrals", "auth"])


def test_every_setting_is_in_the_configmap_or_a_secret() -> None:
    docs = by_key(render_python(ROOT / "deploy" / "kubernetes" / "overlays" / "production"))
    config = docs[("ConfigMap", "relais-config")]["data"]
    secrets = secret_variables()
    assert set(config) == VARIABLES - secrets
    referenced = {
        env["name"]
        for doc in docs.values()
        if doc["kind"] in {"Deployment", "Job"}
        for container in doc["spec"]["template"]["spec"]["containers"]
        for env in container.get("env", [])
        if "secretKeyRef" in env.get("valueFrom", {})
    }
    assert referenced == secrets
    # Each value converts to its setting's type.
    raw = {variable: config[variable] for variable in config}
    loaded = load_settings(environ=raw, database_url="postgresql://relais@db/relais")
    assert loaded.worker_enabled is False  # workers run apart in Kubernetes


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({}, "DATABASE_URL must point at PostgreSQL"),
        ({"DATABASE_ECHO": "true"}, "DATABASE_ECHO"),
        ({"LOG_LEVEL": "debug"}, "LOG_LEVEL"),
        ({"RELAIS_BASE_URL": "http://127.0.0.1:8000"}, "RELAIS_BASE_URL"),
        ({"JWT_ISSUER": "http://127.0.0.1:8000/auth"}, "JWT_ISSUER"),
        ({"MEILI_KEY": "change-me"}, "MEILI_KEY still holds the example value"),
    ],
)
def test_production_names_the_wrong_setting(environ: dict[str, str], named: str) -> None:
    base = {
        "RELAIS_ENV": "production",
        "DATABASE_URL": "postgresql://relais@db/relais",
        "RELAIS_BASE_URL": "https://relais.example.fr",
        "JWT_ISSUER": "https://relais.example.fr/auth",
    }
    if not environ:
        base.pop("DATABASE_URL")
    with pytest.raises(SettingsError, match=named):
        load_settings(environ={**base, **environ})


def test_production_requires_each_served_services_secrets(tmp_path: Path) -> None:
    settings = load_settings(
        environ={
            "RELAIS_ENV": "production",
            "DATABASE_URL": "postgresql://relais@db/relais",
            "RELAIS_BASE_URL": "https://relais.example.fr",
            "JWT_ISSUER": "https://relais.example.fr/auth",
        }
    )
    check_production(settings, ["directory"])  # the directory needs no referral key
    with pytest.raises(SettingsError, match="REFERRALS_ENCRYPTION_KEYS must be set"):
        check_production(settings, ["referrals"])
    with pytest.raises(SettingsError, match="AUTH_KEY_ENCRYPTION_KEY must be set"):
        check_production(settings, ["auth"])
    key_file = tmp_path / "key"
    key_file.write_text("k1:c2VjcmV0\n")
    with_file = load_settings(
        environ={
            "RELAIS_ENV": "production",
            "DATABASE_URL": "postgresql://relais@db/relais",
            "RELAIS_BASE_URL": "https://relais.example.fr",
            "JWT_ISSUER": "https://relais.example.fr/auth",
            "REFERRALS_ENCRYPTION_KEYS_FILE": str(key_file),
            "SMTP_URL": "smtp://mail.example.fr:587",
        }
    )
    assert with_file.referrals_encryption_keys == "k1:c2VjcmV0"
    check_production(with_file, ["referrals"])


def test_defaults_are_encodable() -> None:
    assert msgspec.to_builtins(Settings(), enc_hook=str)["home"] == "var"
