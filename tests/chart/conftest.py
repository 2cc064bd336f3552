"""Shared fixtures of the chart tests: where the tools and the chart are, and cached renders.

Every test here works on real `helm` output (Helm 3.17 and Helm 4 binaries installed by
scripts/tools/install-helm.sh); nothing is mocked.
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "lib"))

from helm import MONITORING_API, parse, run, template_command, tool  # noqa: E402  (shared with tests/e2e)

CHART = ROOT / "charts" / "app-rust"
VALUES_DIR = Path(__file__).resolve().parent / "values"

# A 60-character release name. Helm 3 and Helm 4 both refuse release names over 53 characters,
# so the matrix renders the longest name Helm accepts (53: "<release>-app-rust" would be 62
# characters) and a 60-character fullnameOverride, and a test asserts Helm refuses the 60.
LONG_RELEASE = "visits-counter-production-blue-green-canary-release-2026-eu1"
assert len(LONG_RELEASE) == 60
MAX_RELEASE = LONG_RELEASE[:53].rstrip("-")
assert len(MAX_RELEASE) == 53

# The oldest and newest Kubernetes releases the chart supports: the oldest is the chart's
# kubeVersion, both are the kind workflow's matrix. Helm 3 and Helm 4 assume different versions
# when none is given (1.32 and 1.35), so the matrix names one.
OLDEST_KUBE = "1.32.0"
NEWEST_KUBE = "1.37.0"



@dataclass(frozen=True)
class Case:
    """One cell of the render matrix: a values file plus how `helm template` is called."""

    name: str
    values: str
    release: str = "app-rust"
    namespace: str = "default"
    api_versions: tuple[str, ...] = ()
    set_args: tuple[str, ...] = field(default=())
    kube_version: str = NEWEST_KUBE


CASES = [
    Case("defaults", "defaults.yaml"),
    Case("persistence-off", "persistence-off.yaml"),
    Case("nodeport", "nodeport.yaml"),
    Case("ordered-ready", "ordered-ready.yaml"),
    Case("on-delete", "on-delete.yaml"),
    Case("partition-canary", "partition-canary.yaml"),
    Case("retention-delete", "retention-delete.yaml"),
    Case("vault", "vault.yaml"),
    Case("monitoring", "monitoring.yaml", api_versions=tuple(MONITORING_API)),
    Case("long-release-name", "long-release-name.yaml", release=MAX_RELEASE),
    Case("long-fullname-override", "long-fullname-override.yaml"),
    Case("other-namespace", "other-namespace.yaml", namespace="visits-prod"),
    Case("everything", "everything.yaml", api_versions=tuple(MONITORING_API)),
]
CASES_BY_NAME = {c.name: c for c in CASES}


def template_args(case: Case, chart: Path = CHART) -> list[str]:
    """`helm template` arguments of a case, without the helm binary."""
    return template_command(
        "helm",
        case.release,
        chart,
        case.namespace,
        values_files=[VALUES_DIR / case.values],
        set_values=list(case.set_args),
        api_versions=list(case.api_versions),
        kube_version=case.kube_version,
    )[1:]


def helm_template(helm: str, case: Case, chart: Path = CHART, extra: list[str] | None = None) -> str:
    return run([helm, *template_args(case, chart), *(extra or [])]).stdout


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
    """render(case_name, kube_version=NEWEST_KUBE) -> Rendered, cached per session (Helm 4)."""

    def _render(name: str, kube_version: str = NEWEST_KUBE) -> Rendered:
        key = ("helm4", name, kube_version)
        if key not in _cache:
            case = replace(CASES_BY_NAME[name], kube_version=kube_version)
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


K8S_VERSIONS = [OLDEST_KUBE, NEWEST_KUBE]
CASE_NAMES = [c.name for c in CASES]
# Keys the app accepts in its config file (docs/CONTRACT.md, "Settings").
CONTRACT_FILE_KEYS = {
    "listen", "dataDir", "timezone", "greeting", "logFormat", "logLevel", "requestTimeoutMs",
    "headerReadTimeoutMs", "maxHeaderBytes", "maxBodyBytes", "shutdownDelayMs", "shutdownTimeoutMs", "peers",
    "peerService", "namespace", "clusterDomain", "peerTimeoutMs",
    "clusterDeadlineMs",
}
# CRD kinds kubernetes-validate has no schema for; their fields are asserted by tests below.
CRD_KINDS = {"ServiceMonitor", "PrometheusRule"}


def pod_specs(r: Rendered) -> list[tuple[str, dict]]:
    """Every pod spec the chart renders: StatefulSet, hook Jobs, test Pod."""
    specs = [(f"StatefulSet/{r.sts['metadata']['name']}", r.sts["spec"]["template"]["spec"])]
    for job in r.kinds("Job"):
        specs.append((f"Job/{job['metadata']['name']}", job["spec"]["template"]["spec"]))
    for pod in r.kinds("Pod"):
        specs.append((f"Pod/{pod['metadata']['name']}", pod["spec"]))
    return specs


def env_of(container: dict) -> dict:
    return {e["name"]: e for e in container.get("env", [])}


def fullname(case: Case) -> str:
    name = case.release if "app-rust" in case.release else f"{case.release}-app-rust"
    return name[:52].rstrip("-")


def revision_config(r: Rendered) -> str:
    """The configuration the StatefulSet's pod template carries (the app reads it as
    /etc/app-rust-revision/config.json through a downwardAPI volume)."""
    return r.sts["spec"]["template"]["metadata"]["annotations"]["app-rust/config.json"]
