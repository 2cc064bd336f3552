"""The podman replica run: the chart's StatefulSet pods, run for real with the real image.

The tests run in file order on one set of pods (fixtures in conftest.py). How the pods are
derived from `helm template` and run is in replicas.py; every name below (pods, claims,
probe paths, config) comes from the rendered chart, not from this file.

Cluster view: the pods find each other through real DNS. Each container has network aliases
`<pod>.<headless svc>.<ns>.svc.cluster.local` and `<headless svc>.<ns>.svc.cluster.local` on
a podman network with DNS (dnsname/aardvark), and the app looks up the members of the set as
the headless Service's addresses, from the chart's env (APP_PEER_SERVICE, POD_NAMESPACE,
POD_IP, APP_CLUSTER_DOMAIN). No APP_PEERS is given; nothing in the env depends on the
replica count. (podman's DNS drops a stopped container's names; Kubernetes keeps a crashed
pod's address in a publishNotReadyAddresses Service until the pod is deleted.)
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.error
import urllib.request

import pytest

import replicas
from replicas import Unsupported

# Visits sent through the round-robin client, per ordinal: deterministic and all different
# (a Service's kube-proxy spreads them at random; a fixed plan lets the test assert exact counts).
VISIT_PLAN = {0: 5, 1: 7, 2: 4}


def send_visits(run: replicas.ReplicaRun, plan: dict[int, int], ledger: dict) -> list[tuple[str, int]]:
    """A client that round-robins over the ready pods like a Service, skipping a pod once it
    has had its share. The first visit to each pod asks for HTML, the others for JSON.
    Returns (served-by, visits) per request."""
    left = dict(plan)
    seen = []
    while any(left.values()):
        for ordinal in sorted(left):
            if not left[ordinal]:
                continue
            left[ordinal] -= 1
            name = run.pods[ordinal].spec.name
            first = ordinal not in ledger["html"]
            status, headers, body = run.get(ordinal, "/", accept_json=not first)
            assert status == 200, f"GET / on {name}: HTTP {status} {body[:200]!r}"
            assert headers.get("x-served-by") == name
            ledger["sent"][ordinal] = ledger["sent"].get(ordinal, 0) + 1
            if first:
                ledger["html"][ordinal] = body.decode()
                seen.append((name, -1))
            else:
                page = json.loads(body)
                ledger["json"].setdefault(ordinal, page)
                assert page["pod"] == name
                # Acknowledged only once durable: the answer carries this visit's count.
                assert page["visits"] == ledger["sent"][ordinal], f"{name}: answer {page['visits']} after {ledger['sent'][ordinal]} visits"
                seen.append((name, page["visits"]))
    return seen


def file_counts(run: replicas.ReplicaRun) -> dict[int, int]:
    counts = {}
    for ordinal in run.pods:
        text = run.visits_file(ordinal)
        assert re.fullmatch(r"\d+\n", text), f"{run.pods[ordinal].spec.name}: visits file {text!r} is not 'N\\n'"
        counts[ordinal] = int(text)
    return counts


# ---- the derivation (no containers) ------------------------------------------------------


def test_derived_pods_follow_the_controller_naming(plan):
    assert [p.name for p in plan.pods] == [f"{plan.name}-{i}" for i in range(plan.replicas)]
    for pod in plan.pods:
        env = dict(pod.env)
        assert env["POD_NAME"] == pod.name and env["POD_NAMESPACE"] == plan.namespace
        assert [pod.claim_name(m) for m in pod.mounts if m.kind == "claim"] == [f"data-{pod.name}"]
        assert pod.dns_names[0] == f"{pod.name}.{plan.service_name}.{plan.namespace}.svc.cluster.local"
    assert plan.pod_management_policy == "Parallel"


def test_ordinals_start_shifts_names_and_claims(renderer):
    shifted = replicas.render_plan("app-rust", "default", [replicas.ROOT / "tests/e2e/values.yaml"], ["ordinals.start=5", "replicaCount=2"])
    assert [p.name for p in shifted.pods] == ["app-rust-5", "app-rust-6"]
    assert shifted.pods[1].claim_name(shifted.pods[1].mounts[0]) == "data-app-rust-6"


@pytest.mark.parametrize(
    "set_json, field",
    [
        ('extraVolumes=[{"name":"host","hostPath":{"path":"/"}}]', "hostPath"),
        ('nodeSelector={"disk":"ssd"}', "nodeSelector"),
        ('affinity={"podAntiAffinity":{"requiredDuringSchedulingIgnoredDuringExecution":[{"topologyKey":"kubernetes.io/hostname","labelSelector":{"matchLabels":{"app.kubernetes.io/name":"app-rust"}}}]}}', "requiredDuringScheduling"),
        ('lifecycle={"preStop":{"exec":{"command":["/bin/cat","/dev/null"]}}}', "lifecycle"),
        ('extraEnv=[{"name":"NODE","valueFrom":{"fieldRef":{"fieldPath":"spec.nodeName"}}}]', "spec.nodeName"),
    ],
)
def test_a_field_the_run_cannot_honour_fails_loudly(set_json, field):
    cmd, docs = replicas.helm_template("app-rust", "default", [replicas.ROOT / "tests/e2e/values.yaml"], set_json=[set_json])
    with pytest.raises(Unsupported, match=re.escape(field)):
        replicas.derive(docs, cmd)


# ---- the running pods ---------------------------------------------------------------------


def test_1_every_pod_becomes_ready_through_the_rendered_readiness_probe(run, plan):
    rendered = next(d for d in plan.documents if d.get("kind") == "StatefulSet")
    container = rendered["spec"]["template"]["spec"]["containers"][0]
    readiness = container["readinessProbe"]["httpGet"]
    port = next(p["containerPort"] for p in container["ports"] if p["name"] == readiness["port"])
    assert sorted(run.pods) == list(plan.ordinals)
    for ordinal, pod in run.pods.items():
        assert pod.ready_at is not None, f"{pod.spec.name} never became ready"
        ok = [r for r in run.probe_log if r.pod == pod.spec.name and r.kind == "readiness" and r.ok]
        assert ok, f"no successful readiness probe for {pod.spec.name}"
        assert ok[0].url == f"GET {readiness['path']} port {readiness['port']} -> {port}"
        # The pod identity the chart gives it.
        assert run.exec(ordinal, "cat", "/etc/hostname").stdout.strip() == pod.spec.name
        environ = run.exec(ordinal, "cat", "/proc/1/environ").stdout.split("\0")
        assert f"POD_NAME={pod.spec.name}" in environ
        status, headers, _ = run.get(ordinal, readiness["path"])
        assert status == 200 and headers.get("x-served-by") == pod.spec.name


def test_2_visits_spread_over_the_replicas_and_each_pod_counts_its_own(run, ledger):
    send_visits(run, VISIT_PLAN, ledger)
    counts = file_counts(run)  # podman exec <pod> cat /app/data/visits
    assert counts == VISIT_PLAN
    assert len(set(counts.values())) == len(counts), "every pod should hold a different count"
    assert sum(counts.values()) == sum(VISIT_PLAN.values()) == sum(ledger["sent"].values())
    for ordinal, count in counts.items():
        status, headers, body = run.get(ordinal, "/visits")
        assert (status, body) == (200, f"{count}\n".encode())


def test_3_the_configmap_and_secret_took_effect(run, plan, ledger):
    configmap = next(d for d in plan.documents if d.get("kind") == "ConfigMap" and d["metadata"]["name"] == plan.name)
    config = json.loads(configmap["data"]["config.json"])
    assert config["greeting"] == "Hello from the podman replica run" and config["timezone"] == "Asia/Tokyo"
    for ordinal in run.pods:
        html = ledger["html"][ordinal]
        assert config["greeting"] in html, "the ConfigMap's greeting is not on the page"
        assert config["timezone"] in html
        page = ledger["json"][ordinal]
        assert page["timezone"] == "Asia/Tokyo" and page["utcOffset"] == "+09:00"
        assert run.exec(ordinal, "cat", "/etc/app-rust/config.json").stdout == configmap["data"]["config.json"]
        environ = run.exec(ordinal, "cat", "/proc/1/environ").stdout.split("\0")
        assert "E2E_SECRET_MARKER=from-the-chart-secret" in environ


def test_4_the_process_runs_as_the_charts_non_root_user_on_a_read_only_rootfs(run, plan):
    pod_sc = next(d for d in plan.documents if d.get("kind") == "StatefulSet")["spec"]["template"]["spec"]["securityContext"]
    uid, gid, fs_group = pod_sc["runAsUser"], pod_sc["runAsGroup"], pod_sc["fsGroup"]
    assert uid != 0
    for ordinal, pod in run.pods.items():
        status = dict(line.split(":", 1) for line in run.exec(ordinal, "cat", "/proc/1/status").stdout.splitlines())
        assert status["Uid"].split() == [str(uid)] * 4, status["Uid"]
        assert status["Gid"].split() == [str(gid)] * 4, status["Gid"]
        assert str(fs_group) in status["Groups"].split()
        assert int(status["CapEff"].strip(), 16) == 0, "capabilities were not all dropped"
        assert status["NoNewPrivs"].strip() == "1"
        assert status["Seccomp"].strip() == "2", "no seccomp filter (RuntimeDefault)"
        write = run.exec(ordinal, "/bin/busybox", "touch", "/written-by-e2e", check=False)
        assert write.returncode != 0 and "Read-only file system" in write.stderr, write
        # The claim is writable by that user (fsGroup), the config mount is not.
        config_write = run.exec(ordinal, "/bin/busybox", "touch", "/etc/app-rust/x", check=False)
        assert config_write.returncode != 0
        assert run.exec(ordinal, "/bin/busybox", "stat", "-c", "%u", "/app/data/visits").stdout.strip() == str(uid)


def test_5_deleting_pod_1_keeps_its_count_on_its_claim(run, ledger):
    before = file_counts(run)
    old_container_id = replicas.podman("inspect", "--format", "{{.Id}}", run.pods[1].container).stdout.strip()
    run.delete_pod(1)  # kubectl delete pod app-rust-1: the controller recreates it
    new_container_id = replicas.podman("inspect", "--format", "{{.Id}}", run.pods[1].container).stdout.strip()
    assert new_container_id != old_container_id
    assert file_counts(run) == before
    send_visits(run, {1: 1}, ledger)
    assert file_counts(run)[1] == before[1] + 1


def test_5b_a_pod_deleted_under_steady_visits_serves_them_all_during_its_shutdown_delay(run, ledger):
    """Replica run (podman), not Kubernetes: `kubectl delete pod app-rust-1` while a client
    keeps sending visits to that pod, a new connection each, as kube-proxy keeps doing until it
    learns that the endpoint is terminating. With the chart's config.shutdownDelayMs the pod
    stays reachable (not ready) for the delay after SIGTERM: every one of those visits is served
    and counted."""
    pod = run.pods[1]
    config = json.loads(replicas.podman("exec", pod.container, "cat", "/etc/app-rust-revision/config.json").stdout)
    delay = config["shutdownDelayMs"] / 1000
    assert delay >= 2, f"the chart's shutdown delay is {delay}s"
    before = file_counts(run)[1]
    url, outcomes, stop = pod.url("/"), [], threading.Event()

    def visit_steadily():
        while not stop.is_set():
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    response.read()
                    outcomes.append(response.status)
            except (OSError, urllib.error.URLError) as error:
                outcomes.append(repr(error))
            time.sleep(0.02)

    visitor = threading.Thread(target=visit_steadily)
    visitor.start()
    time.sleep(0.3)
    deleter = threading.Thread(target=run.delete_pod, args=(1,))
    deleter.start()
    # Stop sending a little before the delay ends: later visits may meet the closed listener,
    # which is what a client of a pod past its delay would see.
    time.sleep(delay - 0.5)
    stop.set()
    visitor.join()
    deleter.join()
    failed = [o for o in outcomes if o != 200]
    assert len(outcomes) > 50 and not failed, f"{len(failed)} of {len(outcomes)} visits failed: {failed[:3]}"
    ledger["sent"][1] = ledger["sent"].get(1, 0) + len(outcomes)
    assert file_counts(run)[1] == before + len(outcomes), "every visit served during the delay is on the claim"


def started_at(run: replicas.ReplicaRun, ordinal: int) -> tuple[str, str]:
    """The container's id and start time: both change when a pod is replaced or restarted."""
    out = replicas.podman("inspect", "--format", "{{.Id}} {{.State.StartedAt}}", run.pods[ordinal].container).stdout
    container_id, started = out.strip().split(" ", 1)
    return container_id, started


