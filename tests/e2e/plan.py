"""The plan of the podman replica run: the pods that the chart's StatefulSet would create.

It renders the chart with real Helm and derives from the rendered StatefulSet exactly the
pods that the StatefulSet controller would create for its ordinals (``pod.py`` derives each
one). Every field of the StatefulSet is checked against an explicit allow-list
(``allowlist.py``): a field the run cannot honour raises ``Unsupported`` instead of being
dropped. ``replicas.py`` runs the plan with podman.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from allowlist import only, require
from pod import PodSpec, PodTemplate, derive_pod, find_object, is_hook

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "app-rust"
RUN_LABEL = "app-rust-e2e.run"
INSTANCE_LABEL = "app-rust-e2e.instance"  # one ReplicaRun (a run may hold several)
POD_LABEL = "app-rust-e2e.pod"
REVISION_LABEL = "controller-revision-hash"

sys.path.insert(0, str(ROOT / "tests" / "lib"))

from helm import parse, run, template_command, tool  # noqa: E402  (shared with tests/chart)


class NotReady(Exception):
    """A pod did not pass its probes in time."""


# --------------------------------------------------------------------------------------------
# Helm


def helm_binary() -> str:
    """Helm 4 from scripts/tools/install-helm.sh, or $HELM (a missing helm is an error, never a skip)."""
    return tool(os.environ.get("HELM") or "helm4")


def helm_template(
    release: str,
    namespace: str,
    values_files: list[Path],
    set_values: list[str] | None = None,
    set_json: list[str] | None = None,
) -> tuple[list[str], list[dict]]:
    """Runs `helm template` and returns (the command, the rendered documents)."""
    cmd = template_command(
        helm_binary(),
        release,
        CHART,
        namespace,
        values_files=values_files,
        set_values=set_values or [],
        set_json=set_json or [],
    )
    return cmd, parse(run(cmd).stdout)


# --------------------------------------------------------------------------------------------
# Deriving the pods from the rendered StatefulSet


@dataclass
class StatefulSetPlan:
    name: str
    namespace: str
    replicas: int
    ordinal_start: int
    service_name: str
    pod_management_policy: str
    update_strategy: str
    partition: int
    min_ready_seconds: int
    retention_when_scaled: str
    retention_when_deleted: str
    claim_templates: dict[str, dict]  # name -> rendered template
    pods: list[PodSpec]
    headless_service: dict
    client_services: list[dict]
    documents: list[dict]
    helm_command: list[str]

    @property
    def ordinals(self) -> range:
        return range(self.ordinal_start, self.ordinal_start + self.replicas)

    def pod(self, ordinal: int) -> PodSpec:
        return next(p for p in self.pods if p.ordinal == ordinal)


def _labels_match(selector: dict, labels: dict, where: str) -> bool:
    only(selector, {"matchLabels"}, f"{where}.selector")
    return all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())


def derive(documents: list[dict], helm_command: list[str] | None = None) -> StatefulSetPlan:
    """Everything the StatefulSet controller would create, from the rendered documents."""
    stss = [d for d in documents if d.get("kind") == "StatefulSet"]
    require(len(stss) == 1, f"expected exactly one StatefulSet in the rendered chart, found {len(stss)}")
    sts = stss[0]
    only(sts, {"apiVersion", "kind", "metadata", "spec"}, "StatefulSet")
    require(sts["apiVersion"] == "apps/v1", "StatefulSet: apiVersion must be apps/v1")
    meta = only(sts["metadata"], {"name", "namespace", "labels", "annotations"}, "StatefulSet.metadata")
    name, namespace = meta["name"], meta.get("namespace", "default")
    spec = only(
        sts["spec"],
        {
            "replicas",
            "serviceName",
            "podManagementPolicy",
            "revisionHistoryLimit",  # ControllerRevision bookkeeping: no controller history here
            "minReadySeconds",
            "updateStrategy",
            "persistentVolumeClaimRetentionPolicy",
            "selector",
            "template",
            "volumeClaimTemplates",
            "ordinals",
        },
        "StatefulSet.spec",
    )
    where = f"StatefulSet {name}"
    replicas = int(spec.get("replicas", 1))
    ordinal_start = int(only(spec.get("ordinals") or {}, {"start"}, f"{where}.spec.ordinals").get("start") or 0)
    policy = spec.get("podManagementPolicy", "OrderedReady")
    require(policy in ("OrderedReady", "Parallel"), f"{where}: podManagementPolicy {policy!r}")
    strategy = only(spec.get("updateStrategy") or {"type": "RollingUpdate"}, {"type", "rollingUpdate"}, f"{where}.spec.updateStrategy")
    strategy_type = strategy.get("type", "RollingUpdate")
    require(strategy_type in ("RollingUpdate", "OnDelete"), f"{where}: updateStrategy.type {strategy_type!r}")
    rolling = only(strategy.get("rollingUpdate") or {}, {"partition", "maxUnavailable"}, f"{where}.spec.updateStrategy.rollingUpdate")
    # maxUnavailable > 1 would let several pods update at once; this loop updates one at a
    # time, which is what maxUnavailable 1 (and the default) means.
    require(rolling.get("maxUnavailable") in (None, 1, "1"), f"{where}: rollingUpdate.maxUnavailable other than 1 is not honoured here")
    retention = only(
        spec.get("persistentVolumeClaimRetentionPolicy") or {}, {"whenDeleted", "whenScaled"}, f"{where}.spec.persistentVolumeClaimRetentionPolicy"
    )
    service_name = spec.get("serviceName")
    require(bool(service_name), f"{where}: spec.serviceName is required for stable DNS names")

    template = only(spec["template"], {"metadata", "spec"}, f"{where}.spec.template")
    tmeta = only(template.get("metadata") or {}, {"labels", "annotations"}, f"{where}.spec.template.metadata")
    labels = dict(tmeta.get("labels") or {})
    require(_labels_match(spec["selector"], labels, where), f"{where}: the selector does not match the pod template labels (the API server would reject it)")

    headless = find_object(documents, "Service", service_name, namespace)
    require(headless is not None, f"{where}: its governing Service {service_name!r} is not rendered, so the pods would get no DNS names")
    require(headless["spec"].get("clusterIP") == "None", f"Service {service_name}: the governing Service must be headless (clusterIP: None)")
    require(_labels_match({"matchLabels": headless["spec"].get("selector") or {}}, labels, f"Service {service_name}"), f"Service {service_name}: its selector does not select the pods")
    client_services = [
        d
        for d in documents
        if d.get("kind") == "Service"
        and d is not headless
        and not is_hook(d)
        and _labels_match({"matchLabels": d["spec"].get("selector") or {}}, labels, "Service")
    ]

    claim_templates: dict[str, dict] = {}
    for i, ct in enumerate(spec.get("volumeClaimTemplates") or []):
        w = f"{where}.spec.volumeClaimTemplates[{i}]"
        only(ct, {"apiVersion", "kind", "metadata", "spec"}, w)
        only(ct["metadata"], {"name", "labels", "annotations"}, f"{w}.metadata")
        cspec = only(ct["spec"], {"accessModes", "resources", "storageClassName", "volumeMode"}, f"{w}.spec")
        require(cspec.get("volumeMode", "Filesystem") == "Filesystem", f"{w}: only volumeMode Filesystem")
        require(set(cspec.get("accessModes") or ["ReadWriteOnce"]) <= {"ReadWriteOnce", "ReadWriteOncePod"}, f"{w}: accessModes {cspec.get('accessModes')}: one pod per claim is what a named volume mounted by one container gives")
        only(cspec.get("resources") or {}, {"requests"}, f"{w}.spec.resources")
        claim_templates[ct["metadata"]["name"]] = ct

    pod_template = PodTemplate(
        documents=documents,
        sts_name=name,
        namespace=namespace,
        service_name=service_name,
        labels=labels,
        annotations=tmeta.get("annotations") or {},
        spec=template["spec"],
        claim_templates=claim_templates,
        revision=hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()[:10],
        cluster_domain=_cluster_domain(template["spec"]),
    )
    pods = [derive_pod(pod_template, ordinal) for ordinal in range(ordinal_start, ordinal_start + replicas)]
    return StatefulSetPlan(
        name=name,
        namespace=namespace,
        replicas=replicas,
        ordinal_start=ordinal_start,
        service_name=service_name,
        pod_management_policy=policy,
        update_strategy=strategy_type,
        partition=int(rolling.get("partition") or 0),
        min_ready_seconds=int(spec.get("minReadySeconds") or 0),
        retention_when_scaled=retention.get("whenScaled", "Retain"),
        retention_when_deleted=retention.get("whenDeleted", "Retain"),
        claim_templates=claim_templates,
        pods=pods,
        headless_service=headless,
        client_services=client_services,
        documents=documents,
        helm_command=helm_command or [],
    )


def _cluster_domain(pod_spec: dict) -> str:
    """The cluster domain the chart was rendered for (APP_CLUSTER_DOMAIN of the pod
    template), cluster.local when the chart does not say."""
    for c in pod_spec.get("containers") or []:
        for e in c.get("env") or []:
            if e.get("name") == "APP_CLUSTER_DOMAIN" and "value" in e:
                return str(e["value"])
    return "cluster.local"
