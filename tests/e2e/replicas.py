"""The podman replica run: the pods that the chart's StatefulSet would create, run for real.

No Kubernetes cluster can run on these machines, so this module does the next best thing
that is still real: it renders the chart with real Helm, derives from the rendered
StatefulSet exactly the pods that the StatefulSet controller would create for its ordinals,
and runs them with the real image in a real container runtime (podman):

- pod ``<sts>-<ordinal>``: hostname and ``POD_NAME`` (downward API) set to that name;
- the rendered pod template: command/args, env (downward API, ConfigMap and Secret
  references resolved from the rendered documents), envFrom, ConfigMap/Secret volumes
  (files written with the same keys and mounted read-only at the same path), emptyDir
  (tmpfs), securityContext, resources, ports and the three probes;
- one claim per pod ``<claimTemplate>-<sts>-<ordinal>``: a named podman volume that
  outlives its container, as a PersistentVolumeClaim outlives its pod;
- the headless Service: every container gets network aliases equal to its stable DNS
  names on a podman network with DNS, so the pods resolve each other by the names a
  cluster's DNS would serve.

Every field of the StatefulSet and its pod template is checked against an explicit
allow-list: a field this run cannot honour raises ``Unsupported`` instead of being dropped.

This is a test of the chart and the image together, not a Kubernetes: there is no API
server, scheduler or kube-proxy. The small controller loop here (``reconcile``) follows the
StatefulSet controller's documented rules for what it needs: ordinals, the pod management
policy, rolling updates in reverse ordinal order, and the claim retention policy.

Every podman object carries the label ``app-rust-e2e.run=<run id>`` and a name prefix
``e2e-<run id>-``, so parallel runs never meet and ``cleanup_run`` removes everything.
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
import time
import urllib.error
from pathlib import Path
from typing import Callable

from allowlist import Unsupported, require  # noqa: F401  (tests use Unsupported through this module)
from plan import (  # noqa: F401  (tests use them through this module)
    INSTANCE_LABEL,
    POD_LABEL,
    REVISION_LABEL,
    ROOT,
    RUN_LABEL,
    NotReady,
    StatefulSetPlan,
    derive,
    helm_binary,
    helm_template,
    is_hook,
)
from pod import PodSpec, env_value, volume_files
from podman_cli import ProbeResult, RunningPod, cleanup_run, http_get, podman  # noqa: F401  (tests use podman and cleanup_run through this module)


class ReplicaRun:
    """A StatefulSet's pods on one podman network, driven like the controller would."""

    def __init__(self, run_id: str | None = None, log: Callable[[str], None] | None = None, instance: str = ""):
        self.run_id = run_id or os.environ.get("APP_RUST_E2E_RUN") or secrets.token_hex(3)
        self.prefix = f"e2e-{self.run_id}" + (f"-{instance}" if instance else "")
        self.labels = ["--label", f"{RUN_LABEL}={self.run_id}", "--label", f"{INSTANCE_LABEL}={self.prefix}"]
        self.network = f"{self.prefix}-net"
        self.workdir = Path(tempfile.mkdtemp(prefix=f"app-rust-{self.prefix}-"))
        self.pods: dict[int, RunningPod] = {}
        # The release as last applied (its objects are what a new pod reads), and the revision
        # the pods below a partition stay on (the controller's currentRevision).
        self.plan: StatefulSetPlan | None = None
        self.current: StatefulSetPlan | None = None
        self._subnet: ipaddress.IPv4Network | None = None
        self._ips_used: set[str] = set()
        self.probe_log: list[ProbeResult] = []
        self.events: list[str] = []
        self.log = log or (lambda _m: None)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._prober: threading.Thread | None = None
        self.created_at = time.monotonic()
        self.dns_server: str | None = None

    # ---- lifecycle ------------------------------------------------------------------------

    def __enter__(self) -> "ReplicaRun":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stop.set()
        if self._prober:
            self._prober.join(timeout=15)
        cleanup_run(self.run_id, self.prefix)
        shutil.rmtree(self.workdir, ignore_errors=True)

    def event(self, message: str) -> None:
        line = f"{time.monotonic() - self.created_at:7.2f}s {message}"
        self.events.append(line)
        self.log(line)

    def container_name(self, pod: str) -> str:
        return f"{self.prefix}-{pod}"

    def volume_name(self, claim: str) -> str:
        return f"{self.prefix}-{claim}"

    def create_network(self) -> dict:
        if podman("network", "exists", self.network, check=False).returncode != 0:
            podman("network", "create", *self.labels, self.network)
        info = json.loads(podman("network", "inspect", self.network).stdout)[0]
        if not info.get("dns_enabled"):
            raise RuntimeError(
                f"podman network {self.network} has no DNS: the pods could not resolve their stable "
                "names. Run scripts/tools/install-podman-dns.sh (dnsname plugin for CNI, "
                "aardvark-dns for netavark)."
            )
        # The network's DNS server (dnsmasq/aardvark on the gateway) is the pods' only
        # nameserver, as the cluster DNS is in Kubernetes.
        self.dns_server = info["subnets"][0]["gateway"]
        self._subnet = ipaddress.ip_network(info["subnets"][0]["subnet"])
        self._ips_used.add(self.dns_server)
        self.event(f"network {self.network} created (DNS {self.dns_server}, subnet {info['subnets'][0]['subnet']})")
        return info

    # ---- the controller -------------------------------------------------------------------

    def apply(self, plan: StatefulSetPlan, wait: bool = True) -> None:
        """What `helm install/upgrade` + the StatefulSet controller do with a rendered chart."""
        if self.plan is not None:
            require(
                {k: v["spec"] for k, v in plan.claim_templates.items()}
                == {k: v["spec"] for k, v in self.plan.claim_templates.items()},
                "volumeClaimTemplates changed: the API server rejects that (immutable field)",
            )
        if self.current is None or self.current.pods[0].revision == plan.pods[0].revision:
            self.current = plan
        self.plan = plan
        self.reconcile(wait=wait)
        if all(p.spec.revision == plan.pods[0].revision for p in self.pods.values()):
            self.current = plan  # the rollout is complete: the update revision is current
        if self._prober is None:
            self._prober = threading.Thread(target=self._kubelet_prober, name="prober", daemon=True)
            self._prober.start()

    def reconcile(self, wait: bool = True) -> None:
        plan = self.plan
        assert plan is not None
        desired = set(plan.ordinals)
        # Scale down: highest ordinal first (Parallel removes them all at once).
        for ordinal in sorted(set(self.pods) - desired, reverse=True):
            self.delete_pod(ordinal, recreate=False)
            if plan.retention_when_scaled == "Delete":
                for claim in self.claims_of(ordinal):
                    podman("volume", "rm", "-f", self.volume_name(claim), check=False)
                    self.event(f"claim {claim} deleted (whenScaled: Delete)")
        # Create missing pods: all at once under Parallel, one after another under OrderedReady.
        missing = sorted(desired - set(self.pods))
        if plan.pod_management_policy == "OrderedReady" or not wait:
            for ordinal in missing:
                self.create_pod(self.template_for(ordinal))
                if wait:
                    self.wait_ready(ordinal)
        elif missing:
            # Parallel: every pod is created without waiting for the others, and the kubelet
            # probes each one on its own schedule from its start.
            with ThreadPoolExecutor(max_workers=len(missing)) as pool:
                waits = []
                for ordinal in missing:
                    self.create_pod(self.template_for(ordinal))
                    waits.append(pool.submit(self.wait_ready, ordinal))
                for f in waits:
                    f.result()
        # Rolling update: one pod at a time, highest ordinal first, down to the partition.
        if plan.update_strategy == "RollingUpdate":
            for ordinal in sorted(desired, reverse=True):
                if ordinal < plan.partition:
                    continue
                running = self.pods[ordinal]
                if running.spec.revision != plan.pod(ordinal).revision:
                    self.event(f"rolling update of {running.spec.name}: revision {running.spec.revision} -> {plan.pod(ordinal).revision}")
                    self.delete_pod(ordinal, recreate=False)
                    self.create_pod(plan.pod(ordinal))
                    if wait:
                        self.wait_ready(ordinal)

    def template_for(self, ordinal: int) -> PodSpec:
        """The revision the controller creates a pod of this ordinal at: below the partition of
        a rolling update the current revision, otherwise the update revision. (Kubernetes: pods
        below the partition "will not be updated, and, even if they are deleted, they will be
        recreated at the previous version".)"""
        plan, current = self.plan, self.current
        assert plan is not None and current is not None
        if plan.update_strategy == "RollingUpdate" and ordinal < plan.partition:
            require(ordinal in current.ordinals, f"ordinal {ordinal} below the partition is not in the current revision's plan")
            return current.pod(ordinal)
        return plan.pod(ordinal)

    def claims_of(self, ordinal: int) -> list[str]:
        assert self.plan is not None
        return [f"{c}-{self.plan.name}-{ordinal}" for c in self.plan.claim_templates]

    def delete_pod(self, ordinal: int, recreate: bool = True, wait: bool = True) -> None:
        """`kubectl delete pod`: SIGTERM, the grace period, then the controller recreates it
        (with the same name and the same claim) when recreate is true."""
        with self._lock:
            running = self.pods.pop(ordinal)
        t = time.monotonic()
        podman("stop", "-t", str(running.spec.stop_timeout), running.container, timeout=running.spec.stop_timeout + 30)
        exit_code = podman("inspect", "--format", "{{.State.ExitCode}}", running.container).stdout.strip()
        podman("rm", "-f", running.container)
        self.event(f"pod {running.spec.name} deleted (exit code {exit_code} after SIGTERM, {time.monotonic() - t:.2f}s)")
        if recreate:
            self.create_pod(self.template_for(ordinal))
            if wait:
                self.wait_ready(ordinal)

    def uninstall(self) -> None:
        """`helm uninstall`: the StatefulSet and its pods go. Claims made from the claim
        templates are not part of the release; they stay unless whenDeleted is Delete."""
        assert self.plan is not None
        self.event("uninstall: the StatefulSet is deleted; the garbage collector deletes its pods together")
        with ThreadPoolExecutor(max_workers=max(1, len(self.pods))) as pool:
            for f in [pool.submit(self.delete_pod, o, False) for o in sorted(self.pods, reverse=True)]:
                f.result()
        if self.plan.retention_when_deleted == "Delete":
            for ordinal in self.plan.ordinals:
                for claim in self.claims_of(ordinal):
                    self.delete_claim(claim)
        self.plan = None

    def stop_pod(self, ordinal: int) -> None:
        """Stops a pod's container without the controller noticing (a crashed or partitioned
        pod): its DNS name disappears, as a not-ready pod's endpoints would."""
        running = self.pods[ordinal]
        running.ready_at = None  # the kubelet prober leaves it alone until it is ready again
        podman("stop", "-t", str(running.spec.stop_timeout), running.container)
        self.event(f"pod {running.spec.name} stopped")

    def pause_pod(self, ordinal: int) -> None:
        """Freezes a pod's process (cgroup freezer): it keeps its IP and DNS name and the kernel
        still accepts connections, but nothing answers, like a hung or overloaded replica."""
        running = self.pods[ordinal]
        running.ready_at = None
        podman("pause", running.container)
        self.event(f"pod {running.spec.name} paused (hung: still in DNS, accepts connections, never answers)")

    def unpause_pod(self, ordinal: int) -> None:
        running = self.pods[ordinal]
        podman("unpause", running.container)
        self.event(f"pod {running.spec.name} unpaused")
        self.wait_ready(ordinal)

    def start_pod(self, ordinal: int) -> None:
        running = self.pods[ordinal]
        podman("start", running.container)
        self._forget_link_address(running.ip)
        running.started_at = time.monotonic()
        running.host_ports = self._host_ports(running.container, running.spec)
        running.ip = self._ip(running.container)
        running.ready_at = None
        self.event(f"pod {running.spec.name} started again")
        self.wait_ready(ordinal)

    def _forget_link_address(self, ip: str) -> None:
        """A started container keeps its address but gets a new interface: the host and the
        other pods must forget the old interface's link address, or they keep sending to it
        until their neighbour entries expire (tens of seconds). A restarted container in a
        Kubernetes pod keeps the pod's interface, so there is nothing to forget there."""
        namespaces = [[]]
        for other in self.pods.values():
            pid = podman("inspect", "--format", "{{.State.Pid}}", other.container, check=False).stdout.strip()
            if pid.isdigit() and pid != "0":
                namespaces.append(["nsenter", "--target", pid, "--net"])
        for prefix in namespaces:
            subprocess.run([*prefix, "ip", "neigh", "flush", "to", ip], check=False, capture_output=True)

    def scale(self, release_values: Callable[[int], StatefulSetPlan], replicas: int) -> None:
        self.event(f"scale to {replicas} replicas")
        self.apply(release_values(replicas))

    # ---- one pod ----------------------------------------------------------------------------

    def _host_ports(self, container: str, spec: PodSpec) -> dict[int, int]:
        ports = {}
        for cport in spec.ports.values():
            out = podman("port", container, f"{cport}/tcp").stdout.strip().splitlines()
            ports[cport] = int(out[0].rsplit(":", 1)[1])
        return ports

    def _ip(self, container: str) -> str:
        fmt = "{{(index .NetworkSettings.Networks \"%s\").IPAddress}}" % self.network
        return podman("inspect", "--format", fmt, container).stdout.strip()

    def _allocate_ip(self) -> str:
        """An address on the run's network never used before in this run: the pod's IP, known
        before it starts, as the downward API's status.podIP is. A new pod gets a new address
        (as in Kubernetes); reusing one at once would also meet the bridge's neighbour entry
        for the previous container, which black-holes traffic until it expires."""
        assert self._subnet is not None, "create_network first"
        for host in self._subnet.hosts():
            ip = str(host)
            if int(host) - int(self._subnet.network_address) >= 10 and ip not in self._ips_used:
                self._ips_used.add(ip)
                return ip
        raise RuntimeError(f"no unused address left in {self._subnet}")

    def _env(self, spec: PodSpec, ip: str) -> list[tuple[str, str]]:
        """The pod's environment as the kubelet builds it when it starts the pod: the pod's IP,
        and ConfigMap/Secret keys read from the objects as they are now."""
        assert self.plan is not None
        env = []
        for k, v in spec.env:
            if k in spec.pod_ip_env:
                v = ip
            elif k in spec.env_refs:
                v = env_value(self.plan.documents, spec.env_refs[k], spec.namespace)
            env.append((k, v))
        return env

    def podman_run_args(self, spec: PodSpec, ip: str = "") -> list[str]:
        """The `podman run` command line for one pod (also shown in the guide)."""
        container = self.container_name(spec.name)
        args = ["run", "--detach", "--name", container, "--hostname", spec.name, "--pull=never"]
        args += [*self.labels, "--label", f"{POD_LABEL}={spec.name}", "--label", f"{REVISION_LABEL}={spec.revision}"]
        for k, v in sorted(spec.labels.items()):
            args += ["--label", f"{k}={v}"]
        for k, v in sorted(spec.annotations.items()):
            args += ["--annotation", f"{k}={v}"]
        args += ["--network", self.network]
        if ip:
            args += ["--ip", ip]
        for alias in spec.dns_names:
            args += ["--network-alias", alias]
        if self.dns_server:
            args += ["--dns", self.dns_server]
        for d in spec.dns_search:
            args += ["--dns-search", d]
        args += ["--dns-option", "ndots:5"]
        for cport in spec.ports.values():
            args += ["--publish", f"127.0.0.1::{cport}"]
        if spec.user:
            args += ["--user", spec.user]
        for g in spec.groups:
            args += ["--group-add", str(g)]
        if spec.read_only_root:
            # --read-only-tmpfs=false: podman would otherwise add writable /run, /var/tmp.
            args += ["--read-only", "--read-only-tmpfs=false"]
        for cap in spec.cap_drop:
            args += ["--cap-drop", cap]
        for cap in spec.cap_add:
            args += ["--cap-add", cap]
        if spec.no_new_privileges:
            args += ["--security-opt", "no-new-privileges"]
        if spec.memory_limit:
            args += ["--memory", spec.memory_limit]
        if spec.cpu_limit:
            args += ["--cpus", spec.cpu_limit]
        args += ["--stop-timeout", str(spec.stop_timeout)]
        for k, v in self._env(spec, ip):
            args += ["--env", f"{k}={v}"]
        for m in spec.mounts:
            if m.kind == "claim":
                ro = ",ro=true" if m.read_only else ""
                args += ["--mount", f"type=volume,source={self.volume_name(spec.claim_name(m))},destination={m.path}{ro}"]
            elif m.kind == "tmpfs":
                size = f",tmpfs-size={m.tmpfs_size}" if m.tmpfs_size else ""
                args += ["--mount", f"type=tmpfs,destination={m.path},tmpfs-mode=1777{size}"]
            else:
                src = self.workdir / spec.name / m.volume
                args += ["--mount", f"type=bind,source={src},destination={m.path},ro=true"]
        if spec.command:
            args += ["--entrypoint", json.dumps(spec.command)]
        args.append(spec.image)
        args += list(spec.args or [])
        return args

    def _materialise(self, spec: PodSpec) -> None:
        """ConfigMap/Secret volumes as files, claims as named volumes (created once, kept)."""
        for m in spec.mounts:
            if m.kind == "files":
                assert self.plan is not None
                files = m.files if m.source is None else volume_files(self.plan.documents, m.source, spec.namespace)
                d = self.workdir / spec.name / m.volume
                if d.exists():
                    shutil.rmtree(d)
                d.mkdir(parents=True)
                for rel, (data, mode) in files.items():
                    f = d / rel
                    f.parent.mkdir(parents=True, exist_ok=True)
                    f.write_bytes(data)
                    f.chmod(mode)
                for p in [d, *[q for q in d.rglob("*") if q.is_dir()]]:
                    p.chmod(0o755)
                p = d
                while p != self.workdir.parent:  # the container user must traverse the temp dir
                    p.chmod(p.stat().st_mode | 0o111)
                    p = p.parent
            elif m.kind == "claim":
                claim = spec.claim_name(m)
                vol = self.volume_name(claim)
                if podman("volume", "exists", vol, check=False).returncode != 0:
                    assert self.plan is not None
                    tmpl = self.plan.claim_templates[m.claim]
                    labels = [f"{RUN_LABEL}={self.run_id}", f"{INSTANCE_LABEL}={self.prefix}", f"app-rust-e2e.claim={claim}"]
                    labels += [f"{k}={v}" for k, v in (tmpl["metadata"].get("labels") or {}).items()]
                    size = tmpl["spec"].get("resources", {}).get("requests", {}).get("storage", "")
                    labels.append(f"app-rust-e2e.requested-storage={size}")
                    podman("volume", "create", *sum((["--label", lab] for lab in labels), []), vol)
                    self.event(f"claim {claim} created (podman volume {vol})")

    def create_pod(self, spec: PodSpec) -> RunningPod:
        self._materialise(spec)
        container = self.container_name(spec.name)
        ip = self._allocate_ip()
        podman("run", *self.podman_run_args(spec, ip)[1:])
        started = time.monotonic()  # `podman run --detach` returns once the process started
        running = RunningPod(spec, container, self._host_ports(container, spec), self._ip(container), started)
        with self._lock:
            self.pods[spec.ordinal] = running
        self.event(f"pod {spec.name} created (container {container}, IP {running.ip}, 127.0.0.1:{next(iter(running.host_ports.values()))})")
        return running

    # ---- the kubelet's probes ------------------------------------------------------------

    def run_probe(self, running: RunningPod, kind: str) -> ProbeResult:
        probe = running.spec.probes[kind]
        url = running.url(probe.path, probe.container_port)
        try:
            status, _h, _b = http_get(url, probe.timeout, probe.headers)
            ok, detail = 200 <= status < 400, f"HTTP {status}"
        except (OSError, urllib.error.URLError) as err:
            ok, detail = False, f"{type(err).__name__}: {err}"
        result = ProbeResult(time.monotonic(), running.spec.name, kind, f"GET {probe.path} port {probe.port_name} -> {probe.container_port}", ok, detail)
        with self._lock:
            self.probe_log.append(result)
        return result

    def wait_ready(self, ordinal: int, deadline_s: float = 90) -> float:
        """The kubelet's startup then readiness probing, with the rendered timings. Returns the
        seconds from container start to ready."""
        running = self.pods[ordinal]
        spec = running.spec
        end = time.monotonic() + deadline_s
        if "startup" in spec.probes:
            p = spec.probes["startup"]
            time.sleep(max(0.0, running.started_at + p.initial_delay - time.monotonic()))
            failures = 0
            while not self.run_probe(running, "startup").ok:
                failures += 1
                if failures >= p.failure_threshold or time.monotonic() > end:
                    raise NotReady(f"{spec.name}: startup probe failed {failures} times; the kubelet would restart it. Logs:\n{self.logs(ordinal)}")
                time.sleep(p.period)
        p = spec.probes.get("readiness")
        if p is None:
            raise Unsupported(f"{spec.name}: no readiness probe: the test could not tell when the pod is ready")
        time.sleep(max(0.0, running.started_at + p.initial_delay - time.monotonic()))
        successes = 0
        while True:
            r = self.run_probe(running, "readiness")
            successes = successes + 1 if r.ok else 0
            if successes >= p.success_threshold:
                break
            if time.monotonic() > end:
                raise NotReady(f"{spec.name}: not ready after {deadline_s}s ({r.detail}). Logs:\n{self.logs(ordinal)}")
            time.sleep(p.period)
        assert self.plan is not None
        time.sleep(self.plan.min_ready_seconds)
        running.ready_at = time.monotonic()
        took = running.ready_at - running.started_at
        self.event(f"pod {spec.name} ready ({p.kind} probe GET {p.path} on port {p.port_name}, {took:.2f}s after start)")
        return took

    def _kubelet_prober(self) -> None:
        """Liveness and readiness probes of every ready pod at their rendered periods, for the
        whole run, as the kubelet does (the test checks that they never counted a visit)."""
        next_due: dict[tuple[str, str], float] = {}
        while not self._stop.wait(0.2):
            with self._lock:
                pods = [p for p in self.pods.values() if p.ready_at is not None]
            for running in pods:
                for kind in ("liveness", "readiness"):
                    if kind not in running.spec.probes:
                        continue
                    key = (running.container, running.started_at, kind)  # one schedule per container start
                    now = time.monotonic()
                    due = next_due.setdefault(key, running.ready_at + running.spec.probes[kind].period)
                    if now >= due:
                        next_due[key] = now + running.spec.probes[kind].period
                        # A pod deleted between the snapshot and the probe fails its probe: ignore that.
                        with self._lock:
                            current = running.ready_at is not None and self.pods.get(running.spec.ordinal) is running
                        if current:
                            self.run_probe(running, kind)

    def one_off(self, claim: str, args: list[str]) -> subprocess.CompletedProcess:
        """A throwaway pod of the same image, as the same user, with one claim mounted at
        /app/data (the runbook's restore pod): `app-rust ARGS` (the image's entrypoint)."""
        assert self.plan is not None
        spec = self.plan.pods[0]
        name = f"{self.prefix}-one-off"
        run = ["run", "--rm", "--name", name, *self.labels, "--pull=never", "--network", "none"]
        if spec.user:
            run += ["--user", spec.user]
        for g in spec.groups:
            run += ["--group-add", str(g)]
        run += ["--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges"]
        run += ["--mount", f"type=volume,source={self.volume_name(claim)},destination=/app/data"]
        run += [spec.image, *args]
        proc = subprocess.run(["podman", *run], capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            raise RuntimeError(f"one-off pod on {claim} failed ({proc.returncode}): {proc.stderr}")
        self.event(f"one-off pod on claim {claim}: app-rust {' '.join(args)}")
        return proc

    def create_claim(self, claim: str) -> None:
        """`kubectl apply` of an empty PVC with the name the StatefulSet will look for."""
        assert self.plan is not None
        template = next(iter(self.plan.claim_templates))
        vol = self.volume_name(claim)
        podman("volume", "create", *self.labels, "--label", f"app-rust-e2e.claim={claim}", vol)
        self.event(f"claim {claim} created by hand (empty, from template {template})")

    def delete_claim(self, claim: str) -> None:
        podman("volume", "rm", self.volume_name(claim))
        self.event(f"claim {claim} deleted")

    # ---- observing -------------------------------------------------------------------------

    def exec(self, ordinal: int, *cmd: str, check: bool = True) -> subprocess.CompletedProcess:
        return podman("exec", self.pods[ordinal].container, *cmd, check=check)

    def visits_file(self, ordinal: int) -> str:
        return self.exec(ordinal, "cat", "/app/data/visits").stdout

    def logs(self, ordinal: int) -> str:
        running = self.pods.get(ordinal)
        if not running:
            return "(no such pod)"
        proc = podman("logs", "--tail", "30", running.container, check=False)
        return proc.stdout + proc.stderr

    def get(self, ordinal: int, path: str, accept_json: bool = False, timeout: float = 5) -> tuple[int, dict[str, str], bytes]:
        headers = {"Accept": "application/json"} if accept_json else {}
        return http_get(self.pods[ordinal].url(path), timeout, headers)

    def restarts(self, ordinal: int) -> int:
        return int(podman("inspect", "--format", "{{.RestartCount}}", self.pods[ordinal].container).stdout.strip() or 0)


def render_plan(
    release: str,
    namespace: str,
    values_files: list[Path],
    set_values: list[str] | None = None,
) -> StatefulSetPlan:
    cmd, docs = helm_template(release, namespace, values_files, set_values)
    return derive(docs, cmd)
