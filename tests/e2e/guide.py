"""Refreshes the captured output in docs/statefulset.md from a real podman replica run.

Usage: tests/e2e/guide.sh   (installs the tools, builds the image, then runs this)

It runs the same story as test_statefulset.py (3 pods, 5/7/4 visits, delete pod 1, scale
3 -> 2 -> 3 without restarts, a canary, DNS, the cluster view, one pod stopped) and replaces every block between
`<!-- captured:NAME -->` and `<!-- /captured:NAME -->` in docs/statefulset.md with the
commands it ran and their real output. The prose around the blocks is edited by hand. The
run checks its own numbers as it goes: a wrong count stops it before the guide is written.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import replicas  # noqa: E402

DOC = replicas.ROOT / "docs" / "statefulset.md"
VALUES = HERE / "values.yaml"
PLAN = {0: 5, 1: 7, 2: 4}


class Capture:
    def __init__(self, run: replicas.ReplicaRun):
        self.run = run
        self.blocks: dict[str, list[str]] = {}

    def add(self, block: str, text: str) -> None:
        self.blocks.setdefault(block, []).append(text.rstrip("\n"))

    def sh(self, block: str, argv: list[str], shown: str | None = None, check: bool = True) -> str:
        """Runs a command and records `$ command` plus its output."""
        proc = subprocess.run(argv, capture_output=True, text=True)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{shlex.join(argv)} failed: {proc.stderr}")
        out = proc.stdout + proc.stderr
        self.add(block, f"$ {shown or shlex.join(argv)}\n{out.rstrip()}")
        return proc.stdout

    def exec_cat(self, block: str, ordinal: int, path: str = "/app/data/visits") -> str:
        c = self.run.pods[ordinal].container
        return self.sh(block, ["podman", "exec", c, "cat", path])

    def http(self, block: str, ordinal: int, path: str, json_accept: bool = True) -> dict:
        pod = self.run.pods[ordinal]
        t = time.monotonic()
        status, headers, body = self.run.get(ordinal, path, accept_json=json_accept)
        took_ms = (time.monotonic() - t) * 1000
        hdr = " -H 'Accept: application/json'" if json_accept else ""
        text = body.decode()
        try:
            text = json.dumps(json.loads(text), indent=2)
        except ValueError:
            pass
        self.add(block, f"$ curl -s{hdr} '{pod.url(path)}'    # {pod.spec.name}: HTTP {status} in {took_ms:.0f} ms, X-Served-By: {headers.get('x-served-by')}\n{text}")
        return json.loads(body) if json_accept else {}


def podman_table(cap: Capture, block: str, what: list[str], columns: list[str]) -> None:
    """`podman <what> --filter label=<this run> --format 'table {{.Col}}...'` into the guide."""
    run = cap.run
    label = f"label={replicas.RUN_LABEL}={run.run_id}"
    fmt = "table " + "\t".join("{{." + c + "}}" for c in columns)
    shown_fmt = "table " + "\\t".join("{{." + c + "}}" for c in columns)
    cap.sh(
        block,
        ["podman", *what, "--filter", label, "--format", fmt],
        shown=f"podman {' '.join(what)} --filter {label} --format '{shown_fmt}'",
    )


def ps(cap: Capture, block: str) -> None:
    podman_table(cap, block, ["ps", "-a"], ["Names", "Status", "Ports"])


def volumes(cap: Capture, block: str) -> None:
    podman_table(cap, block, ["volume", "ls"], ["Name", "Driver", "Mountpoint"])


def visit(run: replicas.ReplicaRun, plan: dict[int, int]) -> list[str]:
    """Round-robin like a Service, skipping a pod once it had its share."""
    left, order = dict(plan), []
    while any(left.values()):
        for ordinal in sorted(left):
            if left[ordinal]:
                left[ordinal] -= 1
                status, headers, _ = run.get(ordinal, "/", accept_json=True)
                assert status == 200
                order.append(headers["x-served-by"])
    return order


def members(cap: Capture, block: str, run: replicas.ReplicaRun, ordinal: int, expected: int) -> dict:
    """The cluster view from `ordinal` once it lists `expected` replicas (a DNS answer about a
    pod that just went or came can lag a moment), recorded in the guide."""
    give_up = time.monotonic() + 10
    while time.monotonic() < give_up:
        _, _, body = run.get(ordinal, "/visits?scope=cluster", accept_json=True)
        if len(json.loads(body)["pods"]) == expected:
            break
        time.sleep(0.25)
    return cap.http(block, ordinal, "/visits?scope=cluster")


def counts(run: replicas.ReplicaRun) -> dict[int, int]:
    return {o: int(run.visits_file(o)) for o in run.pods}


def main() -> None:
    started = time.monotonic()
    render = lambda n=None: replicas.render_plan("app-rust", "default", [VALUES], [] if n is None else [f"replicaCount={n}"])  # noqa: E731
    plan = render()
    with replicas.ReplicaRun(log=lambda line: print(line, file=sys.stderr)) as run:
        cap = Capture(run)
        cmd = ["helm", "template", "app-rust", "charts/app-rust", "--namespace", "default", "-f", "tests/e2e/values.yaml"]
        cap.add("render", f"$ {shlex.join(cmd)}   # Helm {subprocess.run([replicas.helm_binary(), 'version', '--template', '{{.Version}}'], capture_output=True, text=True).stdout}")
        cap.add("render", "rendered: " + ", ".join(f"{d['kind']}/{d['metadata']['name']}" for d in plan.documents if not replicas.is_hook(d)))
        cap.add("render", "hooks and tests (not run by the replica run): " + ", ".join(f"{d['kind']}/{d['metadata']['name']} ({d['metadata']['annotations']['helm.sh/hook']})" for d in plan.documents if replicas.is_hook(d)))
        cap.add("render", f"StatefulSet {plan.name}: replicas {plan.replicas}, serviceName {plan.service_name}, podManagementPolicy {plan.pod_management_policy}, updateStrategy {plan.update_strategy}, claim templates {list(plan.claim_templates)}, retention whenScaled={plan.retention_when_scaled} whenDeleted={plan.retention_when_deleted}")
        run.create_network()
        run.apply(plan)
        args = run.podman_run_args(plan.pod(1), run.pods[1].ip)
        cap.add("podman-run", "$ podman " + " \\\n    ".join(_group(args)))
        cap.add("events-install", "\n".join(run.events))
        ps(cap, "get")
        volumes(cap, "get")

        order = visit(run, PLAN)
        cap.add("visits", f"# {len(order)} visits, round-robin over the ready pods, each pod until it has had its share:\n# " + " ".join(o.rsplit('-', 1)[1] for o in order))
        for o in run.pods:
            cap.exec_cat("visits", o)
        got = counts(run)
        assert got == PLAN, got
        cap.http("page", 0, "/")
        status, _, html = run.get(1, "/")
        assert status == 200
        title = re.search(r"<h1[^>]*>(.*?)</h1>", html.decode(), re.S)
        cap.add("page", f"$ curl -s '{run.pods[1].url('/')}' | grep -o '<h1.*</h1>'\n{title.group(0) if title else '(no <h1>)'}")
        cap.exec_cat("page", 0, "/etc/app-rust/config.json")
        sent = {0: PLAN[0] + 1, 1: PLAN[1] + 1, 2: PLAN[2]}

        cap.sh("security", ["podman", "exec", run.pods[0].container, "cat", "/proc/1/status"], shown=f"podman exec {run.pods[0].container} cat /proc/1/status | grep -E '^(Uid|Gid|Groups|CapEff|NoNewPrivs|Seccomp):'")
        cap.blocks["security"][-1] = "\n".join(
            line for line in cap.blocks["security"][-1].splitlines() if line.startswith("$") or re.match(r"^(Uid|Gid|Groups|CapEff|NoNewPrivs|Seccomp):", line)
        )
        cap.sh("security", ["podman", "exec", run.pods[0].container, "/bin/busybox", "touch", "/x"], check=False)
        cap.add("security", "$ podman inspect --format '{{.HostConfig.ReadonlyRootfs}}' " + run.pods[0].container + "\n" + replicas.podman("inspect", "--format", "{{.HostConfig.ReadonlyRootfs}}", run.pods[0].container).stdout.strip())

        # kubectl delete pod app-rust-1
        mark = len(run.events)
        run.delete_pod(1)
        cap.add("delete", "\n".join(run.events[mark:]))
        cap.exec_cat("delete", 1)
        assert counts(run)[1] == sent[1]

        survivors = [run.pods[o].container for o in (0, 1)]
        start_times = ["podman", "inspect", "--format", "{{.Name}} started {{.State.StartedAt}}", *survivors]
        before = cap.sh("scale-down", start_times)
        mark = len(run.events)
        run.scale(render, 2)
        cap.add("scale-down", "# helm upgrade --reuse-values --set replicaCount=2   (or: kubectl scale sts/app-rust --replicas=2)\n" + "\n".join(run.events[mark:]))
        assert cap.sh("scale-down", start_times) == before, "scaling down restarted a replica"
        ps(cap, "scale-down")
        volumes(cap, "scale-down")
        view = members(cap, "scale-down", run, 0, 2)
        assert view["complete"] is True, view
        mark = len(run.events)
        run.scale(render, 3)
        cap.add("scale-up", "# helm upgrade --reuse-values --set replicaCount=3\n" + "\n".join(run.events[mark:]))
        assert cap.sh("scale-up", start_times) == before, "scaling up restarted a replica"
        cap.exec_cat("scale-up", 2)
        view = members(cap, "scale-up", run, 1, 3)
        assert view["complete"] is True, view
        assert counts(run) == sent, counts(run)

        # Canary: a new greeting with rollingUpdate.partition=2, then back.
        canary = replicas.render_plan("app-rust", "default", [VALUES], ["config.greeting=Hello from the canary", "updateStrategy.rollingUpdate.partition=2"])
        mark = len(run.events)
        run.apply(canary)
        cap.add("canary", "# helm upgrade --set config.greeting='Hello from the canary' --set updateStrategy.rollingUpdate.partition=2\n" + "\n".join(run.events[mark:]))
        for o in sorted(run.pods):
            status, _, html = run.get(o, "/")
            assert status == 200
            sent[o] += 1
            h1 = re.search(r"<h1[^>]*>(.*?)</h1>", html.decode(), re.S)
            cap.add("canary", f"$ curl -s '{run.pods[o].url('/')}' | grep -o '<h1.*</h1>'    # {run.pods[o].spec.name}, revision {run.pods[o].spec.revision}\n{h1.group(0) if h1 else '(no <h1>)'}")
        # An old-revision replica that restarts during the canary keeps its revision's config.
        mark = len(run.events)
        run.delete_pod(0)
        cap.add("canary", f"# kubectl delete pod {run.pods[0].spec.name}   (a replica below the partition restarts during the canary)\n" + "\n".join(run.events[mark:]))
        status, _, html = run.get(0, "/")
        assert status == 200
        sent[0] += 1
        h1 = re.search(r"<h1[^>]*>(.*?)</h1>", html.decode(), re.S)
        assert h1 and "canary" not in h1.group(0), html
        cap.add("canary", f"$ curl -s '{run.pods[0].url('/')}' | grep -o '<h1.*</h1>'    # {run.pods[0].spec.name}, revision {run.pods[0].spec.revision}\n{h1.group(0)}")
        c0 = run.pods[0].container
        cap.sh("canary", ["podman", "exec", c0, "/bin/busybox", "grep", "greeting", "/etc/app-rust-revision/config.json", "/etc/app-rust/config.json"])
        mark = len(run.events)
        run.apply(plan)
        cap.add("canary", "# helm rollback (the previous values: no partition, the old greeting)\n" + "\n".join(run.events[mark:]))
        assert counts(run) == sent, counts(run)

        # Runbook: back up app-rust-2's count, lose its claim, restore it into a new claim.
        claim = f"data-{plan.name}-2"
        backup = cap.exec_cat("restore", 2)
        mark = len(run.events)
        run.scale(render, 2)
        run.delete_claim(claim)
        run.create_claim(claim)
        restored = run.one_off(claim, ["restore", backup.strip()]).stdout
        run.scale(render, 3)
        cap.add("restore", "\n".join(run.events[mark:]))
        cap.add("restore", f"# the one-off pod printed: {restored.strip()}")
        assert cap.exec_cat("restore", 2) == backup
        assert counts(run) == sent, counts(run)

        c0 = run.pods[0].container
        for name in (f"{plan.name}-1.{plan.service_name}.{plan.namespace}.svc.cluster.local", f"{plan.service_name}.{plan.namespace}.svc.cluster.local"):
            cap.sh("dns", ["podman", "exec", c0, "/bin/busybox", "nslookup", name])
        cap.add("dns", "# pod IPs on the podman network: " + ", ".join(f"{p.spec.name}={p.ip}" for p in run.pods.values()))
        cap.sh("dns", ["podman", "exec", c0, "cat", "/etc/resolv.conf"])

        view = cap.http("cluster", 0, "/visits?scope=cluster")
        assert view["complete"] is True and view["total"] == sum(sent.values()), view
        run.pause_pod(2)
        cap.add("cluster", f"$ podman pause {run.pods[2].container}    # hung: keeps its IP and DNS name, never answers")
        view = cap.http("cluster", 0, "/visits?scope=cluster")
        assert view["complete"] is False, view
        run.unpause_pod(2)
        cap.add("cluster", f"$ podman unpause {run.pods[2].container}")
        run.stop_pod(2)
        cap.add("cluster", f"$ podman stop {run.pods[2].container}    # podman's DNS drops a stopped container's address: it is no longer a member")
        view = members(cap, "cluster", run, 1, 2)
        assert view["complete"] is True, view
        run.start_pod(2)

        # helm uninstall, then helm install again with the same release name.
        mark = len(run.events)
        run.uninstall()
        cap.add("uninstall", "\n".join(run.events[mark:]))
        ps(cap, "uninstall")
        volumes(cap, "uninstall")
        mark = len(run.events)
        run.apply(plan)
        cap.add("uninstall", "# helm install app-rust again\n" + "\n".join(run.events[mark:]))
        for o in run.pods:
            cap.exec_cat("uninstall", o)
        assert counts(run) == sent, counts(run)

        # Let the kubelet-cadence prober give every pod at least one liveness probe first.
        give_up = time.monotonic() + max(p.spec.probes["liveness"].period for p in run.pods.values()) + 5
        while time.monotonic() < give_up and not all(
            any(r.kind == "liveness" and r.pod == p.spec.name and r.at >= p.ready_at for r in run.probe_log) for p in run.pods.values()
        ):
            time.sleep(0.5)
        probes = [r for r in run.probe_log if r.kind in ("startup", "readiness")][:6]
        t0 = run.created_at
        cap.add("probes", "\n".join(f"{r.at - t0:7.2f}s {r.pod:12} {r.kind:9} {r.url:32} {'ok' if r.ok else 'FAIL'}  {r.detail}" for r in probes))
        live = [r for r in run.probe_log if r.kind == "liveness"]
        cap.add("probes", f"... {len(run.probe_log)} probes in this run ({len(live)} liveness), none counted a visit: final counts {dict(sorted(counts(run).items()))} == visits sent {sent}")
        assert counts(run) == sent
        cap.add("figures", f"run {run.run_id}: {time.monotonic() - started:.1f}s from render to the last check, {subprocess.run(['podman', '--version'], capture_output=True, text=True).stdout.strip()}, network backend {replicas.podman('info', '--format', '{{.Host.NetworkBackend}}').stdout.strip()}")
        blocks = cap.blocks

    write(blocks)


def _group(args: list[str]) -> list[str]:
    """`--flag value` pairs on one line each, for reading."""
    out: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a.startswith("--") and "=" not in a and i + 1 < len(args) and not args[i + 1].startswith("--") and a not in ("--detach", "--read-only"):
            out.append(f"{a} {shlex.quote(args[i + 1])}")
            i += 2
        else:
            out.append(shlex.quote(a))
            i += 1
    return out


def write(blocks: dict[str, list[str]]) -> None:
    text = DOC.read_text()
    missing = []
    for name, parts in blocks.items():
        pattern = re.compile(rf"(<!-- captured:{re.escape(name)} -->\n).*?(<!-- /captured:{re.escape(name)} -->)", re.S)
        if not pattern.search(text):
            missing.append(name)
            continue
        body = "```console\n" + "\n\n".join(parts) + "\n```\n"
        text = pattern.sub(lambda m: m.group(1) + body + m.group(2), text)
    if missing:
        raise SystemExit(f"docs/statefulset.md has no <!-- captured:NAME --> block for {missing}")
    DOC.write_text(text)
    print(f"updated {DOC} ({len(blocks)} captured blocks)", file=sys.stderr)


if __name__ == "__main__":
    main()
