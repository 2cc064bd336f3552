"""Tooling-level checks over real `helm` output: lint, strict validation, yamllint, package,
the Helm 4 client dry-run, checkov and the generated parameters table."""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import CASE_NAMES, CASES, CRD_KINDS, K8S_VERSIONS, CASES_BY_NAME, CHART, VALUES_DIR, helm_template, parse, run, tool  # noqa: E501

HERE = Path(__file__).resolve().parent


@pytest.mark.parametrize("helm_name", ["helm3", "helm4"])
@pytest.mark.parametrize("case_name", CASE_NAMES)
def test_helm_lint_strict(helm_name, case_name):
    helm = tool(helm_name)
    case = CASES_BY_NAME[case_name]
    proc = run([helm, "lint", "--strict", str(CHART), "--namespace", case.namespace,
                "-f", str(VALUES_DIR / case.values)])
    assert "1 chart(s) linted, 0 chart(s) failed" in proc.stdout


@pytest.mark.parametrize("case_name", CASE_NAMES)
def test_helm3_and_helm4_render_the_same(case_name, helm3, render):
    case = CASES_BY_NAME[case_name]
    assert parse(helm_template(helm3, case)) == render(case_name).docs


@pytest.mark.parametrize("k8s", K8S_VERSIONS)
@pytest.mark.parametrize("case_name", CASE_NAMES)
def test_kubernetes_validate_strict(case_name, k8s, render, tmp_path):
    r = render(case_name, k8s)
    manifest = tmp_path / f"{case_name}.yaml"
    manifest.write_text(r.text)
    proc = run([tool("kubernetes-validate"), "--strict", "-k", k8s, str(manifest)], check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout + proc.stderr
    assert "ERROR" not in out
    # Every non-CRD document must have been validated against a real schema...
    passed = re.findall(r"passed for resource (\S+?)/", out)
    expected = [d["kind"].lower() for d in r.docs if d["kind"] not in CRD_KINDS]
    assert sorted(passed) == sorted(expected), out
    # ...and the only documents without a schema are the known CRD kinds.
    for line in out.splitlines():
        if "Couldn't find schema" in line:
            assert any(f"kind {k} " in line for k in CRD_KINDS), line


def validate_crds(docs: list[dict]) -> subprocess.CompletedProcess:
    return run(["node", str(HERE / "validate-crds.mjs")], check=False, input=json.dumps(docs))


@pytest.mark.parametrize("case_name", [c.name for c in CASES if c.api_versions])
def test_crd_documents_validate_against_upstream_types(case_name, render):
    crds = [d for d in render(case_name).docs if d["kind"] in CRD_KINDS]
    assert sorted(d["kind"] for d in crds) == ["PrometheusRule", "ServiceMonitor"], case_name
    proc = validate_crds(crds)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sorted(proc.stdout.splitlines()) == sorted(
        f"OK {d['apiVersion']}/{d['kind']} {d['metadata']['name']}" for d in crds)


def test_crd_validator_rejects_a_broken_service_monitor(render):
    sm = json.loads(json.dumps(render("monitoring").one("ServiceMonitor")))
    sm["spec"]["endpoints"][0]["interval"] = "every minute"
    sm["spec"]["endpoints"][0]["honorLabels"] = "yes"
    proc = validate_crds([sm])
    assert proc.returncode == 1 and "interval" in proc.stdout and "honorLabels" in proc.stdout, proc.stdout


@pytest.mark.parametrize("case_name", CASE_NAMES)
def test_rendered_output_passes_yamllint(case_name, render, tmp_path):
    manifest = tmp_path / f"{case_name}.yaml"
    manifest.write_text(render(case_name).text)
    run([tool("yamllint"), "--strict", "-c", str(HERE / "yamllint.yaml"), str(manifest)])


def test_values_files_pass_yamllint():
    files = [CHART / "values.yaml", *sorted(VALUES_DIR.glob("*.yaml"))]
    run([tool("yamllint"), "--strict", "-c", str(HERE / "yamllint.yaml"), *map(str, files)])


@pytest.mark.parametrize("helm_name", ["helm3", "helm4"])
def test_helm_package_produces_versioned_archive(helm_name, tmp_path):
    helm = tool(helm_name)
    run([helm, "package", str(CHART), "--destination", str(tmp_path)])
    archive = tmp_path / "app-rust-0.1.0.tgz"
    assert archive.is_file(), list(tmp_path.iterdir())
    shown = yaml.safe_load(run([helm, "show", "chart", str(archive)]).stdout)
    assert (shown["name"], shown["version"], shown["appVersion"]) == ("app-rust", "0.1.0", "0.1.0")
    # The archive installs the same manifests as the directory.
    case = CASES_BY_NAME["defaults"]
    assert parse(helm_template(helm, case, chart=archive)) == parse(helm_template(helm, case))


def test_helm4_install_dry_run_client_without_cluster(helm4):
    proc = run([helm4, "install", "--dry-run=client", "--debug", "app-rust", str(CHART)])
    out = proc.stdout
    assert "STATUS: pending-install" in out
    assert "kind: StatefulSet" in out
    assert "kubectl exec --namespace default pod/app-rust-0 -- cat /app/data/visits" in out


@pytest.mark.parametrize("framework", ["kubernetes", "helm"])
def test_checkov_has_no_unlisted_failures_on_defaults(framework, render, chart_copy, tmp_path):
    if framework == "kubernetes":
        target = tmp_path / "manifests"
        target.mkdir()
        (target / "defaults.yaml").write_text(render("defaults").text)
    else:  # checkov runs `helm template` on the chart itself (needs a `helm` on PATH)
        tool("helm")
        target = chart_copy
    proc = run([tool("checkov"), "-d", str(target), "--framework", framework,
                "--skip-download", "--quiet", "-o", "json"], check=False, cwd=tmp_path)
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads(proc.stdout)
    reports = report if isinstance(report, list) else [report]
    summary = reports[0]["summary"]
    assert summary["passed"] > 100 and summary["parsing_errors"] == 0, summary  # the checks really ran
    failed = [(c["check_id"], c["resource"]) for rep in reports for c in rep["results"]["failed_checks"]]
    skips = []
    for line in (HERE / "checkov-skips.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            check_id, pattern, reason = line.split(None, 2)
            assert len(reason) > 20, f"skip {check_id} needs a real reason"
            skips.append((check_id, pattern))
    unlisted = [f for f in failed if not any(f[0] == c and fnmatch.fnmatch(f[1], p) for c, p in skips)]
    assert not unlisted, f"checkov failures not in checkov-skips.txt: {unlisted}"
    stale = [s for s in skips if not any(f[0] == s[0] and fnmatch.fnmatch(f[1], s[1]) for f in failed)]
    assert not stale, f"skips matching no finding (remove them): {stale}"


def test_readme_parameters_table_is_generated_from_values(tmp_path):
    readme = tmp_path / "README.md"
    shutil.copy(CHART / "README.md", readme)
    run([tool("readme-generator"), "--values", str(CHART / "values.yaml"), "--readme", str(readme)])
    assert readme.read_text() == (CHART / "README.md").read_text(), (
        "charts/app-rust/README.md parameters table is stale: run "
        "readme-generator --values charts/app-rust/values.yaml --readme charts/app-rust/README.md"
    )


def table_rows(readme: str) -> dict[str, str]:
    """Name -> Value cell of every row of the README's parameter tables."""
    rows = {}
    for line in readme.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`") and cells[2].startswith("`"):
            rows[cells[0].strip("`")] = cells[2][1:-1]
    return rows


def value_at(values, path: str):
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        values = values[int(part[1:-1])] if part.startswith("[") else values[part]
    return values


def shown(value) -> str:
    """How readme-generator prints a value: scalars as YAML writes them, lists and maps as JSON."""
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (list, dict)):
        return json.dumps(value, separators=(",", ":"))
    return str(value) if value != "" else '""'


def test_readme_parameters_table_shows_the_real_defaults():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    rows = table_rows((CHART / "README.md").read_text())
    assert len(rows) > 100, "the parameter tables were not found"
    wrong = {name: (cell, shown(value_at(values, name))) for name, cell in rows.items()
             if cell != shown(value_at(values, name))}
    # A [object]/[array] modifier prints {} or [] whatever the default holds: that hid the
    # security contexts, the resources, the access modes and the Ingress host.
    assert not wrong, f"parameter table cells that are not the default in values.yaml (cell, real): {wrong}"