def members_seen(run: replicas.ReplicaRun, ordinal: int, expected: list[str], give_up_s: float = 10) -> dict:
    """The cluster view from `ordinal` once it lists exactly `expected` (DNS answers about a
    pod that just went or came may lag a few seconds, in Kubernetes too)."""
    give_up = time.monotonic() + give_up_s
    while True:
        view, _ = cluster_view(run, ordinal)
        if sorted(p["pod"] for p in view["pods"]) == sorted(expected) or time.monotonic() > give_up:
            return view
        time.sleep(0.25)


def test_6_scaling_3_to_2_to_4_restarts_no_replica_and_the_view_follows(run, renderer, ledger):
    before = file_counts(run)
    names = {o: p.spec.name for o, p in run.pods.items()}
    untouched = {o: started_at(run, o) for o in (0, 1)}
    revision = run.pods[0].spec.revision
    claim = run.volume_name(f"data-{run.plan.name}-2")

    run.scale(renderer, 2)
    assert sorted(run.pods) == [0, 1]
    assert replicas.podman("volume", "exists", claim, check=False).returncode == 0, "whenScaled: Retain must keep the claim"
    assert {o: started_at(run, o) for o in (0, 1)} == untouched, "scaling down restarted a remaining replica"
    view = members_seen(run, 0, [names[0], names[1]])
    assert (view["complete"], view["unreachable"]) == (True, []), view
    assert {p["pod"]: p["visits"] for p in view["pods"]} == {names[0]: before[0], names[1]: before[1]}

    run.scale(renderer, 4)
    assert sorted(run.pods) == [0, 1, 2, 3]
    assert {o: started_at(run, o) for o in (0, 1)} == untouched, "scaling up restarted a replica"
    assert all(p.spec.revision == revision for p in run.pods.values()), "scaling made a new revision"
    everyone = [p.spec.name for p in run.pods.values()]
    view = members_seen(run, 1, everyone)
    assert view["complete"] is True and sorted(p["pod"] for p in view["pods"]) == sorted(everyone), view
    assert file_counts(run) == {**before, 3: 0}, "app-rust-2 came back with its claim; app-rust-3 is new"

    run.scale(renderer, 3)
    assert {o: started_at(run, o) for o in (0, 1)} == untouched
    assert file_counts(run) == before
    members_seen(run, 0, [p.spec.name for p in run.pods.values()])


