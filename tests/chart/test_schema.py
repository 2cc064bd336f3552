"""The values schema and the chart's own checks: bad values fail early, naming the value."""

from __future__ import annotations

import json

import pytest

from conftest import CASE_NAMES, CHART, OLDEST_KUBE, run, tool  # noqa: E501


@pytest.mark.parametrize(
    "bad, complaint",
    [
        ("replicaCount=-1", "/replicaCount"),
        ("unknownKey=1", "unknownKey"),
        ("service.type=Bogus", "/service/type"),
        ("service.nodePort=70000", "/service/nodePort"),
        ("podManagementPolicy=Sometimes", "/podManagementPolicy"),
        ("updateStrategy.type=Recreate", "/updateStrategy/type"),
        ("persistentVolumeClaimRetentionPolicy.whenDeleted=Keep", "whenDeleted"),
        ("image.pullPolicy=Sometimes", "/image/pullPolicy"),
        ("config.unknownSetting=1", "unknownSetting"),
        ("config.logFormat=xml", "/config/logFormat"),
        ("persistence.size=lots", "/persistence/size"),
        ("persistence.unknown=1", "unknown"),
        ("secret.stringData.bad-name=x", "bad-name"),
        ("podAntiAffinityPreset=sometimes", "/podAntiAffinityPreset"),
        ("replicaCount=three", "/replicaCount"),
    ],
)
@pytest.mark.parametrize("helm_name", ["helm3", "helm4"])
def test_schema_rejects_bad_values(helm_name, bad, complaint):
    proc = run([tool(helm_name), "template", "app-rust", str(CHART), "--set", bad], check=False)
    assert proc.returncode != 0, f"--set {bad} was accepted"
    # Helm 4 names the value as a JSON pointer (/service/type), Helm 3 with dots (service.type).
    dotted = complaint.strip("/").replace("/", ".")
    assert "schema" in proc.stderr and (complaint in proc.stderr or dotted in proc.stderr), proc.stderr


# Objects whose content is a Kubernetes type passed through verbatim (validated by
# kubernetes-validate --strict on the rendered output) or a free-form string map.
PASS_THROUGH = {"global", "affinity.nodeAffinity", "affinity.podAffinity", "affinity.podAntiAffinity",
                "lifecycle.preStop", "lifecycle.postStart", "podSecurityContext.seLinuxOptions",
                "podSecurityContext.appArmorProfile", "podSecurityContext.windowsOptions",
                "containerSecurityContext.seLinuxOptions", "containerSecurityContext.appArmorProfile",
                "containerSecurityContext.windowsOptions"}


def test_schema_is_strict_everywhere():
    schema = json.loads((CHART / "values.schema.json").read_text())
    loose = []

    def walk(node: dict, path: str):
        if not isinstance(node, dict):
            return
        for sub in node.get("anyOf", []):
            walk(sub, path)
        if node.get("type") == "object" or "properties" in node:
            if "properties" in node:
                if node.get("additionalProperties") is not False:
                    loose.append(path)
            elif "additionalProperties" not in node and path not in PASS_THROUGH:
                loose.append(path)
            for key, sub in node.get("properties", {}).items():
                walk(sub, f"{path}.{key}" if path else key)
        if isinstance(node.get("items"), dict):
            walk(node["items"], f"{path}[]")

    walk(schema, "")
    # Lists of Kubernetes objects (tolerations, envFrom, extraVolumes, ...) are passed through.
    loose = [p for p in loose if not p.endswith("[]")]
    assert not loose, f"objects in values.schema.json that accept unknown keys: {loose}"


@pytest.mark.parametrize("helm_name", ["helm3", "helm4"])
def test_kube_version_constraint_is_the_oldest_supported_release(helm_name):
    helm = tool(helm_name)
    proc = run([helm, "template", "app-rust", str(CHART), "--kube-version", "1.31.14"], check=False)
    assert proc.returncode != 0 and "kubeVersion" in proc.stderr + proc.stdout, proc.stderr
    run([helm, "template", "app-rust", str(CHART), "--kube-version", OLDEST_KUBE])
    # Without --kube-version each Helm assumes a release of its own (Helm 3.17: 1.32, Helm 4.1:
    # 1.35); the chart's defaults must render under both, or `helm template` fails offline.
    run([helm, "template", "app-rust", str(CHART)])


@pytest.mark.parametrize(
    "bad, complaint",
    [
        (("terminationGracePeriodSeconds=5",), "must exceed config.shutdownDelayMs + config.shutdownTimeoutMs"),
        (("terminationGracePeriodSeconds=20", "config.shutdownTimeoutMs=20000"), "must exceed config.shutdownDelayMs + config.shutdownTimeoutMs"),
        # The defaults (5000 + 10000 ms) fit in 30 s; 15 s leaves the kubelet no time.
        (("terminationGracePeriodSeconds=15",), "(5000 + 10000 ms)"),
        (("hooks.activeDeadlineSeconds=60",), "must exceed hooks.postInstall.waitMs"),
        (("persistence.accessModes={ReadWriteOncePod,ReadWriteOnce}",), "ReadWriteOncePod"),
    ],
)
def test_cross_value_checks_fail_early(helm4, bad, complaint):
    args = [a for s in bad for a in ("--set", s)]
    proc = run([helm4, "template", "app-rust", str(CHART), *args], check=False)
    assert proc.returncode != 0 and complaint in proc.stderr, proc.stderr


def test_schema_accepts_every_matrix_values_file(render):
    for name in CASE_NAMES:
        assert render(name).docs
