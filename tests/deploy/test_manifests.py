"""Kubernetes manifests: schema-valid (offline), consistent with each other and with the code."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from services.kernel.settings import PRODUCTION_REQUIRED, secret_variables
from tests.deploy.kustomize import by_key, load_all, render_kubectl, render_python

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
KUBE = DEPLOY / "kubernetes"
BASE = KUBE / "base"
OVERLAYS = sorted(p for p in (KUBE / "overlays").iterdir() if p.is_dir())
KUBERNETES_VERSION = "1.32.0"  # oldest version we support; schemas ship with kubernetes-validate
SERVICES = ("directory", "referrals", "auth")
WORKLOADS = {"Deployment", "Job"}


def rendered(name: str) -> list[dict[str, Any]]:
    return render_python(KUBE / "overlays" / name)


@pytest.fixture(scope="module")
def production() -> dict[tuple[str, str], dict[str, Any]]:
    return by_key(rendered("production"))


def pod_spec(doc: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = doc["spec"]["template"]["spec"]
    return spec


def test_there_is_a_production_overlay() -> None:
    assert [p.name for p in OVERLAYS] == ["production"]


BASE_FILES = sorted(p for p in BASE.glob("*.yaml") if p.name != "kustomization.yaml")


@pytest.mark.parametrize("path", BASE_FILES, ids=lambda p: p.name)
def test_every_base_resource_is_schema_valid(path: Path) -> None:
    docs = load_all(path)
    assert docs
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS, ids=lambda p: p.name)
def test_rendered_overlays_are_schema_valid(overlay: Path) -> None:
    docs = render_python(overlay)
    assert len(docs) > 20
    for doc in docs:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)


def test_the_validator_is_not_vacuous(production: dict[tuple[str, str], dict[str, Any]]) -> None:
    broken = copy.deepcopy(production[("Deployment", "relais-directory")])
    pod_spec(broken)["containers"][0]["livenesProbe"] = {}  # typo: unknown field
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSION, strict=True)
    wrong_type = copy.deepcopy(production[("Deployment", "relais-directory")])
    wrong_type["spec"]["replicas"] = "two"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(wrong_type, KUBERNETES_VERSION, strict=True)


@pytest.mark.parametrize("directory", [BASE, *OVERLAYS], ids=lambda p: p.name)
def test_python_rendering_equals_kustomize_when_available(directory: Path) -> None:
    real = render_kubectl(directory)
    if real is None:
        pytest.skip("kubectl not installed: the Python rendering alone is used")
    assert by_key(render_python(directory)) == by_key(real)


def test_yaml_lint() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "yamllint", "-c", str(DEPLOY / ".yamllint.yaml"), "-f", "parsable",
         str(DEPLOY)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


def test_yaml_lint_catches_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: 1\na: 2\nb:   [1,2]\n")
    result = subprocess.run(
        [sys.executable, "-m", "yamllint", "-c", str(DEPLOY / ".yamllint.yaml"), str(bad)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode != 0
    assert "duplication of key" in result.stdout


def test_each_service_and_the_worker_have_their_objects(
    production: dict[tuple[str, str], dict[str, Any]],
) -> None:
    for component in (*SERVICES, "worker"):
        name = f"relais-{component}"
        for kind in ("Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"):
            assert (kind, name) in production, (kind, name)
        deployment = production[("Deployment", name)]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
        service = production[("Service", name)]
        assert service["spec"]["selector"].items() <= labels.items()
        ports = {p["name"] for p in pod_spec(deployment)["containers"][0]["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports
        pdb = production[("PodDisruptionBudget", name)]
        assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
        hpa = production[("HorizontalPodAutoscaler", name)]
        assert hpa["spec"]["scaleTargetRef"]["name"] == name
        assert hpa["spec"]["minReplicas"] >= 2  # survives one node and the PDB
    for component in SERVICES:
        args = pod_spec(production[("Deployment", f"relais-{component}")])["containers"][0]["args"]
        assert args[:2] == ["serve", component]
    worker = pod_spec(production[("Deployment", "relais-worker")])["containers"][0]
    assert worker["args"][0] == "worker"


def test_migrations_run_in_a_job_never_at_pod_start(
    production: dict[tuple[str, str], dict[str, Any]],
) -> None:
    job = production[("Job", "relais-migrate")]
    assert pod_spec(job)["containers"][0]["args"] == ["migrate"]
    assert pod_spec(job)["restartPolicy"] == "Never"
    for (kind, _), doc in production.items():
        if kind == "Deployment":
            assert "migrate" not in pod_spec(doc)["containers"][0]["args"]
    config = production[("ConfigMap", "relais-config")]["data"]
    # Production uses PostgreSQL, so `serve` never migrates (it does only in embedded mode).
    assert config["RELAIS_ENV"] == "production"


def test_workloads_are_locked_down(production: dict[tuple[str, str], dict[str, Any]]) -> None:
    for (kind, name), doc in production.items():
        if kind not in WORKLOADS:
            continue
        spec = pod_spec(doc)
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] != 0, name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, name
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["capabilities"]["drop"] == ["ALL"], name
            assert "add" not in security["capabilities"], name
            resources = container["resources"]
            assert {"cpu", "memory"} <= resources["requests"].keys(), name
            assert "memory" in resources["limits"], name
            assert container["image"].startswith("registry.example.org/relais/relais:"), name
            mounts = {m["mountPath"] for m in container["volumeMounts"]}
            assert "/tmp" in mounts, name  # writable scratch space on a read-only root
            if kind == "Deployment":
                for probe in ("livenessProbe", "readinessProbe"):
                    assert container[probe]["httpGet"]["path"] in {"/healthz", "/readyz"}, name
                assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
                assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name


def test_termination_grace_covers_drain_and_grace(
    production: dict[tuple[str, str], dict[str, Any]],
) -> None:
    config = production[("ConfigMap", "relais-config")]["data"]
    needed = float(config["SHUTDOWN_DRAIN_SECONDS"]) + float(config["SHUTDOWN_GRACE_SECONDS"])
    for (kind, name), doc in production.items():
        if kind == "Deployment":
            assert pod_spec(doc)["terminationGracePeriodSeconds"] > needed, name


def test_ingress_routes_the_three_prefixes_and_the_web_app(
    production: dict[tuple[str, str], dict[str, Any]],
) -> None:
    ingress = production[("Ingress", "relais")]
    paths = {
        path["path"]: path["backend"]["service"]
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    }
    routes = {f"/{s}": s for s in SERVICES} | {"/": "web"}
    assert set(paths) == set(routes)
    for prefix, service_name in routes.items():
        backend = paths[prefix]
        target = production[("Service", backend["name"])]
        assert backend["port"]["name"] in {p["name"] for p in target["spec"]["ports"]}
        assert target["spec"]["selector"]["app.kubernetes.io/component"] == service_name
    hosts = {h for tls in ingress["spec"]["tls"] for h in tls["hosts"]}
    assert hosts == {rule["host"] for rule in ingress["spec"]["rules"]}


def test_network_policies_deny_by_default_and_open_what_is_served(
    production: dict[tuple[str, str], dict[str, Any]],
) -> None:
    policies = [doc for (kind, _), doc in production.items() if kind == "NetworkPolicy"]
    deny = [
        p
        for p in policies
        if p["spec"].get("ingress") == []
        and p["spec"].get("egress") == []
        and set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    ]
    assert deny, "a default-deny policy"
    assert deny[0]["spec"]["podSelector"]["matchLabels"] == {"app.kubernetes.io/name": "relais"}

    def selects(policy: dict[str, Any], labels: dict[str, str]) -> bool:
        selector = policy["spec"]["podSelector"]
        if not selector.get("matchLabels", {}).items() <= labels.items():
            return False
        for expr in selector.get("matchExpressions", []):
            assert expr["operator"] == "In"
            if labels.get(expr["key"]) not in expr["values"]:
                return False
        return True

    for (kind, name), doc in production.items():
        if kind != "Deployment":
            continue
        labels = doc["spec"]["template"]["metadata"]["labels"]
        container = pod_spec(doc)["containers"][0]
        for port in container["ports"]:
            allowed = [
                rule
                for p in policies
                if selects(p, labels)
                for rule in p["spec"].get("ingress", [])
                if any(rp["port"] == port["containerPort"] for rp in rule.get("ports", []))
            ]
            assert allowed, f"{name}: nothing may reach port {port['containerPort']}"
        egress = [
            rule for p in policies if selects(p, labels) for rule in p["spec"].get("egress", [])
        ]
        egress_ports = {rp["port"] for rule in egress for rp in rule.get("ports", [])}
        assert {53, 5432} <= egress_ports, name  # DNS and PostgreSQL
    directory_out = [
        rp["port"]
        for p in policies
        if selects(
            p, {"app.kubernetes.io/name": "relais", "app.kubernetes.io/component": "directory"}
        )
        for rule in p["spec"].get("egress", [])
        for rp in rule.get("ports", [])
    ]
    assert 443 not in directory_out  # the directory has no business on the Internet


def secret_refs(doc: dict[str, Any]) -> dict[str, bool]:
    refs: dict[str, bool] = {}
    for container in pod_spec(doc)["containers"]:
        for env in container.get("env", []):
            ref = env.get("valueFrom", {}).get("secretKeyRef")
            if ref:
                assert ref["name"] == "relais-secrets"
                assert ref["key"] == env["name"]
                refs[env["name"]] = bool(ref.get("optional", False))
    return refs


def test_secrets_come_from_the_secret_and_each_pod_gets_what_it_needs(
    production: dict[tuple[str, str], dict[str, Any]],
) -> None:
    secrets = secret_variables()
    config = production[("ConfigMap", "relais-config")]["data"]
    assert not secrets & set(config), "secrets must not be in the ConfigMap"
    for component in (*SERVICES, "web"):
        refs = secret_refs(production[("Deployment", f"relais-{component}")])
        assert set(refs) <= secrets
        required = {"DATABASE_URL", *PRODUCTION_REQUIRED.get(component, ())}
        missing = {name for name in required if name not in refs or refs[name]}
        assert not missing, f"{component} needs {missing}"
    assert set(secret_refs(production[("Deployment", "relais-worker")])) == secrets
    # The migration registers the web app's OIDC client, with its secret.
    assert set(secret_refs(production[("Job", "relais-migrate")])) == {
        "DATABASE_URL",
        "WEB_CLIENT_SECRET",
    }
    assert "REFERRALS_ENCRYPTION_KEYS" not in secret_refs(
        production[("Deployment", "relais-directory")]
    )