def test_6b_backup_and_restore_one_replicas_count(run, renderer):
    """The runbook: back up app-rust-2's count, lose its claim, restore into a new claim."""
    claim = f"data-{run.plan.name}-2"
    backup = run.visits_file(2)  # kubectl exec pod/app-rust-2 -- cat /app/data/visits > backup
    before = file_counts(run)
    run.scale(renderer, 2)
    run.delete_claim(claim)  # kubectl delete pvc data-app-rust-2: the count is gone
    run.create_claim(claim)  # kubectl apply: an empty PVC with the same name
    restored = run.one_off(claim, ["restore", backup.strip()]).stdout
    assert restored == f"restored /app/data/visits: 0 -> {backup.strip()}\n"
    run.scale(renderer, 3)
    assert run.visits_file(2) == backup
    assert file_counts(run) == before


def page_greeting(run: replicas.ReplicaRun, ordinal: int, ledger: dict) -> str:
    """The <h1> of the page (a visit, recorded in the ledger)."""
    status, _, body = run.get(ordinal, "/")
    assert status == 200
    ledger["sent"][ordinal] = ledger["sent"].get(ordinal, 0) + 1
    found = re.search(r"<h1[^>]*>(.*?)</h1>", body.decode(), re.S)
    assert found, "no <h1> on the page"
    return found.group(1)


