"""A real Prometheus (Debian's package) on 127.0.0.1 scrapes two app-rust processes on
127.0.0.1, with the target labels the Prometheus Operator gives the chart's ServiceMonitor
targets, and loads the chart's rules. After some traffic, every alert expression (its
thresholds made `bool`, so that it keeps every series) and every dashboard query returns at
least one series: no alert or panel names a metric or label app-rust does not export."""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import yaml

import app_process
from conftest import APP_BINARY, NAMESPACE, SERVICE, tool, without_thresholds

SCRAPE_SECONDS = 1
# What Grafana gives $__rate_interval at this scrape interval is at least four scrapes; a
# window of 15 scrapes holds enough samples for every rate here.
RATE_INTERVAL = "15s"


def get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


class Prometheus:
    def __init__(self, url: str):
        self.url = url

    def api(self, path: str, **params) -> dict:
        status, body = get(f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params, doseq=True)}")
        answer = json.loads(body)
        assert status == 200 and answer["status"] == "success", (path, params, answer)
        return answer["data"]

    def query(self, expr: str) -> list[dict]:
        data = self.api("query", query=expr)
        assert data["resultType"] == "vector", (expr, data)
        return data["result"]


def wait_for(what: str, check, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.25)


@pytest.fixture(scope="module")
def replicas(tmp_path_factory):
    """app-rust-0, and app-rust-1 which lists app-rust-0 as its peer (its cluster answers ask
    app-rust-0). Yields their ports."""
    assert APP_BINARY.is_file(), f"{APP_BINARY} missing: tests/monitoring/run.sh builds it"
    procs, ports = [], []
    try:
        for ordinal in range(2):
            data = tmp_path_factory.mktemp(f"app-rust-{ordinal}")
            env = {"PATH": os.environ["PATH"], "DATA_DIR": str(data), "POD_NAME": f"app-rust-{ordinal}"}
            if ports:
                env["APP_PEERS"] = f"http://127.0.0.1:{ports[0]}"
            log = data.parent / f"app-rust-{ordinal}.log"
            procs.append(app_process.start(APP_BINARY, env, log))
            ports.append(app_process.serving_port(procs[-1], log))
        yield ports
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=20)


@pytest.fixture(scope="module")
def prometheus(replicas, rule_groups, tmp_path_factory):
    work = tmp_path_factory.mktemp("prometheus")
    (work / "rules.yaml").write_text(yaml.safe_dump(rule_groups, sort_keys=False))
    targets = [
        {"targets": [f"127.0.0.1:{port}"],
         "labels": {"namespace": NAMESPACE, "service": SERVICE, "pod": f"app-rust-{ordinal}"}}
        for ordinal, port in enumerate(replicas)
    ]
    config = {
        "global": {"scrape_interval": f"{SCRAPE_SECONDS}s", "evaluation_interval": f"{SCRAPE_SECONDS}s"},
        "rule_files": [str(work / "rules.yaml")],
        # job: the ServiceMonitor's jobLabel is app.kubernetes.io/name, whose value is app-rust.
        "scrape_configs": [{"job_name": "app-rust", "static_configs": targets}],
    }
    (work / "prometheus.yml").write_text(yaml.safe_dump(config))
    log = open(work / "prometheus.log", "wb")
    proc = subprocess.Popen(
        [tool("prometheus"), f"--config.file={work / 'prometheus.yml'}", f"--storage.tsdb.path={work / 'data'}",
         "--web.listen-address=127.0.0.1:0"],
        stdout=log, stderr=subprocess.STDOUT)
    try:
        def listening():
            match = re.search(r'msg="Listening on"[^\n]* address=127\.0\.0\.1:(\d+)', (work / "prometheus.log").read_text())
            assert proc.poll() is None, (work / "prometheus.log").read_text()
            return match and int(match.group(1))

        port = wait_for("Prometheus to listen", listening)
        server = Prometheus(f"http://127.0.0.1:{port}")
        wait_for("Prometheus to be ready", lambda: get(f"{server.url}/-/ready")[0] == 200)
        yield server
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()


