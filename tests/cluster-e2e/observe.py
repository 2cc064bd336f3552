"""Reading the cluster's state: pods, claims, revisions, counts, and the traffic summary."""

from __future__ import annotations

import json
import re

from kube import CommandFailed, Kube

# `app-rust load` prints a header, then one "  <pod>  <count>" line per pod that answered.
LOAD_HEADER = re.compile(r"^(\d+) requests to (\S+) .*: (\d+) answered 2xx, (\d+) failed", re.M)
LOAD_POD = re.compile(r"^ {2}(\S+) +(\d+)$", re.M)


def parse_load(output: str) -> tuple[int, int, int, dict[str, int]]:
    """(sent, answered 2xx, failed, {pod: answers}) from `app-rust load`'s output."""
    header = LOAD_HEADER.search(output)
    if not header:
        raise ValueError(f"no `app-rust load` summary in: {output[-500:]!r}")
    sent, ok, failed = int(header[1]), int(header[3]), int(header[4])
    return sent, ok, failed, {pod: int(n) for pod, n in LOAD_POD.findall(output[header.end():])}


def pod_ready(pod: dict | None) -> tuple[bool, str]:
    """Whether the pod is Running, Ready and not being deleted, with a one-line reason."""
    if pod is None:
        return False, "no such pod"
    status = pod.get("status", {})
    if pod["metadata"].get("deletionTimestamp"):
        return False, "terminating"
    ready = any(c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions", []))
    waiting = [c["state"]["waiting"].get("reason", "") for c in status.get("containerStatuses", [])
               if "waiting" in c.get("state", {})]
    detail = f"phase {status.get('phase')}, ready {ready}" + (f", waiting: {', '.join(waiting)}" if waiting else "")
    return status.get("phase") == "Running" and ready, detail


def pods_ready(kube: Kube, names: list[str]) -> tuple[bool, str]:
    states = {n: pod_ready(kube.get_json("pod", n)) for n in names}
    return all(ok for ok, _ in states.values()), "; ".join(f"{n}: {d}" for n, (_, d) in states.items())


def claim_phase(kube: Kube, name: str) -> str:
    pvc = kube.get_json("pvc", name)
    return "absent" if pvc is None else pvc.get("status", {}).get("phase", "unknown")


def visits_on_disk(kube: Kube, pod: str) -> int:
    """The count in the pod's `visits` file, read the way the lab reads it."""
    r = kube.kubectl("exec", f"pod/{pod}", "-c", "app-rust", "--", "cat", "/app/data/visits")
    text = r.stdout.strip()
    if not text.isdigit():
        raise CommandFailed(r)
    return int(text)


def via_pod_proxy(kube: Kube, pod: str, port: int, path: str) -> str:
    """GET path from the pod through the API server's pod proxy: no client in the image needed."""
    return kube.kubectl("get", "--raw", f"/api/v1/namespaces/{kube.namespace}/pods/{pod}:{port}/proxy{path}",
                        namespaced=False).stdout


def cluster_view(kube: Kube, pod: str, port: int) -> dict:
    body = via_pod_proxy(kube, pod, port, "/visits?scope=cluster")
    try:
        return json.loads(body)
    except json.JSONDecodeError:
        raise AssertionError(f"the cluster view of {pod} is not JSON: {body[:300]!r}") from None


def revisions(kube: Kube, sts: str, pods: list[str]) -> tuple[str, str, dict[str, str]]:
    """(currentRevision, updateRevision, {pod: its controller-revision-hash})."""
    status = (kube.get_json("statefulset", sts) or {}).get("status", {})
    labels = {p: (kube.get_json("pod", p) or {"metadata": {}})["metadata"].get("labels", {}) for p in pods}
    return (status.get("currentRevision", ""), status.get("updateRevision", ""),
            {p: lab.get("controller-revision-hash", "") for p, lab in labels.items()})
