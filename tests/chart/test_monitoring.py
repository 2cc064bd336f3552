"""The PrometheusRule and the Grafana dashboard as the chart renders them: when they render,
their fields against the upstream types, and what each alert and panel carries. promtool and a
real Prometheus check the expressions themselves in tests/monitoring/."""

from __future__ import annotations

import json
import re

import pytest

from conftest import CASES_BY_NAME, CHART, ROOT, VALUES_DIR, Case, helm_template, parse, run, tool
from test_tooling import validate_crds

ALERTS = [
    "AppRustPersistErrors",
    "AppRustReplicaNotReady",
    "AppRustClusterViewIncomplete",
    "AppRustSlowVisits",
    "AppRustCountWentBackwards",
]
# Fields of the prometheus-operator API types (pkg/apis/monitoring/v1/prometheusrule_types.go):
# the CRD validator does not reject unknown fields, so the keys are checked here.
RULE_GROUP_FIELDS = {"name", "labels", "interval", "query_offset", "rules", "partial_response_strategy",
                     "limit"}
RULE_FIELDS = {"record", "alert", "expr", "for", "keep_firing_for", "labels", "annotations"}
DASHBOARD = CHART / "dashboards" / "app-rust.json"


def rules_of(rule: dict) -> dict[str, dict]:
    (group,) = rule["spec"]["groups"]
    return {r["alert"]: r for r in group["rules"]}


def test_the_rule_and_the_dashboard_render_only_when_enabled(render, helm4):
    case = CASES_BY_NAME["monitoring"]
    assert [d["kind"] for d in render("monitoring").docs].count("PrometheusRule") == 1
    # Enabled but the CRD is not served: no PrometheusRule, so installs do not fail; the
    # dashboard is a ConfigMap and needs no CRD.
    no_api = parse(helm_template(helm4, Case("monitoring-no-api", case.values)))
    assert "PrometheusRule" not in {d["kind"] for d in no_api}
    assert any(d["metadata"]["name"] == "app-rust-dashboard" for d in no_api if d["kind"] == "ConfigMap")
    # The CRD served but nothing enabled: neither.
    defaults = parse(helm_template(helm4, Case("api-only", "defaults.yaml", api_versions=case.api_versions)))
    assert "PrometheusRule" not in {d["kind"] for d in defaults}
    assert "app-rust-dashboard" not in {d["metadata"]["name"] for d in defaults if d["kind"] == "ConfigMap"}


@pytest.mark.parametrize("case_name", ["monitoring", "everything"])
def test_the_rule_has_only_fields_of_the_upstream_types(case_name, render):
    rule = render(case_name).one("PrometheusRule")
    assert set(rule) == {"apiVersion", "kind", "metadata", "spec"}
    assert set(rule["spec"]) == {"groups"}
    for group in rule["spec"]["groups"]:
        assert set(group) <= RULE_GROUP_FIELDS, set(group) - RULE_GROUP_FIELDS
        for r in group["rules"]:
            assert set(r) <= RULE_FIELDS, set(r) - RULE_FIELDS
    assert list(rules_of(rule)) == ALERTS


def anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, spaces to dashes, punctuation dropped."""
    found = set()
    for heading in re.findall(r"^#+ (.+)$", markdown, re.M):
        found.add(re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-"))
    return found


def test_every_alert_says_what_to_do_and_links_its_runbook_section(render):
    rule = render("monitoring").one("PrometheusRule")
    sections = anchors((ROOT / "docs" / "alerts.md").read_text())
    for name, r in rules_of(rule).items():
        notes = r["annotations"]
        assert set(notes) == {"summary", "description", "runbook_url"}, name
        assert "{{ $labels.pod }}" in notes["summary"] + notes["description"], name
        base, anchor = notes["runbook_url"].split("#")
        assert base == "https://example.org/app-rust/docs/alerts.md"
        assert anchor == name.lower() and anchor in sections, (name, sorted(sections))
        assert r["labels"]["severity"] in {"critical", "warning"}, name


def test_the_alerts_select_the_series_of_the_release_the_service_monitor_scrapes(render):
    r = render("monitoring")
    # The ServiceMonitor selects the headless Service; the operator labels its targets with
    # that Service's name and namespace, which the rules select by default.
    selected = [s["metadata"]["name"] for s in r.kinds("Service")
                if r.one("ServiceMonitor")["spec"]["selector"]["matchLabels"].items()
                <= s["metadata"]["labels"].items()]
    assert selected == ["app-rust-headless"]
    selector = 'namespace="default",service="app-rust-headless"'
    for name, rule in rules_of(r.one("PrometheusRule")).items():
        selectors = re.findall(r"\{([^}]*)\}", rule["expr"])
        assert selectors and all(s.startswith(selector) for s in selectors), (name, selectors)


def test_every_knob_of_the_alerts_lands_in_the_rule(render):
    rule = render("everything").one("PrometheusRule")
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    alerts = rules_of(rule)
    for r in alerts.values():
        assert r["labels"]["team"] == "visits"
        assert all(s.startswith('job="visits",namespace="visits-ns"')
                   for s in re.findall(r"\{([^}]*)\}", r["expr"]))
        assert r["annotations"]["runbook_url"].startswith(
            "https://git.example.org/ops/app-rust/-/blob/v0.1.0/docs/alerts.md#")
    assert (alerts["AppRustPersistErrors"]["for"], alerts["AppRustPersistErrors"]["labels"]["severity"]) \
        == ("30s", "page")
    assert alerts["AppRustReplicaNotReady"]["for"] == "2m"
    assert "for 2m." in alerts["AppRustReplicaNotReady"]["annotations"]["description"]
    assert alerts["AppRustClusterViewIncomplete"]["for"] == "15m"
    assert alerts["AppRustSlowVisits"]["expr"].endswith("> 0.5")
    assert "above 0.5 s" in alerts["AppRustSlowVisits"]["annotations"]["description"]
    assert "[6h]" in alerts["AppRustCountWentBackwards"]["expr"]
    assert "for" not in alerts["AppRustCountWentBackwards"]


@pytest.mark.parametrize("helm_name", ["helm3", "helm4"])
def test_the_rule_needs_a_runbook_url(helm_name):
    helm = tool(helm_name)
    values = str(VALUES_DIR / CASES_BY_NAME["monitoring"].values)
    proc = run([helm, "template", "app-rust", str(CHART), "-f", values,
                "--set", "metrics.prometheusRule.runbookBaseUrl="], check=False)
    assert proc.returncode != 0
    assert "metrics.prometheusRule.runbookBaseUrl is required" in proc.stderr, proc.stderr
    proc = run([helm, "template", "app-rust", str(CHART),
                "--set", "metrics.prometheusRule.runbookBaseUrl=docs/alerts.md"], check=False)
    assert proc.returncode != 0 and "runbookBaseUrl" in proc.stderr, proc.stderr


def test_the_dashboard_config_map_carries_the_sidecar_label_and_the_file(render):
    cm = render("monitoring").one("ConfigMap", "app-rust-dashboard")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(cm["data"]["app-rust.json"]) == json.loads(DASHBOARD.read_text())
    custom = render("everything").one("ConfigMap", "app-rust-visits-dashboard")
    assert custom["metadata"]["labels"]["grafana.example.org/dashboard"] == "app-rust"
    assert "grafana_dashboard" not in custom["metadata"]["labels"]
    assert custom["metadata"]["annotations"]["grafana_folder"] == "Visits"


def panels_of(dashboard: dict) -> list[dict]:
    return [p for p in dashboard["panels"] if p["type"] != "row"]


def test_the_dashboard_uses_its_datasource_variable_everywhere_and_unique_ids():
    dashboard = json.loads(DASHBOARD.read_text())
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)), ids
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    ours = {"type": "prometheus", "uid": "${datasource}"}
    for v in variables.values():
        if v["type"] == "query":
            assert v["datasource"] == ours, v["name"]
    for panel in panels_of(dashboard):
        assert panel["datasource"] == ours, panel["title"]
        assert panel["targets"], panel["title"]
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == ours, panel["title"]
            # Every selector is narrowed to the chosen namespace, Service and pods.
            for selector in re.findall(r"\{([^}]*)\}", target["expr"]):
                assert selector.startswith('namespace="$namespace",service="$service",pod=~"$pod"'), \
                    (panel["title"], selector)


def test_the_dashboard_has_the_panels_an_operator_needs():
    titles = [p["title"] for p in panels_of(json.loads(DASHBOARD.read_text()))]
    for needed in ["Visits/s per pod", "Visit count per pod", "Requests/s by route",
                   "Latency by route (p50, p99)", "Commit latency (p50, p99)", "Visits per commit",
                   "Server errors/s by route", "Failed commits", "Readiness per pod",
                   "Incomplete cluster answers", "Peer errors/s by reason"]:
        assert needed in titles, (needed, titles)


def test_the_crd_validator_rejects_a_broken_rule(render):
    rule = json.loads(json.dumps(render("monitoring").one("PrometheusRule")))
    first = rule["spec"]["groups"][0]["rules"][0]
    first["for"] = "soon"
    first["expr"] = {"not": "a string"}
    proc = validate_crds([rule])
    assert proc.returncode == 1, proc.stdout
    assert "/for" in proc.stdout and "/expr" in proc.stdout, proc.stdout
