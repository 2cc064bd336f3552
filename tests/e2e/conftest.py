"""Fixtures of the podman replica run: one rendered release and one set of running pods,
shared by the tests of test_statefulset.py in file order (each test continues the story of
the one before: visits, pod deletion, scaling, the cluster view)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import replicas  # noqa: E402

VALUES = HERE / "values.yaml"
RELEASE = "app-rust"
NAMESPACE = "default"


def render(replica_count: int | None = None) -> replicas.StatefulSetPlan:
    sets = [] if replica_count is None else [f"replicaCount={replica_count}"]
    return replicas.render_plan(RELEASE, NAMESPACE, [VALUES], sets)


@pytest.fixture(scope="session")
def plan() -> replicas.StatefulSetPlan:
    return render()


@pytest.fixture(scope="session")
def renderer() -> Callable[[int], replicas.StatefulSetPlan]:
    return render


@pytest.fixture(scope="session")
def run(plan: replicas.StatefulSetPlan):
    """The running StatefulSet. Everything it creates is removed afterwards, pass or fail
    (run.sh's trap removes it by label too if this process is killed)."""
    replica_run = replicas.ReplicaRun(log=lambda line: print(f"[replica run] {line}", file=sys.stderr))
    try:
        replica_run.create_network()
        replica_run.apply(plan)
        yield replica_run
    finally:
        replica_run.close()
        leftovers = replicas.cleanup_run(replica_run.run_id, replica_run.prefix)
        assert not leftovers, f"cleanup left {leftovers}"


@pytest.fixture(scope="session")
def ledger() -> dict:
    """What the tests sent and saw: visits sent per ordinal and the first pages."""
    return {"sent": {}, "html": {}, "json": {}}
