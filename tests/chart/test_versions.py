"""Fields whose effect depends on the Kubernetes release: rendered for the oldest and newest
supported release (`--kube-version`), each must appear only where it takes effect.

Sources: the feature-gates reference on kubernetes.io and the PRs named in _helpers.tpl
(MaxUnavailableStatefulSet); KEP-1847 (StatefulSetAutoDeletePVC: beta and on in 1.27, GA in
1.32); KEP-3335 (StatefulSetStartOrdinal: beta and on in 1.27, GA in 1.31).
"""

from __future__ import annotations

import pytest

from conftest import CHART, NEWEST_KUBE, OLDEST_KUBE, parse, run, tool

SET_MAX_UNAVAILABLE = ["--set", "updateStrategy.rollingUpdate.maxUnavailable=2"]


def template(helm: str, kube_version: str, *args: str):
    return run([tool(helm), "template", "app-rust", str(CHART), "--kube-version", kube_version, *args],
               check=False)


def statefulset(proc) -> dict:
    assert proc.returncode == 0, proc.stderr
    return next(d for d in parse(proc.stdout) if d["kind"] == "StatefulSet")


@pytest.mark.parametrize("helm", ["helm3", "helm4"])
@pytest.mark.parametrize("kube_version", [OLDEST_KUBE, NEWEST_KUBE])
def test_fields_that_work_in_every_supported_release_are_always_rendered(helm, kube_version):
    spec = statefulset(template(helm, kube_version, "--set", "ordinals.start=1"))["spec"]
    # GA in 1.32 and 1.31, both at or before the chart's kubeVersion.
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert spec["ordinals"] == {"start": 1}
    # Nothing sets maxUnavailable by default, so no release sees it.
    assert "rollingUpdate" not in spec["updateStrategy"]


# The MaxUnavailableStatefulSet gate's default by release: off (alpha) to 1.34, on in
# 1.35.0-1.35.3, off from 1.35.4 and in 1.36, on from 1.37. Provider builds carry a pre-release
# suffix (v1.35.4-gke.100), which must compare as the release it is built from.
GATE_DEFAULT = [
    (OLDEST_KUBE, False),
    ("1.34.11", False),
    ("1.35.0", True),
    ("1.35.3", True),
    ("1.35.3-gke.1200", True),
    ("1.35.4", False),
    ("1.35.4-gke.100", False),
    ("1.36.4", False),
    (NEWEST_KUBE, True),
    ("1.38.0", True),
]


@pytest.mark.parametrize("helm", ["helm3", "helm4"])
@pytest.mark.parametrize(("kube_version", "gate_on"), GATE_DEFAULT)
def test_max_unavailable_is_rendered_only_where_the_gate_is_on_by_default(helm, kube_version, gate_on):
    proc = template(helm, kube_version, *SET_MAX_UNAVAILABLE)
    if gate_on:
        assert statefulset(proc)["spec"]["updateStrategy"]["rollingUpdate"] == {"maxUnavailable": 2}
    else:
        assert proc.returncode != 0, f"maxUnavailable rendered for {kube_version}, where the API server drops it"
        assert "MaxUnavailableStatefulSet feature gate is off by default" in proc.stderr, proc.stderr
        assert "kubernetesFeatureGates.maxUnavailableStatefulSet=true" in proc.stderr, proc.stderr


@pytest.mark.parametrize("helm", ["helm3", "helm4"])
def test_a_declared_feature_gate_overrides_the_release_default(helm):
    on = template(helm, OLDEST_KUBE, *SET_MAX_UNAVAILABLE, "--set", "kubernetesFeatureGates.maxUnavailableStatefulSet=true")
    assert statefulset(on)["spec"]["updateStrategy"]["rollingUpdate"] == {"maxUnavailable": 2}
    off = template(helm, NEWEST_KUBE, *SET_MAX_UNAVAILABLE, "--set", "kubernetesFeatureGates.maxUnavailableStatefulSet=false")
    assert off.returncode != 0 and "has no effect on Kubernetes v1.37.0" in off.stderr, off.stderr


def test_on_delete_ignores_max_unavailable_wherever_it_is():
    # rollingUpdate is not rendered for OnDelete, so nothing can be dropped.
    proc = template("helm4", OLDEST_KUBE, "--set", "updateStrategy.type=OnDelete", *SET_MAX_UNAVAILABLE)
    assert statefulset(proc)["spec"]["updateStrategy"] == {"type": "OnDelete"}
