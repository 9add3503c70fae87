"""Static checks of deploy/Dockerfile, compose.yaml and the reverse proxy (no engine needed).

No container engine runs here: the image is not built in these tests (see docs/operations.md).
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from services import system

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
BUILD_TOOLS = re.compile(
    r"\b(gcc|g\+\+|cc|make|build-essential|python3-dev|libpq-dev|git|curl|wget|uv|pip|apt-get"
    r"|apk)\b"
)


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def parse_dockerfile(text: str) -> tuple[dict[str, str], list[Stage]]:
    args: dict[str, str] = {}
    stages: list[Stage] = []
    logical = re.sub(r"\\\n", " ", text)
    for raw in logical.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        rest = rest.strip()
        if keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
        elif keyword == "FROM":
            parts = rest.split()
            base = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), ""), parts[0])
            name = parts[2] if len(parts) >= 3 and parts[1].upper() == "AS" else None
            stages.append(Stage(base, name))
        else:
            assert stages, f"{keyword} before FROM"
            stages[-1].instructions.append((keyword, rest))
    return args, stages


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    return parse_dockerfile((DEPLOY / "Dockerfile").read_text(encoding="utf-8"))[1]


def test_multi_stage_on_a_slim_pinned_base(stages: list[Stage]) -> None:
    assert len(stages) >= 2
    for stage in stages:
        assert "slim" in stage.base, stage.base
        assert ":" in stage.base
        assert not stage.base.endswith(":latest")
    final = stages[-1]
    copies_from_build = [c for c in final.all("COPY") if c.startswith("--from=")]
    assert copies_from_build, "the final stage takes the built virtualenv from the build stage"


def test_the_lock_file_is_honoured(stages: list[Stage]) -> None:
    build = stages[0]
    syncs = [r for r in build.all("RUN") if "uv sync" in r]
    assert syncs
    for command in syncs:
        assert "--frozen" in command
        assert "--no-dev" in command
    copied = " ".join(build.all("COPY"))
    assert "uv.lock" in copied
    assert "pyproject.toml" in copied


def test_final_stage_has_no_build_tools_and_runs_as_non_root(stages: list[Stage]) -> None:
    final = stages[-1]
    for command in final.all("RUN"):
        assert not BUILD_TOOLS.search(command), f"build tool in the final stage: {command}"
    users = final.all("USER")
    assert users, "USER in the final stage"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    assert user.isdigit(), "numeric uid, so runAsNonRoot can verify it"
    groupadd = " ".join(final.all("RUN"))
    assert f"--uid {user}" in groupadd


def test_healthcheck_and_entrypoint(stages: list[Stage]) -> None:
    final = stages[-1]
    checks = final.all("HEALTHCHECK")
    assert len(checks) == 1
    assert "/healthz" in checks[0]
    assert "CMD" in checks[0]
    entrypoint = yaml.safe_load(final.all("ENTRYPOINT")[-1])
    assert entrypoint == ["relais"]
    command = yaml.safe_load(final.all("CMD")[-1])
    assert command[0] == "serve"


def test_copied_paths_exist_and_the_context_is_trimmed(stages: list[Stage]) -> None:
    for stage in stages:
        for copy in stage.all("COPY"):
            if copy.startswith("--from="):
                continue
            for source in shlex.split(copy)[:-1]:
                assert (ROOT / source).exists(), source
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
    assert ignore[ignore.index("*") :][:1] == ["*"], "deny everything, then allow what is needed"
    assert "!uv.lock" in ignore


def test_parser_sees_a_bad_dockerfile() -> None:
    _, bad = parse_dockerfile("FROM python:3.11\nRUN apt-get install -y gcc\nUSER root\n")
    assert len(bad) == 1
    assert BUILD_TOOLS.search(bad[0].all("RUN")[0])
    assert bad[0].all("USER") == ["root"]


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    return data


def test_compose_runs_the_whole_system(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"postgres", "meilisearch", "migrate", "worker", "proxy", *system.SERVICE_NAMES} <= set(
        services
    )
    for name in system.SERVICE_NAMES:
        service = services[name]
        assert service["command"][:2] == ["serve", name]
        assert service["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        assert "ports" not in service, "only the proxy is published"
    assert services["migrate"]["command"] == ["migrate"]
    assert services["worker"]["command"][0] == "worker"
    assert "9100/healthz" in " ".join(services["worker"]["healthcheck"]["test"])
    for name in (*system.SERVICE_NAMES, "migrate", "worker"):
        service = services[name]
        assert service["read_only"] is True
        assert service["cap_drop"] == ["ALL"]
        assert service["user"].split(":")[0] != "0"
        assert service["env_file"] == ".env"
        assert service["build"]["dockerfile"] == "deploy/Dockerfile"
    for name in ("postgres", "meilisearch"):
        assert "ports" not in services[name]
    assert list(services["proxy"]["ports"]) == ["8080:80"]


def test_compose_variables_are_in_env_example(compose: dict[str, Any]) -> None:
    text = (DEPLOY / "compose.yaml").read_text(encoding="utf-8")
    used = set(re.findall(r"\$\{([A-Z_]+)", text)) - {"RELAIS_IMAGE"}
    example = (DEPLOY / ".env.example").read_text(encoding="utf-8")
    for name in used:
        assert re.search(rf"^{name}=", example, re.MULTILINE), name


def test_reverse_proxy_routes_each_prefix_to_its_service() -> None:
    caddy = (DEPLOY / "Caddyfile").read_text(encoding="utf-8")
    routes = dict(re.findall(r"handle (/\w+)\*\s*\{\s*reverse_proxy (\w+):8000", caddy))
    assert routes == {f"/{name}": name for name in system.API_SERVICES}
    # The web app takes every other path; health and metrics are never proxied.
    assert re.search(r"handle \{\s*reverse_proxy web:8000", caddy)
    assert "handle /healthz* /readyz* /metrics* {" in caddy
    assert "/metrics" not in caddy.split("# /healthz")[0]