@pytest.fixture(scope="module")
def scraped(prometheus, replicas):
    """Prometheus after traffic on both replicas over several scrapes."""
    zero, one = (f"http://127.0.0.1:{port}" for port in replicas)
    for _ in range(8):
        for _ in range(10):
            assert get(f"{zero}/")[0] == 200
            assert get(f"{one}/")[0] == 200
        assert get(f"{one}/visits?scope=cluster")[0] == 200
        assert get(f"{zero}/no-such-page")[0] == 404
        time.sleep(SCRAPE_SECONDS / 2)
    # Every target up, with a window of samples behind each series.
    wait_for("both targets scraped 20 times",
             lambda: len([s for s in prometheus.query("count_over_time(up[1m]) >= 20")]) == 2)
    return prometheus


def dashboard_expr(expr: str) -> str:
    """A panel query as Grafana sends it with the variables of this release, all pods."""
    return (expr.replace("$namespace", NAMESPACE).replace("$service", SERVICE)
            .replace("$pod", ".*").replace("$__rate_interval", RATE_INTERVAL))


def test_prometheus_scrapes_what_the_rules_select(scraped):
    up = scraped.query(f'up{{namespace="{NAMESPACE}",service="{SERVICE}"}}')
    assert sorted((s["metric"]["pod"], s["value"][1]) for s in up) == [("app-rust-0", "1"), ("app-rust-1", "1")]
    visits = scraped.query(f'app_visits_total{{namespace="{NAMESPACE}",service="{SERVICE}"}}')
    assert sorted((s["metric"]["pod"], s["value"][1]) for s in visits) == [("app-rust-0", "80"), ("app-rust-1", "80")]


def test_every_alert_expression_returns_series_from_app_rust(scraped, alerts):
    for name, rule in alerts.items():
        expr = without_thresholds(rule["expr"])
        result = scraped.query(expr)
        assert result, f"{name}: no series for\n{expr}"
        assert {s["metric"].get("pod") for s in result} == {"app-rust-0", "app-rust-1"}, (name, result)
        # Nothing is wrong here, so no threshold is crossed.
        assert all(s["value"][1] in {"0", "NaN"} for s in result), (name, result)


def test_prometheus_loads_and_evaluates_every_rule_without_error(scraped, alerts):
    def evaluated():
        groups = scraped.api("rules")["groups"]
        rules = [r for g in groups for r in g["rules"]]
        return rules if all(r.get("lastEvaluation", "").startswith("20") for r in rules) else None

    rules = wait_for("every rule evaluated", evaluated)
    assert sorted(r["name"] for r in rules) == sorted(alerts)
    for rule in rules:
        assert rule["health"] == "ok" and not rule.get("lastError"), rule
        assert rule["state"] == "inactive", rule


def test_every_dashboard_query_returns_series_from_app_rust(scraped, dashboard):
    queries = [(p["title"], t["expr"]) for p in dashboard["panels"] for t in p.get("targets", [])]
    assert len(queries) >= 15
    for title, expr in queries:
        expr = dashboard_expr(expr)
        assert "$" not in expr, (title, expr)
        assert scraped.query(expr), f"{title}: no series for\n{expr}"


def test_the_dashboard_variables_find_this_release(scraped, dashboard):
    """Grafana answers `label_values(METRIC{...}, LABEL)` from the label values API."""
    found = {}
    for variable in dashboard["templating"]["list"]:
        if variable["type"] != "query":
            continue
        match = re.fullmatch(r"label_values\((.+), (\w+)\)", variable["query"]["query"])
        assert match, variable
        selector = match.group(1).replace("$namespace", NAMESPACE).replace("$service", SERVICE)
        found[variable["name"]] = scraped.api(f"label/{match.group(2)}/values", **{"match[]": selector})
    assert found == {"namespace": [NAMESPACE], "service": [SERVICE], "pod": ["app-rust-0", "app-rust-1"]}


def test_a_wrong_metric_or_label_finds_no_series(scraped):
    """The checks above can fail: names app-rust does not export return nothing."""
    assert not scraped.query(f'app_visit_total{{namespace="{NAMESPACE}",service="{SERVICE}"}}')
    assert not scraped.query(f'app_visits_total{{namespace="{NAMESPACE}",service="app-rust"}}')
    assert not scraped.query(f'sum by (pod) (rate(http_requests_total{{namespace="{NAMESPACE}",handler="/"}}[1m]))')
