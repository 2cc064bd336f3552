"""The podman side of the replica run: the CLI, the cleanup of a run's objects, and what a
running pod is (its container, its ports on 127.0.0.1, its address on the run's network).

``replicas.ReplicaRun`` (the controller model) builds on these; nothing here knows about
StatefulSets.
"""

from __future__ import annotations

import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass

from plan import INSTANCE_LABEL, RUN_LABEL
from pod import PodSpec


def podman(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess:
    proc = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise RuntimeError(f"podman {' '.join(args)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc


def cleanup_run(run_id: str, instance: str | None = None) -> list[str]:
    """Removes every podman object of this run id (or only of one ReplicaRun instance of it).
    Returns what it removed."""
    removed = []
    sel = f"label={INSTANCE_LABEL}={instance}" if instance else f"label={RUN_LABEL}={run_id}"
    ids = podman("ps", "-a", "-q", "--filter", sel, check=False).stdout.split()
    if ids:
        podman("rm", "-f", "-t", "0", *ids, check=False)
        removed += [f"container {i}" for i in ids]
    vols = podman("volume", "ls", "-q", "--filter", sel, check=False).stdout.split()
    if vols:
        podman("volume", "rm", "-f", *vols, check=False)
        removed += [f"volume {v}" for v in vols]
    nets = podman("network", "ls", "-q", "--filter", sel, check=False).stdout.split()
    for n in nets:
        podman("network", "rm", "-f", n, check=False)
        removed.append(f"network {n}")
    return removed


def http_get(url: str, timeout: float, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """Status, lower-cased headers and body of a GET; an HTTP error status is a result, not an
    exception."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


@dataclass
class ProbeResult:
    at: float
    pod: str
    kind: str
    url: str
    ok: bool
    detail: str


@dataclass
class RunningPod:
    spec: PodSpec
    container: str
    host_ports: dict[int, int]  # containerPort -> 127.0.0.1 port
    ip: str
    started_at: float
    ready_at: float | None = None
    restarts: int = 0

    def url(self, path: str, port: int | None = None) -> str:
        port = port or next(iter(self.spec.ports.values()))
        return f"http://127.0.0.1:{self.host_ports[port]}{path}"
