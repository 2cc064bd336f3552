"""The chart's alert rules through promtool: they parse (strictly: an unknown field is an
error), and alerts-test.yaml shows each alert firing where it should and silent where not."""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from conftest import run, tool, without_thresholds

HERE = Path(__file__).resolve().parent


def test_promtool_checks_the_rendered_rules(rules_file):
    proc = run([tool("promtool"), "check", "rules", str(rules_file)])
    assert "SUCCESS: 5 rules found" in proc.stdout, proc.stdout


def test_promtool_rejects_a_rule_it_cannot_parse(rule_groups, tmp_path):
    broken = yaml.safe_load(yaml.safe_dump(rule_groups))
    broken["groups"][0]["rules"][0]["expr"] += " +"
    broken["groups"][0]["rules"][1]["fire_after"] = "5m"
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(broken))
    proc = run([tool("promtool"), "check", "rules", str(path)], check=False)
    assert proc.returncode != 0
    assert "fire_after" in proc.stdout + proc.stderr, proc.stdout + proc.stderr


def test_every_alert_fires_and_stays_silent_in_the_unit_tests(rules_file, alerts):
    tests = yaml.safe_load((HERE / "alerts-test.yaml").read_text())
    tested = {case["alertname"] for t in tests["tests"] for case in t["alert_rule_test"]}
    assert tested == set(alerts)
    for name in alerts:
        cases = [c for t in tests["tests"] for c in t["alert_rule_test"] if c["alertname"] == name]
        assert any(c["exp_alerts"] for c in cases), f"{name} never fires in alerts-test.yaml"
        assert any(not c["exp_alerts"] for c in cases), f"{name} is never silent in alerts-test.yaml"
    shutil.copy(HERE / "alerts-test.yaml", rules_file.parent)
    proc = run([tool("promtool"), "test", "rules", str(rules_file.parent / "alerts-test.yaml")], check=False)
    assert proc.returncode == 0 and "SUCCESS" in proc.stdout, proc.stdout + proc.stderr


def test_without_thresholds_turns_comparisons_into_bool_and_leaves_matchers_alone():
    assert without_thresholds('a{x!="y",z=~"w>1"} > 0 and b{c="=="} == 0') == \
        'a{x!="y",z=~"w>1"} > bool 0 and b{c="=="} == bool 0'
    assert without_thresholds("x < bool y") == "x < bool y"
    assert without_thresholds("x >= 2 or y <= 3 or z != 4") == "x >= bool 2 or y <= bool 3 or z != bool 4"
