#!/usr/bin/env python3
"""Benchmark app-rust: durable visits on / against /healthz of the same process.

Every figure that depends on the machine is reported next to a reference measured in
the same run (the ratio of visits/s to /healthz req/s), because this machine is shared
and noisy. Run it through bench/run.sh, which installs wrk and builds the release binary.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "lib"))

import app_process  # noqa: E402  (shared with the chart tests)

RESULTS = ROOT / "bench" / "results"
DOC = ROOT / "docs" / "performance.md"
PLOT = ROOT / "docs" / "performance-throughput.png"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"

TARGET_RATIO_AT_128 = 0.5
TARGET_IDLE_RSS_MIB = 10.0
TARGET_READY_MS = 100.0


@dataclass
class WrkResult:
    path: str
    connections: int
    seconds: float
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    peak_rss_mib: float


def get(port: int, path: str, timeout: float = 1.0) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


class Server:
    """The release binary on 127.0.0.1 with a fresh data directory on the real disk."""

    def __init__(self, binary: Path, data_dir: Path):
        env = {**os.environ, "DATA_DIR": str(data_dir), "POD_NAME": "bench-0"}
        self.log = data_dir.parent / "server.log"
        started = time.perf_counter()
        self.proc = app_process.start(binary, env, self.log)
        self.port = app_process.serving_port(self.proc, self.log)
        deadline = started + 10
        while True:
            try:
                if get(self.port, "/readyz", timeout=0.2)[0] == 200:
                    break
            except OSError:
                pass
            if self.proc.poll() is not None or time.perf_counter() > deadline:
                raise RuntimeError(f"server did not become ready; see {self.log}")
            time.sleep(0.0005)
        self.ready_ms = (time.perf_counter() - started) * 1000

    def stop(self) -> int:
        self.proc.terminate()
        return self.proc.wait(timeout=15)


def parse_duration_ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(server: Server, path: str, connections: int, seconds: float) -> WrkResult:
    peak = [rss_mib(server.proc.pid)]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.05):
            peak[0] = max(peak[0], rss_mib(server.proc.pid))

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        out = subprocess.run(
            ["wrk", "-t2", f"-c{connections}", f"-d{int(seconds)}s", "--latency", "--timeout", "10s",
             f"http://127.0.0.1:{server.port}{path}"],
            check=True, capture_output=True, text=True, timeout=seconds + 30,
        ).stdout
    finally:
        stop.set()
        sampler.join()
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = parse_duration_ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = parse_duration_ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    non_2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    errors = 0
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors = sum(int(g) for g in m.groups())
    return WrkResult(path, connections, seconds, requests, rps, p50, p99, non_2xx, errors, peak[0])


def metric_sum(metrics: str, name: str) -> float:
    """Sums every sample of one metric family member, whatever its labels."""
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def machine() -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    fs = subprocess.run(["df", "-T", str(RESULTS)], capture_output=True, text=True).stdout.splitlines()[-1].split()[1]
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "filesystem": fs,
        "wrk": (wrk.stdout + wrk.stderr).split("\n")[0].strip(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def plot(results: list[WrkResult]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    for path, label in (("/healthz", "/healthz (no I/O)"), ("/", "/ (durable visit, fsync)")):
        points = sorted((r.connections, r.rps) for r in results if r.path == path)
        ax.plot([c for c, _ in points], [rps / 1000 for _, rps in points], marker="o", label=label)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("concurrent connections (wrk -t2)")
    ax.set_ylabel("thousand requests per second")
    ax.set_title("app-rust throughput, one process, same run")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(PLOT)


def report(info: dict, results: list[WrkResult], ready_ms: list[float], idle_rss: float,
           persisted: int, acknowledged: int, commits: dict) -> str:
    by = {(r.path, r.connections): r for r in results}
    lines = [
        f"Measured {info['date']} on {info['cores']} cores ({info['cpu']}), Linux {info['kernel']}, "
        f"data directory on {info['filesystem']}, load from {info['wrk']} on the same machine.",
        "",
        "| connections | `/` visits/s | `/healthz` req/s | ratio | `/` p50 | `/` p99 | `/healthz` p50 | `/healthz` p99 | peak RSS |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in sorted({r.connections for r in results}):
        v, h = by[("/", c)], by[("/healthz", c)]
        lines.append(
            f"| {c} | {v.rps:,.0f} | {h.rps:,.0f} | **{v.rps / h.rps:.2f}** | {v.p50_ms:.2f} ms | {v.p99_ms:.2f} ms "
            f"| {h.p50_ms:.2f} ms | {h.p99_ms:.2f} ms | {max(v.peak_rss_mib, h.peak_rss_mib):.1f} MiB |"
        )
    ready_sorted = sorted(ready_ms)
    lines += [
        "",
        f"- Idle RSS after start: **{idle_rss:.1f} MiB** (target ≤ {TARGET_IDLE_RSS_MIB:.0f} MiB).",
        f"- Exec to `/readyz` = 200: median **{ready_sorted[len(ready_sorted) // 2]:.1f} ms**, "
        f"worst {ready_sorted[-1]:.1f} ms over {len(ready_ms)} starts (target ≤ {TARGET_READY_MS:.0f} ms).",
        f"- Every `/` answer was 200 and acknowledged only after its fsync: {acknowledged:,} acknowledged by wrk, "
        f"{persisted:,} in the `visits` file (the difference is requests in flight when wrk stopped).",
    ]
    if commits["count"]:
        lines.append(
            f"- Group commit: {commits['count']:,.0f} commits for {persisted:,} visits "
            f"(**{persisted / commits['count']:.1f} visits per fsync** on average), "
            f"mean commit (write, fsync, rename, directory fsync) {commits['mean_ms']:.2f} ms."
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--binary", type=Path, required=True)
    parser.add_argument("--quick", action="store_true", help="32 and 128 connections, 3 s each")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--write-docs", action="store_true", help="refresh docs/performance.md and the plot")
    args = parser.parse_args()
    connections = [32, 128] if args.quick else [8, 32, 64, 128, 256]
    seconds = 3 if args.quick else args.seconds

    RESULTS.mkdir(parents=True, exist_ok=True)
    info = machine()
    work = Path(tempfile.mkdtemp(prefix="bench-", dir=RESULTS))
    try:
        ready_ms = []
        for i in range(7):
            data = work / f"ready-{i}" / "data"
            data.mkdir(parents=True)
            s = Server(args.binary, data)
            ready_ms.append(s.ready_ms)
            s.stop()

        data = work / "load" / "data"
        data.mkdir(parents=True)
        server = Server(args.binary, data)
        time.sleep(0.5)
        idle_rss = rss_mib(server.proc.pid)
        results = []
        for c in connections:
            for path in ("/healthz", "/"):
                r = run_wrk(server, path, c, seconds)
                print(f"{path:9} c={c:<4} {r.rps:>10,.0f} req/s  p50 {r.p50_ms:.2f} ms  p99 {r.p99_ms:.2f} ms  "
                      f"rss {r.peak_rss_mib:.1f} MiB  non-2xx {r.non_2xx}  errors {r.socket_errors}", flush=True)
                results.append(r)
        metrics = get(server.port, "/metrics")[1]
        commits = {
            "count": metric_sum(metrics, "app_persist_duration_seconds_count"),
            "mean_ms": 1000 * metric_sum(metrics, "app_persist_duration_seconds_sum")
            / max(1.0, metric_sum(metrics, "app_persist_duration_seconds_count")),
        }
        exit_code = server.stop()
        persisted = int((data / "visits").read_text())
        acknowledged = sum(r.requests - r.non_2xx for r in results if r.path == "/")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    problems = []
    if exit_code != 0:
        problems.append(f"server exited {exit_code} on SIGTERM")
    if any(r.non_2xx or r.socket_errors for r in results):
        problems.append("some requests failed (non-2xx or socket errors)")
    if persisted < acknowledged:
        problems.append(f"LOST VISITS: {acknowledged} acknowledged but {persisted} persisted")

    text = report(info, results, ready_ms, idle_rss, persisted, acknowledged, commits)
    print()
    print(text)
    (RESULTS / "latest.json").write_text(json.dumps(
        {"machine": info, "results": [asdict(r) for r in results], "ready_ms": ready_ms,
         "idle_rss_mib": idle_rss, "persisted": persisted, "acknowledged": acknowledged,
         "commits": commits}, indent=2) + "\n")
    if args.write_docs:
        plot(results)
        doc = DOC.read_text()
        start, end = doc.index(BEGIN) + len(BEGIN), doc.index(END)
        DOC.write_text(doc[:start] + "\n" + text + "\n" + doc[end:])
        print(f"\nwrote {DOC.relative_to(ROOT)} and {PLOT.relative_to(ROOT)}")

    at128 = {r.path: r for r in results if r.connections == 128}
    ratio = at128["/"].rps / at128["/healthz"].rps
    verdicts = [
        (f"ratio at 128 connections {ratio:.2f} >= {TARGET_RATIO_AT_128}", ratio >= TARGET_RATIO_AT_128),
        (f"idle RSS {idle_rss:.1f} MiB <= {TARGET_IDLE_RSS_MIB}", idle_rss <= TARGET_IDLE_RSS_MIB),
        (f"median ready {sorted(ready_ms)[len(ready_ms) // 2]:.1f} ms <= {TARGET_READY_MS}",
         sorted(ready_ms)[len(ready_ms) // 2] <= TARGET_READY_MS),
    ]
    print()
    for text, ok in verdicts:
        print(f"{'PASS' if ok else 'MISS'}  {text}")
    for p in problems:
        print(f"FAIL  {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
