"""The suite's steps, in order. Each asserts what Kubernetes, kubectl and Helm document, prints
and records the real output it checked, and names the objects to diagnose if it fails."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from kube import Kube
from observe import (claim_phase, cluster_view, parse_load, pod_ready, pods_ready, revisions,
                     via_pod_proxy, visits_on_disk)
from report import Report
from waiting import wait_for

RELEASE = "app-rust"  # the chart's fullname is the release name when it contains "app-rust"
REPLICAS = 3  # the chart's default
PORT = 8080  # containerPorts.http and service.port defaults (docs/CONTRACT.md)


class StepFailed(AssertionError):
    pass


def expect(condition: bool, message: str) -> None:
    if not condition:
        raise StepFailed(message)


@dataclass
class Session:
    kube: Kube
    report: Report
    chart: Path
    image_args: list[str]
    timeout: int
    requests: int
    # What each pod's `visits` file must hold: every visit this suite made, by pod.
    ledger: dict[str, int] = field(default_factory=dict)
    # The objects a failure is about, for the diagnosis.
    subjects: list[str] = field(default_factory=list)

    def pods(self, replicas: int = REPLICAS) -> list[str]:
        return [f"{RELEASE}-{n}" for n in range(replicas)]

    def wait(self, what: str, check, interval: float = 2.0) -> str:
        detail = wait_for(what, check, self.timeout, interval)
        self.report.note(f"Waited for {what}: {detail}.")
        return detail

    def helm(self, *args: str) -> None:
        """A helm command bounded by the step timeout, Helm's own and the process's."""
        self.kube.helm(*args, "--timeout", f"{self.timeout}s", timeout=self.timeout + 60)

    def helm_install(self) -> None:
        self.helm("install", RELEASE, str(self.chart), *self.image_args, "--wait")

    def helm_upgrade(self, *sets: str) -> None:
        self.helm("upgrade", RELEASE, str(self.chart), "--reuse-values", *(a for v in sets for a in ("--set", v)))

    def expect_rollout_complete(self, updated: int) -> None:
        # kubectl's StatefulSet status viewer (kubectl/pkg/polymorphichelpers/rollout_status.go)
        # waits for every pod to be ready and every pod at or above the partition to be updated,
        # then prints "partitioned roll out complete: N new pods have been updated...". The API
        # server defaults rollingUpdate.partition to 0, so a full rollout prints the same line.
        r = self.kube.kubectl("rollout", "status", f"statefulset/{RELEASE}", f"--timeout={self.timeout}s",
                              timeout=self.timeout + 30)
        expect(f"partitioned roll out complete: {updated} new pods have been updated" in r.stdout,
               f"unexpected rollout status: {r.stdout}")

    def counts_on_disk(self, replicas: int = REPLICAS) -> dict[str, int]:
        counts = {p: visits_on_disk(self.kube, p) for p in self.pods(replicas)}
        self.report.note(counts_table(counts))
        return counts

    def expect_counts_match_ledger(self, replicas: int = REPLICAS) -> dict[str, int]:
        counts = self.counts_on_disk(replicas)
        want = {p: self.ledger.get(p, 0) for p in self.pods(replicas)}
        expect(counts == want, f"the counts on disk {counts} are not the visits made {want}")
        return counts


def gone(kube: Kube, pods: list[str]) -> tuple[bool, str]:
    left = [p for p in pods if kube.get_json("pod", p) is not None]
    return not left, f"still there: {', '.join(left)}" if left else "all gone"


def counts_table(counts: dict[str, int]) -> str:
    rows = [f"| {pod} | {n} |" for pod, n in counts.items()]
    return "\n".join(["| pod | `cat /app/data/visits` |", "| --- | --- |", *rows, f"| **sum** | **{sum(counts.values())}** |"])


def install(s: Session) -> None:
    s.subjects = ["statefulset/app-rust", *(f"pod/{p}" for p in s.pods())]
    # `helm install --wait` returns once the pre-install hook Job succeeded, the StatefulSet's
    # pods are ready and the post-install hook Job succeeded; any failed hook fails the install.
    s.helm_install()
    status = s.kube.helm("status", RELEASE, "-o", "json")
    expect('"status":"deployed"' in status.stdout.replace(" ", ""), "helm status is not deployed")
    for pod in s.pods():
        ok, detail = pod_ready(s.kube.get_json("pod", pod))
        expect(ok, f"{pod} is not Running and Ready after helm install --wait: {detail}")
    claims = {f"data-{p}": claim_phase(s.kube, f"data-{p}") for p in s.pods()}
    expect(all(ph == "Bound" for ph in claims.values()), f"claims not Bound: {claims}")
    headless = s.kube.get_json("service", f"{RELEASE}-headless") or {}
    expect(headless.get("spec", {}).get("clusterIP") == "None", "the headless Service app-rust-headless is missing")
    expect(s.kube.get_json("service", RELEASE) is not None, "the client Service app-rust is missing")
    s.kube.kubectl("get", "po,sts,svc,pvc", "-o", "wide")
    s.ledger = {p: 0 for p in s.pods()}
    s.expect_counts_match_ledger()


def traffic(s: Session) -> None:
    image = s.kube.get_json("statefulset", RELEASE)["spec"]["template"]["spec"]["containers"][0]
    s.subjects = ["pod/cluster-e2e-load", "service/app-rust", "endpointslices"]
    # A pod inside the cluster, a new connection per request to the Service's virtual IP: the
    # way kube-proxy balances (kubectl port-forward to a Service would pin one pod).
    s.kube.kubectl("run", "cluster-e2e-load", f"--image={image['image']}",
                   f"--image-pull-policy={image.get('imagePullPolicy', 'IfNotPresent')}", "--restart=Never",
                   "--labels=app.kubernetes.io/part-of=app-rust-cluster-e2e",
                   "--", "load", f"http://{RELEASE}:{PORT}/", "--requests", str(s.requests),
                   "--deadline-ms", str(s.timeout * 1000 // 2))

    def finished():
        pod = s.kube.get_json("pod", "cluster-e2e-load") or {}
        phase = pod.get("status", {}).get("phase", "absent")
        return phase in ("Succeeded", "Failed"), phase

    phase = s.wait("the load pod to finish", finished)
    out = s.kube.kubectl("logs", "pod/cluster-e2e-load").stdout
    s.kube.kubectl("delete", "pod", "cluster-e2e-load", "--wait=false")
    sent, ok, failed, by_pod = parse_load(out)
    expect(phase == "Succeeded" and failed == 0 and ok == sent == s.requests,
           f"not every request got a 2xx: {ok} of {sent} ({phase})")
    expect(len([n for n in by_pod.values() if n > 0]) >= 2, f"the Service sent every visit to one pod: {by_pod}")
    expect(sum(by_pod.values()) == s.requests, f"the pods' answers {by_pod} do not add up to {s.requests}")
    for pod, n in by_pod.items():
        s.ledger[pod] = s.ledger.get(pod, 0) + n
    s.subjects = [f"pod/{p}" for p in s.pods()]
    counts = s.expect_counts_match_ledger()
    expect(sum(counts.values()) == s.requests, f"the files hold {sum(counts.values())} visits, {s.requests} were sent")


def cluster_view_step(s: Session) -> None:
    # Each replica finds its peers through the headless Service's DNS names (CoreDNS), asks
    # each for its count and adds them up.
    for pod in s.pods():
        view = cluster_view(s.kube, pod, PORT)
        s.report.note(f"`{pod}` answers: total {view.get('total')}, complete {view.get('complete')}, "
                      f"pods {view.get('pods')}, unreachable {view.get('unreachable')}")
        expect(view.get("complete") is True, f"{pod}'s cluster view is incomplete: {view}")
        expect(view.get("total") == sum(s.ledger.values()), f"{pod}'s cluster view total {view.get('total')} "
               f"is not the sum of the files {sum(s.ledger.values())}")
        expect(sorted(p["pod"] for p in view.get("pods", [])) == s.pods(), f"{pod}'s view lists {view.get('pods')}")


def delete_pod(s: Session) -> None:
    victim = f"{RELEASE}-1"
    s.subjects = [f"pod/{victim}", "statefulset/app-rust"]
    old_uid = s.kube.get_json("pod", victim)["metadata"]["uid"]
    s.kube.kubectl("delete", "pod", victim, "--timeout", f"{s.timeout}s", timeout=s.timeout + 30)

    def replaced():
        pod = s.kube.get_json("pod", victim)
        if pod is None or pod["metadata"]["uid"] == old_uid:
            return False, "the old pod is still there" if pod else "no pod yet"
        return pod_ready(pod)

    s.wait(f"a new {victim} (same name, new UID) to be Ready", replaced)
    s.kube.kubectl("get", "pod", victim, "-o", "custom-columns=NAME:.metadata.name,UID:.metadata.uid,READY:.status.containerStatuses[0].ready")
    s.expect_counts_match_ledger()


def scale(s: Session) -> None:
    last = f"{RELEASE}-{REPLICAS - 1}"
    s.subjects = [f"statefulset/{RELEASE}", f"pvc/data-{last}", f"pod/{last}"]
    s.kube.kubectl("scale", f"statefulset/{RELEASE}", f"--replicas={REPLICAS - 1}")
    s.wait(f"{last} to be gone", lambda: gone(s.kube, [last]))
    # whenScaled: Retain (the chart's default) keeps the claim of a removed ordinal.
    phase = claim_phase(s.kube, f"data-{last}")
    expect(phase == "Bound", f"data-{last} is {phase} after the scale-down; whenScaled Retain keeps it")
    s.kube.kubectl("get", "po,pvc")
    s.kube.kubectl("scale", f"statefulset/{RELEASE}", f"--replicas={REPLICAS}")
    s.wait(f"{last} to be back and Ready", lambda: pods_ready(s.kube, [last]))
    s.expect_counts_match_ledger()


def canary(s: Session) -> None:
    s.subjects = [f"statefulset/{RELEASE}", *(f"pod/{p}" for p in s.pods())]
    greeting = f"Canary {int(time.time())}"
    last = REPLICAS - 1
    s.helm_upgrade(f"config.greeting={greeting}", f"updateStrategy.rollingUpdate.partition={last}")
    s.expect_rollout_complete(REPLICAS - last)
    s.wait("the canary to be Ready", lambda: pods_ready(s.kube, s.pods()))
    current, update, by_pod = revisions(s.kube, RELEASE, s.pods())
    s.report.note(f"currentRevision {current}, updateRevision {update}, pods: {by_pod}")
    expect(current != update, "the upgrade made no new revision")
    expect(by_pod[f"{RELEASE}-{last}"] == update, f"{RELEASE}-{last} is not on the new revision {update}")
    expect(all(by_pod[p] == current for p in s.pods()[:last]), f"a pod below the partition moved: {by_pod}")
    expect_greetings(s, greeting, {p: p == f"{RELEASE}-{last}" for p in s.pods()})
    s.helm_upgrade("updateStrategy.rollingUpdate.partition=0")
    s.expect_rollout_complete(REPLICAS)
    s.wait("every pod to be Ready", lambda: pods_ready(s.kube, s.pods()))
    _, update, by_pod = revisions(s.kube, RELEASE, s.pods())
    expect(set(by_pod.values()) == {update}, f"not every pod is on {update}: {by_pod}")
    expect_greetings(s, greeting, {p: True for p in s.pods()})
    s.expect_counts_match_ledger()


def expect_greetings(s: Session, greeting: str, shows: dict[str, bool]) -> None:
    """GET / from each pod (each a visit, added to the ledger): the page shows the new greeting
    exactly on the pods that should run the new revision."""
    for pod, expected in shows.items():
        page = via_pod_proxy(s.kube, pod, PORT, "/")
        s.ledger[pod] = s.ledger.get(pod, 0) + 1
        shown = greeting in page
        s.report.note(f"`{pod}` shows the new greeting: {shown}")
        expect(shown == expected, f"{pod} shows the new greeting: {shown}, expected {expected}")


def helm_test(s: Session) -> None:
    s.subjects = [f"pod/{RELEASE}-test"]
    s.helm("test", RELEASE, "--logs")


def uninstall_keeps_claims(s: Session) -> None:
    s.subjects = [*(f"pvc/data-{p}" for p in s.pods())]
    before = s.counts_on_disk()
    s.helm("uninstall", RELEASE, "--wait")
    s.wait("the pods to be gone", lambda: gone(s.kube, s.pods()))
    claims = {f"data-{p}": claim_phase(s.kube, f"data-{p}") for p in s.pods()}
    s.kube.kubectl("get", "pvc")
    # whenDeleted: Retain (the chart's default): deleting the StatefulSet leaves its claims.
    expect(all(ph == "Bound" for ph in claims.values()), f"claims after helm uninstall: {claims}")
    s.helm_install()
    after = s.expect_counts_match_ledger()
    expect(after == before, f"the reinstall found {after}, the uninstall left {before}")


STEPS = [
    ("helm install --wait with the chart's defaults", install),
    ("Traffic through the Service from inside the cluster", traffic),
    ("The cluster view over the headless Service's DNS names", cluster_view_step),
    ("A deleted pod comes back with its name and its count", delete_pod),
    ("Scale 3 → 2 → 3 keeps the claim of ordinal 2", scale),
    ("A partition canary, then the full rollout", canary),
    ("helm test", helm_test),
    ("helm uninstall keeps the claims; a reinstall finds every count", uninstall_keeps_claims),
]