def test_6c_partition_canary_updates_only_the_ordinals_at_or_above_it(run, plan, ledger):
    """helm upgrade with a new greeting and rollingUpdate.partition=2, then the promotion."""
    canary = replicas.render_plan("app-rust", "default", [replicas.ROOT / "tests/e2e/values.yaml"], ["config.greeting=Hello from the canary", "updateStrategy.rollingUpdate.partition=2"])
    assert canary.partition == 2 and canary.pods[0].revision != plan.pods[0].revision
    before = file_counts(run)
    run.apply(canary)
    assert {o: p.spec.revision for o, p in run.pods.items()} == {0: plan.pods[0].revision, 1: plan.pods[1].revision, 2: canary.pods[2].revision}
    old_greeting = "Hello from the podman replica run"
    assert [page_greeting(run, o, ledger) for o in (0, 1, 2)] == [old_greeting, old_greeting, "Hello from the canary"]
    # An old-revision replica that restarts during the canary comes back at its own revision,
    # with its revision's configuration, though the release's ConfigMap now holds the canary's.
    run.delete_pod(0)
    assert run.pods[0].spec.revision == plan.pods[0].revision
    assert page_greeting(run, 0, ledger) == old_greeting
    assert json.loads(run.exec(0, "cat", "/etc/app-rust-revision/config.json").stdout)["greeting"] == old_greeting
    assert json.loads(run.exec(0, "cat", "/etc/app-rust/config.json").stdout)["greeting"] == "Hello from the canary"
    run.apply(plan)  # roll back the canary (helm rollback / the previous values)
    assert all(p.spec.revision == plan.pods[0].revision for p in run.pods.values())
    assert page_greeting(run, 2, ledger) == old_greeting
    assert file_counts(run) == {o: before[o] + {0: 2, 1: 1, 2: 2}[o] for o in before}


