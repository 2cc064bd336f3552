"""The CI workflows agree with the chart and pin what they run."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def steps(workflow: dict):
    for job in workflow["jobs"].values():
        yield from job["steps"]


def test_every_action_is_pinned_by_commit_sha():
    for path in WORKFLOWS.glob("*.yaml"):
        for step in steps(yaml.safe_load(path.read_text())):
            if "uses" in step:
                assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), f"{path.name}: {step['uses']} is not pinned by SHA"


def test_the_kind_matrix_runs_the_oldest_and_newest_supported_kubernetes():
    chart = yaml.safe_load((ROOT / "charts" / "app-rust" / "Chart.yaml").read_text())
    oldest = re.fullmatch(r">=(\d+\.\d+)\.0-0", chart["kubeVersion"])[1]
    matrix = load("e2e-kind.yaml")["jobs"]["cluster-e2e"]["strategy"]["matrix"]["include"]
    minors = [row["kubernetes"] for row in matrix]
    assert minors[0] == oldest, f"the chart's kubeVersion is {chart['kubeVersion']}, the oldest kind row {minors[0]}"
    conftest = (ROOT / "tests" / "chart" / "conftest.py").read_text()
    newest = re.search(r'NEWEST_KUBE = "(\d+\.\d+)\.\d+"', conftest)[1]
    assert minors[-1] == newest, "the chart tests' newest release and the kind matrix differ"
    for row in matrix:
        image = re.fullmatch(r"kindest/node:v(\d+\.\d+)\.\d+@sha256:[0-9a-f]{64}", row["node_image"])
        assert image, f"{row['node_image']} is not pinned by digest"
        assert image[1] == row["kubernetes"] and row["kubectl"].startswith(f"v{row['kubernetes']}.")


def test_the_kind_job_runs_the_suite_with_the_image_built_and_loaded():
    runs = " ".join(s.get("run", "") for s in steps(load("e2e-kind.yaml")))
    assert "tests/cluster-e2e/run.sh --load kind" in runs


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    command = re.search(r"Run the whole test suite.*?```sh\n(.+?)\n```", readme, re.S)[1]
    runs = [s.get("run", "") for s in steps(load("ci.yaml"))]
    assert any(r.strip().endswith(command) for r in runs), (command, runs)
    # The install step runs as the runner's own (non-root) user, through sudo where needed.
    assert "bash scripts/install-tools.sh" in runs
