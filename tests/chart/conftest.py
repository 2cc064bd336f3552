"""Shared fixtures of the chart tests: where the tools and the chart are, and cached renders.

Every test here works on real `helm` output (Helm 3.17 and Helm 4 binaries installed by
scripts/tools/install-helm.sh); nothing is mocked.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "app-rust"
VALUES_DIR = Path(__file__).resolve().parent / "values"

# A 60-character release name. Helm 3 and Helm 4 both refuse release names over 53 characters,
# so the matrix renders the longest name Helm accepts (53: "<release>-app-rust" would be 62
# characters) and a 60-character fullnameOverride, and a test asserts Helm refuses the 60.
LONG_RELEASE = "visits-counter-production-blue-green-canary-release-2026-eu1"
assert len(LONG_RELEASE) == 60
MAX_RELEASE = LONG_RELEASE[:53].rstrip("-")
assert len(MAX_RELEASE) == 53

SERVICE_MONITOR_API = ["monitoring.coreos.com/v1", "monitoring.coreos.com/v1/ServiceMonitor"]


@dataclass(frozen=True)
class Case:
    """One cell of the render matrix: a values file plus how `helm template` is called."""

    name: str
    values: str
    release: str = "app-rust"
    namespace: str = "default"
    api_versions: tuple[str, ...] = ()
    set_args: tuple[str, ...] = field(default=())


CASES = [
    Case("defaults", "defaults.yaml"),
    Case("persistence-off", "persistence-off.yaml"),
    Case("nodeport", "nodeport.yaml"),
    Case("ordered-ready", "ordered-ready.yaml"),
    Case("on-delete", "on-delete.yaml"),
    Case("partition-canary", "partition-canary.yaml"),
    Case("retention-delete", "retention-delete.yaml"),
    Case("vault", "vault.yaml"),
    Case("monitoring", "monitoring.yaml", api_versions=tuple(SERVICE_MONITOR_API)),
    Case("long-release-name", "long-release-name.yaml", release=MAX_RELEASE),
    Case("long-fullname-override", "long-fullname-override.yaml"),
    Case("other-namespace", "other-namespace.yaml", namespace="visits-prod"),
    Case("everything", "everything.yaml", api_versions=tuple(SERVICE_MONITOR_API)),
]
CASES_BY_NAME = {c.name: c for c in CASES}


def tool(name: str) -> str:
    """Absolute path of an installed tool; a missing tool is an error, never a skip."""
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(
            f"{name} is not on PATH: run scripts/install-tools.sh and source scripts/tools/env.sh"
        )
    return path


def run(args: list[str], check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, capture_output=True, text=True, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"command failed ({proc.returncode}): {' '.join(args)}\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


def template_args(case: Case, chart: Path = CHART) -> list[str]:
    args = [
        "template",
        case.release,
        str(chart),
        "--namespace",
        case.namespace,
        "-f",
        str(VALUES_DIR / case.values),
    ]
    for api in case.api_versions:
        args += ["--api-versions", api]
    for s in case.set_args:
        args += ["--set", s]
    return args


def helm_template(helm: str, case: Case, chart: Path = CHART, extra: list[str] | None = None) -> str:
    return run([helm, *template_args(case, chart), *(extra or [])]).stdout


def parse(manifest: str) -> list[dict]:
    return [d for d in yaml.safe_load_all(manifest) if d]


class Rendered:
    """Rendered documents of one case, with lookups by kind and name."""

    def __init__(self, case: Case, text: str):
        self.case = case
        self.text = text
        self.docs = parse(text)

    def kinds(self, kind: str) -> list[dict]:
        return [d for d in self.docs if d["kind"] == kind]

    def one(self, kind: str, name: str | None = None) -> dict:
        found = [d for d in self.kinds(kind) if name is None or d["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} {name or ''} in {self.case.name}, got {len(found)}"
        return found[0]

    @property
    def sts(self) -> dict:
        return self.one("StatefulSet")

    @property
    def container(self) -> dict:
        return self.sts["spec"]["template"]["spec"]["containers"][0]

    def hook(self, kind: str, event: str) -> dict:
        found = [
            d
            for d in self.kinds(kind)
            if event in d["metadata"].get("annotations", {}).get("helm.sh/hook", "").split(",")
        ]
        assert len(found) == 1, f"expected one {kind} hook for {event}, got {len(found)}"
        return found[0]


_cache: dict[tuple[str, str], Rendered] = {}


@pytest.fixture(scope="session")
def helm4() -> str:
    return tool("helm4")


@pytest.fixture(scope="session")
def helm3() -> str:
    return tool("helm3")


@pytest.fixture(scope="session")
def render(helm4):
    """render(case_name) -> Rendered, cached per session (Helm 4)."""

    def _render(name: str) -> Rendered:
        key = ("helm4", name)
        if key not in _cache:
            case = CASES_BY_NAME[name]
            _cache[key] = Rendered(case, helm_template(helm4, case))
        return _cache[key]

    return _render


@pytest.fixture()
def chart_copy(tmp_path) -> Path:
    """A private copy of the chart that a test may modify."""
    dst = tmp_path / "app-rust"
    shutil.copytree(CHART, dst)
    return dst


@pytest.fixture(scope="session")
def env_base() -> dict:
    return dict(os.environ)