def cluster_view(run: replicas.ReplicaRun, ordinal: int) -> tuple[dict, float]:
    t = time.monotonic()
    status, headers, body = run.get(ordinal, "/visits?scope=cluster", accept_json=True)
    took = time.monotonic() - t
    assert status == 200, f"/visits?scope=cluster on {run.pods[ordinal].spec.name}: HTTP {status} {body[:300]!r}"
    return json.loads(body), took


def test_7_cluster_view_through_the_stable_dns_names(run, ledger):
    # The names resolve for real on the podman network, as the cluster DNS would serve them.
    service = run.plan.service_name
    # (busybox nslookup ignores resolv.conf's search list, so full names here; the app uses
    # full names too.)
    lookup = run.exec(0, "/bin/busybox", "nslookup", f"{run.plan.name}-2.{service}.{run.plan.namespace}.svc.cluster.local")
    assert run.pods[2].ip in lookup.stdout, lookup.stdout
    resolv = run.exec(0, "cat", "/etc/resolv.conf").stdout
    assert f"search {run.plan.namespace}.svc.cluster.local svc.cluster.local cluster.local" in resolv
    assert [line.split()[1] for line in resolv.splitlines() if line.startswith("nameserver")] == [run.dns_server]
    everyone = run.exec(0, "/bin/busybox", "nslookup", f"{service}.{run.plan.namespace}.svc.cluster.local").stdout
    assert all(p.ip in everyone for p in run.pods.values()), everyone

    # The members are looked up through the headless Service, not listed or counted in advance.
    for pod in run.pods.values():
        env = dict(pod.spec.env)
        assert "APP_PEERS" not in env and "APP_REPLICAS" not in env and env["APP_PEER_SERVICE"] == service
        assert pod.spec.pod_ip_env == ["POD_IP"]
        environ = run.exec(pod.spec.ordinal, "cat", "/proc/1/environ").stdout.split("\0")
        assert f"POD_IP={pod.ip}" in environ
    expected = {run.pods[o].spec.name: n for o, n in file_counts(run).items()}
    for ordinal, pod in run.pods.items():
        view, _ = cluster_view(run, ordinal)
        assert view["pod"] == pod.spec.name
        assert view["complete"] is True and view["unreachable"] == []
        assert {p["pod"]: p["visits"] for p in view["pods"]} == expected
        assert len(view["pods"]) == len(expected), "a replica was counted twice"
        assert view["total"] == sum(expected.values()) == sum(ledger["sent"].values())

    deadline_s = json.loads(run.exec(0, "cat", "/etc/app-rust/config.json").stdout)["clusterDeadlineMs"] / 1000
    # A hung replica: still in DNS, the kernel accepts the connection, nothing answers.
    run.pause_pod(2)
    try:
        view, took = cluster_view(run, 0)
        assert view["complete"] is False, view
        port = run.pods[2].spec.ports["http"]
        assert [u["url"] for u in view["unreachable"]] == [f"http://{run.pods[2].ip}:{port}"], view["unreachable"]
        assert view["total"] == sum(v for k, v in expected.items() if not k.endswith("-2"))
        assert took < deadline_s + 0.5, f"answer with a hung peer took {took:.2f}s, deadline {deadline_s}s"
    finally:
        run.unpause_pod(2)

    # A stopped container: podman's DNS drops its address (observed in this podman run; a
    # Kubernetes pod leaves the Service only when it is deleted), so it is no longer a member
    # and the view is complete over the others, as after a scale-down.
    run.stop_pod(2)
    view, took = cluster_view(run, 0)
    survivors = {k: v for k, v in expected.items() if not k.endswith("-2")}
    view = members_seen(run, 0, list(survivors))
    assert (view["complete"], view["unreachable"]) == (True, []), view
    assert {p["pod"]: p["visits"] for p in view["pods"]} == survivors
    assert took < deadline_s + 0.5, f"answer took {took:.2f}s, deadline {deadline_s}s"
    run.start_pod(2)
    # Back to complete once the pod is ready again (the app caches DNS answers for seconds).
    give_up = time.monotonic() + 10
    while True:
        view, _ = cluster_view(run, 1)
        if view["complete"] or time.monotonic() > give_up:
            break
        time.sleep(0.5)
    assert view["complete"] is True and view["total"] == sum(expected.values()), view


