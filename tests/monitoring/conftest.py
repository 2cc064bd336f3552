"""Shared fixtures of the monitoring tests: the chart's rules and dashboard as Helm renders
them for the `monitoring` values case (release app-rust, namespace default)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "lib"))

from helm import MONITORING_API, parse, run, template_command, tool  # noqa: E402

CHART = ROOT / "charts" / "app-rust"
APP_BINARY = ROOT / "target" / "debug" / "app-rust"
# The labels the Prometheus Operator gives every target of the chart's ServiceMonitor in the
# namespace `default` (see docs/alerts.md); the tests scrape app-rust with these.
NAMESPACE = "default"
SERVICE = "app-rust-headless"

_COMPARISON = re.compile(r"(==|!=|>=|<=|>|<)(?!\s*bool\b)")


def without_thresholds(expr: str) -> str:
    """`expr` with every comparison made a `bool` comparison, so that it keeps every series
    (with value 0 or 1) instead of dropping those under the threshold. Label matchers inside
    braces and strings are left alone."""
    out, depth, quote, i = [], 0, None, 0
    while i < len(expr):
        c = expr[i]
        if quote:
            out.append(c)
            if c == "\\":
                out.append(expr[i + 1])
                i += 2
                continue
            if c == quote:
                quote = None
        elif c in "\"'`":
            quote = c
            out.append(c)
        elif c == "{":
            depth += 1
            out.append(c)
        elif c == "}":
            depth -= 1
            out.append(c)
        elif depth == 0 and (m := _COMPARISON.match(expr, i)):
            out.append(f"{m.group(1)} bool")
            i = m.end()
            continue
        else:
            out.append(c)
        i += 1
    return "".join(out)


@pytest.fixture(scope="session")
def rendered() -> list[dict]:
    cmd = template_command(tool("helm4"), "app-rust", CHART, NAMESPACE,
                           values_files=[ROOT / "tests" / "chart" / "values" / "monitoring.yaml"],
                           api_versions=MONITORING_API)
    return parse(run(cmd).stdout)


@pytest.fixture(scope="session")
def rule_groups(rendered) -> dict:
    """The PrometheusRule's spec: a Prometheus rule file."""
    (rule,) = [d for d in rendered if d["kind"] == "PrometheusRule"]
    return rule["spec"]


@pytest.fixture(scope="session")
def alerts(rule_groups) -> dict[str, dict]:
    return {r["alert"]: r for g in rule_groups["groups"] for r in g["rules"]}


@pytest.fixture(scope="session")
def dashboard(rendered) -> dict:
    (cm,) = [d for d in rendered if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "app-rust-dashboard"]
    return json.loads(cm["data"]["app-rust.json"])


@pytest.fixture()
def rules_file(rule_groups, tmp_path) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump(rule_groups, sort_keys=False))
    return path
