"""Render deploy/kubernetes overlays: with `kubectl kustomize` when present, else in Python.

The Python renderer covers exactly the kustomize features deploy/kubernetes uses (resources,
namespace, labels without selectors, images, strategic-merge patches keyed by kind and name,
lists of containers/env/volumes merged by name) and refuses anything else, so the manifests
cannot silently grow a feature it would render wrongly. When kubectl is installed the tests
also check that both renderings are equal.
"""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

SUPPORTED = {"apiVersion", "kind", "resources", "namespace", "labels", "images", "patches"}
MERGE_BY_NAME = {"containers", "initContainers", "env", "volumes", "volumeMounts"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume"}


def load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def _merge(base: Any, patch: Any, key: str = "") -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        merged = dict(base)
        for k, v in patch.items():
            merged[k] = _merge(base[k], v, k) if k in base else copy.deepcopy(v)
        return merged
    if isinstance(base, list) and isinstance(patch, list) and key in MERGE_BY_NAME:
        merged_list = [copy.deepcopy(item) for item in base]
        index = {item.get("name"): i for i, item in enumerate(merged_list)}
        for item in patch:
            if item.get("name") in index:
                i = index[item["name"]]
                merged_list[i] = _merge(merged_list[i], item, "")
            else:
                merged_list.append(copy.deepcopy(item))
        return merged_list
    return copy.deepcopy(patch)


def _images(obj: Any, images: list[dict[str, str]]) -> None:
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k in {"containers", "initContainers"} and isinstance(v, list):
                for container in v:
                    for image in images:
                        if container.get("image", "").split(":")[0] == image["name"]:
                            container["image"] = (
                                f"{image.get('newName', image['name'])}:{image['newTag']}"
                            )
            else:
                _images(v, images)
    elif isinstance(obj, list):
        for item in obj:
            _images(item, images)


def render_python(directory: Path) -> list[dict[str, Any]]:
    spec = load_all(directory / "kustomization.yaml")[0]
    unknown = set(spec) - SUPPORTED
    if unknown:
        raise NotImplementedError(f"{directory}: kustomize fields not rendered here: {unknown}")
    docs: list[dict[str, Any]] = []
    for resource in spec.get("resources", []):
        path = directory / resource
        docs += render_python(path) if path.is_dir() else load_all(path)
    for entry in spec.get("patches", []):
        if set(entry) != {"path"}:
            raise NotImplementedError(f"only file patches are rendered here: {entry}")
        for patch in load_all(directory / entry["path"]):
            targets = [
                i
                for i, doc in enumerate(docs)
                if doc["kind"] == patch["kind"]
                and doc["metadata"]["name"] == patch["metadata"]["name"]
            ]
            if len(targets) != 1:
                raise ValueError(f"patch {patch['kind']}/{patch['metadata']['name']}: no target")
            docs[targets[0]] = _merge(docs[targets[0]], patch)
    for label in spec.get("labels", []):
        if label.get("includeSelectors") or label.get("includeTemplates"):
            raise NotImplementedError("labels on selectors/templates are not rendered here")
        for doc in docs:
            doc["metadata"].setdefault("labels", {}).update(label["pairs"])
    if spec.get("images"):
        for doc in docs:
            _images(doc, spec["images"])
    if spec.get("namespace"):
        for doc in docs:
            if doc["kind"] not in CLUSTER_SCOPED:
                doc["metadata"]["namespace"] = spec["namespace"]
    return docs


def render_kubectl(directory: Path) -> list[dict[str, Any]] | None:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        return None
    result = subprocess.run(
        [kubectl, "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def by_key(docs: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(doc["kind"], doc["metadata"]["name"]): doc for doc in docs}