def test_8_probes_and_metrics_scrapes_never_counted(run, ledger):
    before = file_counts(run)
    # Let the kubelet-cadence prober probe every running pod at least once more.
    period = max(p.spec.probes["liveness"].period for p in run.pods.values())
    give_up = time.monotonic() + period + 5
    while time.monotonic() < give_up and not all(
        any(r.kind == "liveness" and r.pod == p.spec.name and r.at >= p.ready_at for r in run.probe_log) for p in run.pods.values()
    ):
        time.sleep(0.5)
    background = [r for r in run.probe_log if r.kind == "liveness"]
    for pod in run.pods.values():
        assert any(r.pod == pod.spec.name and r.at >= pod.ready_at for r in background), f"{pod.spec.name} was never liveness-probed"
    for ordinal, pod in run.pods.items():
        for _ in range(10):
            for kind in pod.spec.probes:
                assert run.run_probe(pod, kind).ok
            status, _, body = run.get(ordinal, "/metrics")
            assert status == 200 and b"# " in body
            assert run.get(ordinal, "/visits")[0] == 200
    assert file_counts(run) == before
    # And the kubelet-cadence probes of the whole run did not count either: every count is
    # exactly the visits this test sent.
    assert file_counts(run) == ledger["sent"]
    assert background, "the background liveness prober never ran"
    for pod in run.pods.values():
        failed = [r for r in background if r.pod == pod.spec.name and r.at >= pod.ready_at and not r.ok]
        assert not failed, f"liveness probes of the running {pod.spec.name} failed: {failed}"
    for ordinal in run.pods:
        assert run.restarts(ordinal) == 0


def test_9_helm_uninstall_keeps_the_claims_and_a_reinstall_finds_the_counts(run, plan, ledger):
    before = file_counts(run)
    claims = [run.volume_name(c) for o in plan.ordinals for c in run.claims_of(o)]
    run.uninstall()
    assert run.pods == {}
    assert replicas.podman("ps", "-a", "-q", "--filter", f"label={replicas.INSTANCE_LABEL}={run.prefix}").stdout.strip() == ""
    assert plan.retention_when_deleted == "Retain"
    for claim in claims:
        assert replicas.podman("volume", "exists", claim, check=False).returncode == 0, f"{claim} was deleted"
    run.apply(plan)  # helm install again, same release name
    assert file_counts(run) == before == ledger["sent"]


def test_10_ordered_ready_creates_each_pod_only_after_the_previous_one_is_ready(plan):
    """The other podManagementPolicy, on a separate small set: -0 ready before -1 is created.
    (The harness's controller follows the rendered policy; Parallel is what the chart ships.)"""
    # A 2 s readiness delay: under Parallel app-rust-1 would be created long before
    # app-rust-0 is ready, so the order below tells the two policies apart.
    ordered = replicas.render_plan(
        "app-rust", "default", [replicas.ROOT / "tests/e2e/values.yaml"], ["podManagementPolicy=OrderedReady", "replicaCount=2", "readinessProbe.initialDelaySeconds=2"]
    )
    assert ordered.pod_management_policy == "OrderedReady"
    with replicas.ReplicaRun(instance="ordered") as second:
        second.create_network()
        second.apply(ordered)
        steps = [e.split("s ", 1)[1] for e in second.events if e.split("s ", 1)[1].startswith("pod ")]
        order = [" ".join(step.split()[:3]) for step in steps]
        assert order == ["pod app-rust-0 created", "pod app-rust-0 ready", "pod app-rust-1 created", "pod app-rust-1 ready"], steps
    assert replicas.cleanup_run(second.run_id, second.prefix) == []
