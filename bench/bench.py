#!/usr/bin/env python3
"""Benchmark app-rust's durable visits on / against two references run beside it.

- the ceiling: bench/ceiling.rs, the same page on the same axum/hyper/tokio with an in-memory
  counter and nothing else;
- the peer: bench/flask_peer.py, the published Flask pattern under gunicorn -w 4.

Each round measures the three, interleaved (the order rotates), at 32 and 128 connections,
then the request pipeline alone: `/healthz` of app-rust (with its access log on and off) and of
the ceiling at 128 connections. The report gives every ratio's median over the rounds and its
spread, because this machine is shared and noisy. Run it through bench/run.sh, which installs
wrk, Flask and gunicorn and builds the release binaries.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import shutil
import statistics
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

TARGETS_CEILING_RATIO = {128: 0.6, 32: 0.4}
TARGET_PEER_RATIO_AT_128 = 25.0
TARGET_IDLE_RSS_MIB = 10.0
TARGET_LOAD_RSS_MIB = 32.0
TARGET_READY_MS = 100.0
CONNECTIONS = (32, 128)
PIPELINE_CONNECTIONS = 128


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
    # CPU time (user + system) per request by thread group, in µs; empty for the peer, whose
    # work is spread over gunicorn's worker processes.
    cpu_us_per_request: dict[str, float]


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


def thread_cpu_ticks(pid: int) -> dict[str, int]:
    """CPU time (user + system, in clock ticks) of `pid`'s threads, summed by thread name with
    a trailing number dropped (visits-writer-0 to -3 are one group)."""
    groups: dict[str, int] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = (task / "comm").read_text().strip()
            # The fields after the parenthesised name; utime and stime are stat's 14th and 15th.
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        group = re.sub(r"-\d+$", "", name)
        groups[group] = groups.get(group, 0) + int(fields[11]) + int(fields[12])
    return groups


def wait_until_answers(proc: subprocess.Popen, port: int, path: str, status: int, what: str,
                       within: float, poll: float) -> None:
    """Polls `path` until it answers `status`; fails if `proc` exits or `within` seconds pass."""
    deadline = time.monotonic() + within
    while True:
        try:
            if get(port, path, timeout=0.2)[0] == status:
                return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not answer {path} with {status} within {within} s")
        time.sleep(poll)


class Program:
    """A program under load, stopped with SIGTERM."""

    proc: subprocess.Popen
    port: int
    # Whether all of its work runs in `proc` (then its CPU per request is measured).
    single_process = True

    def stop(self) -> int:
        self.proc.terminate()
        return self.proc.wait(timeout=30)


class Server(Program):
    """The release binary on 127.0.0.1 with a fresh data directory on the real disk; its
    logs (one JSON line per request) go to a file, as a container runtime takes stdout."""

    def __init__(self, binary: Path, data_dir: Path, extra_env: dict[str, str] | None = None):
        env = {**os.environ, "DATA_DIR": str(data_dir), "POD_NAME": "bench-0", **(extra_env or {})}
        self.log = data_dir.parent / "server.log"
        started = time.perf_counter()
        self.binary = binary
        self.proc = app_process.start(binary, env, self.log)
        self.port = app_process.serving_port(self.proc, self.log)
        wait_until_answers(self.proc, self.port, "/readyz", 200, f"app-rust (log: {self.log})",
                           within=10, poll=0.0005)
        self.ready_ms = (time.perf_counter() - started) * 1000


def parse_duration_ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


class Ceiling(Program):
    """bench/ceiling.rs on 127.0.0.1."""

    def __init__(self, binary: Path):
        self.proc = subprocess.Popen([str(binary), "127.0.0.1:0"], stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        self.port = int(re.fullmatch(r"listening on 127\.0\.0\.1:(\d+)\n", line).group(1))


class FlaskPeer(Program):
    """bench/flask_peer.py under gunicorn -w 4 on 127.0.0.1 (a port the OS chooses, read from
    gunicorn's "Listening at" line), with its own data directory."""

    single_process = False

    def __init__(self, gunicorn: Path, data_dir: Path):
        self.data_dir = data_dir
        log = data_dir.parent / "gunicorn.log"
        with open(log, "wb") as out:
            self.proc = subprocess.Popen(
                [str(gunicorn), "-w", "4", "-b", "127.0.0.1:0", "--chdir", str(ROOT / "bench"),
                 "--log-level", "info", "flask_peer:app"],
                env={**os.environ, "DATA_DIR": str(data_dir)}, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while not (listening := re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", log.read_text())):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn did not start:\n{log.read_text()}")
            time.sleep(0.05)
        self.port = int(listening.group(1))
        # A path the app does not route: answered by a worker, counts no visit.
        wait_until_answers(self.proc, self.port, "/not-routed", 404, "gunicorn", within=30, poll=0.1)

    def kept(self) -> int:
        return int((self.data_dir / "visits").read_text().strip() or 0)


def run_wrk(server: Program, path: str, connections: int, seconds: float) -> WrkResult:
    peak = [rss_mib(server.proc.pid)]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.05):
            peak[0] = max(peak[0], rss_mib(server.proc.pid))

    sampler = threading.Thread(target=sample)
    cpu_before = thread_cpu_ticks(server.proc.pid) if server.single_process else {}
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
    cpu_after = thread_cpu_ticks(server.proc.pid) if server.single_process else {}
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    us_per_tick = 1e6 / os.sysconf("SC_CLK_TCK")
    cpu = {group: (ticks - cpu_before.get(group, 0)) * us_per_tick / max(1, requests)
           for group, ticks in cpu_after.items()}
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = parse_duration_ms(re.search(r"\s50%\s+(\S+)", out).group(1))
    p99 = parse_duration_ms(re.search(r"\s99%\s+(\S+)", out).group(1))
    non_2xx = int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", out)) else 0
    errors = 0
    if m := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors = sum(int(g) for g in m.groups())
    return WrkResult(path, connections, seconds, requests, rps, p50, p99, non_2xx, errors, peak[0], cpu)


def metric_sum(metrics: str, name: str) -> float:
    """Sums every sample of one metric family member, whatever its labels."""
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


def machine(data_root: Path) -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True)
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "filesystem": file_system(data_root),
        "wrk": (wrk.stdout + wrk.stderr).split("\n")[0].strip(),
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def file_system(path: Path) -> str:
    """The file system the data directories are on, as it decides what a commit costs: its
    type, whether ext4 has a journal (without one, each fsync writes the inode and directory
    blocks itself), and the mount options (with `discard`, freeing the replaced file's block
    waits for the device)."""
    mounts = subprocess.run(
        ["findmnt", "--noheadings", "--raw", "--output", "SOURCE,FSTYPE,OPTIONS", "--target", str(path)],
        capture_output=True, text=True, check=True).stdout.splitlines()
    # Mounts stacked on one mount point are listed in mount order; the last one is visible.
    source, fstype, options = mounts[-1].split()
    described = fstype
    if fstype == "ext4":
        journal = Path("/sys/fs/ext4") / Path(source).name / "journal_task"
        if journal.exists():
            described += " without a journal" if journal.read_text().strip() == "<none>" else " with a journal"
    return f"{described} (mounted {options})"


def plot(rounds: list[Round]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=110)
    for attr, label in (("ceiling", "ceiling: same page, in-memory counter"),
                        ("visits", "app-rust: durable visit (fsync)"),
                        ("peer", "Flask + gunicorn -w 4 (loses visits)")):
        medians = [statistics.median(getattr(r, attr)[c].rps for r in rounds) / 1000 for c in CONNECTIONS]
        ax.plot(CONNECTIONS, medians, marker="o", label=label)
    ax.set_xscale("log", base=2)
    ax.set_xticks(CONNECTIONS, [str(c) for c in CONNECTIONS])
    ax.set_xlabel("concurrent connections (wrk -t2)")
    ax.set_ylabel("thousand requests per second (median)")
    ax.set_title("app-rust and its references, same run")
    ax.grid(True, alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(PLOT)


@dataclass
class Round:
    """One round: the three programs at each connection count, interleaved."""

    visits: dict[int, WrkResult]
    ceiling: dict[int, WrkResult]
    peer: dict[int, WrkResult]
    # /healthz at PIPELINE_CONNECTIONS, by program (see PIPELINE_PROGRAMS).
    pipeline: dict[str, WrkResult]
    peer_acknowledged: int
    peer_kept: int
    acknowledged: int
    persisted: int
    commits: float
    commit_mean_ms: float


def interleaved(programs: list, start: int) -> list:
    """`programs` in turn, beginning with the one at `start` (modulo their number): rounds and
    steps pass a different `start` so that none always runs first, on a cooler or busier machine."""
    shift = start % len(programs)
    return programs[shift:] + programs[:shift]


def run_round(index: int, app: Path, ceiling_binary: Path, gunicorn: Path, work: Path, seconds: float) -> Round:
    data = work / f"round-{index}" / "data"
    data.mkdir(parents=True)
    peer_data = work / f"round-{index}" / "peer"
    peer_data.mkdir()
    server, ceiling, peer = Server(app, data), Ceiling(ceiling_binary), FlaskPeer(gunicorn, peer_data)
    visits, ceilings, peers = {}, {}, {}
    try:
        for step, c in enumerate(CONNECTIONS):
            programs = [("app-rust", server, visits), ("ceiling", ceiling, ceilings), ("peer", peer, peers)]
            for name, program, into in interleaved(programs, index + step):
                r = run_wrk(program, "/", c, seconds)
                into[c] = r
                print(f"round {index + 1} {name:8} c={c:<4} {r.rps:>9,.0f} req/s  p50 {r.p50_ms:6.2f} ms  "
                      f"p99 {r.p99_ms:6.2f} ms  rss {r.peak_rss_mib:5.1f} MiB  non-2xx {r.non_2xx}  "
                      f"errors {r.socket_errors}", flush=True)
        metrics = get(server.port, "/metrics")[1]
        pipeline = measure_pipeline(index, server, ceiling, work, seconds)
    finally:
        exit_code = server.stop()
        ceiling.stop()
        peer.stop()
    if exit_code != 0:
        raise RuntimeError(f"app-rust exited {exit_code} on SIGTERM; see {server.log}")
    commits = metric_sum(metrics, "app_persist_duration_seconds_count")
    return Round(
        visits, ceilings, peers, pipeline,
        peer_acknowledged=sum(r.requests - r.non_2xx for r in peers.values()),
        peer_kept=peer.kept(),
        acknowledged=sum(r.requests - r.non_2xx for r in visits.values()),
        persisted=int((data / "visits").read_text()),
        commits=commits,
        commit_mean_ms=1000 * metric_sum(metrics, "app_persist_duration_seconds_sum") / max(1.0, commits),
    )


PIPELINE_PROGRAMS = ("ceiling", "app-rust", "app-rust, access log off")
ACCESS_LOG_OFF = "info,app_rust::access=warn"


def measure_pipeline(index: int, server: Server, ceiling: Ceiling, work: Path, seconds: float) -> dict[str, WrkResult]:
    """`/healthz` of the ceiling, of app-rust, and of an app-rust whose access log is off
    (ACCESS_LOG_OFF keeps its other lines, "serving" among them, which the start waits for):
    what every request pays before any handler runs, and the access log's share of it.
    /healthz counts no visit and renders no page, so the disk plays no part here."""
    data = work / f"round-{index}" / "quiet" / "data"
    data.mkdir(parents=True)
    quiet = Server(server.binary, data, {"APP_LOG_LEVEL": ACCESS_LOG_OFF})
    results = {}
    try:
        programs = list(zip(PIPELINE_PROGRAMS, (ceiling, server, quiet)))
        for name, program in interleaved(programs, index):
            r = results[name] = run_wrk(program, "/healthz", PIPELINE_CONNECTIONS, seconds)
            print(f"round {index + 1} /healthz {name:25} c={PIPELINE_CONNECTIONS:<4} {r.rps:>9,.0f} req/s  "
                  f"non-2xx {r.non_2xx}  errors {r.socket_errors}", flush=True)
    finally:
        exit_code = quiet.stop()
    if exit_code != 0:
        raise RuntimeError(f"app-rust (access log off) exited {exit_code} on SIGTERM; see {quiet.log}")
    return {name: results[name] for name in PIPELINE_PROGRAMS}


def spread(values: list[float], fmt: str = "{:.2f}") -> str:
    """'median (min–max)' over the rounds."""
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def report(info: dict, rounds: list[Round], ready_ms: list[float], idle_rss: float) -> str:
    lines = [
        f"Measured {info['date']} on {info['cores']} cores ({info['cpu']}), Linux {info['kernel']}, "
        f"data directory on {info['filesystem']}, load from {info['wrk']} on the same machine "
        f"(`wrk -t2`, {len(rounds)} rounds, each program {rounds[0].visits[CONNECTIONS[0]].seconds:.0f} s per "
        f"connection count per round, interleaved). Each cell: median over the rounds, (min–max).",
        "",
        "| connections | app-rust durable visits/s | ceiling pages/s | **÷ ceiling** | Flask peer visits/s | "
        "**× peer** | `/` p50 | `/` p99 | peak RSS under load |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in CONNECTIONS:
        lines.append(
            f"| {c} | {spread([r.visits[c].rps for r in rounds], '{:,.0f}')} "
            f"| {spread([r.ceiling[c].rps for r in rounds], '{:,.0f}')} "
            f"| **{spread([r.visits[c].rps / r.ceiling[c].rps for r in rounds])}** "
            f"| {spread([r.peer[c].rps for r in rounds], '{:,.0f}')} "
            f"| **{spread([r.visits[c].rps / r.peer[c].rps for r in rounds], '{:.1f}')}** "
            f"| {spread([r.visits[c].p50_ms for r in rounds])} ms | {spread([r.visits[c].p99_ms for r in rounds])} ms "
            f"| {spread([r.visits[c].peak_rss_mib for r in rounds], '{:.1f}')} MiB |"
        )
    lines += ["", cpu_table(rounds), "", pipeline_table(rounds)]
    lost = sum(r.persisted < r.acknowledged for r in rounds)
    kept_claim = (f"**visits were lost in {lost} of {len(rounds)} rounds**: fewer on disk than acknowledged" if lost
                  else "in each round every acknowledged visit is in the `visits` file")
    kept = [r.peer_kept / max(1, r.peer_acknowledged) for r in rounds]
    per_fsync = [r.persisted / max(1.0, r.commits) for r in rounds]
    lines += [
        "",
        f"- **Visits kept (app-rust):** {kept_claim} "
        f"({', '.join(f'{r.acknowledged:,} acknowledged, {r.persisted:,} on disk' for r in rounds)}; the difference "
        f"is requests in flight when wrk stopped).",
        f"- **Flask peer's kept visits:** {', '.join(f'{r.peer_kept:,} of {r.peer_acknowledged:,}' for r in rounds)} "
        f"answered visits are in its file ({spread([100 * k for k in kept], '{:.2f}')} %): its workers race on the "
        f"file.",
        f"- **Group commit:** {spread(per_fsync, '{:.1f}')} visits per fsync; mean commit (write, fsync, rename, "
        f"directory fsync) {spread([r.commit_mean_ms for r in rounds])} ms.",
        f"- **Idle RSS** after start: {idle_rss:.1f} MiB. **Exec to `/readyz` = 200:** median {statistics.median(ready_ms):.1f} ms, "
        f"worst {max(ready_ms):.1f} ms over {len(ready_ms)} starts.",
    ]
    return "\n".join(lines)


def cpu_table(rounds: list[Round]) -> str:
    """CPU µs per request (user + system, all threads, from /proc) of app-rust by thread group
    and of the ceiling: what each request costs beyond the ceiling's, and where."""
    # Threads that did no measurable work (the main thread waits on the runtime) are left out.
    groups = sorted({g for r in rounds for c in CONNECTIONS for g, us in r.visits[c].cpu_us_per_request.items()
                     if us > 0},
                    key=lambda g: (g != "tokio-rt-worker", g))

    def cell(results: list[WrkResult], group: str | None = None) -> str:
        values = [sum(w.cpu_us_per_request.values()) if group is None else w.cpu_us_per_request.get(group, 0.0)
                  for w in results]
        return spread(values, "{:.1f}")

    lines = [
        "CPU per request in µs (user + system time of every thread, read from `/proc` before and after each "
        "run), by thread:",
        "",
        "| connections | ceiling, all threads | app-rust, all threads | "
        + " | ".join(f"app-rust `{g}`" for g in groups) + " |",
        "|---:|---:|---:|" + "---:|" * len(groups),
    ]
    for c in CONNECTIONS:
        visits = [r.visits[c] for r in rounds]
        lines.append(f"| {c} | {cell([r.ceiling[c] for r in rounds])} | {cell(visits)} | "
                     + " | ".join(cell(visits, g) for g in groups) + " |")
    return "\n".join(lines)


def pipeline_table(rounds: list[Round]) -> str:
    """`/healthz` of each program: the cost of the request pipeline without page or visit."""
    lines = [
        f"The request pipeline alone: `/healthz` at {PIPELINE_CONNECTIONS} connections (no page, no visit, "
        f"no disk), against the ceiling's `/healthz`; the access log off is `APP_LOG_LEVEL={ACCESS_LOG_OFF}`:",
        "",
        "| `/healthz` of | requests/s | ÷ ceiling's | CPU µs per request, all threads |",
        "|---|---:|---:|---:|",
    ]
    for name in PIPELINE_PROGRAMS:
        results = [r.pipeline[name] for r in rounds]
        ratios = [r.pipeline[name].rps / r.pipeline["ceiling"].rps for r in rounds]
        cpu = [sum(w.cpu_us_per_request.values()) for w in results]
        lines.append(f"| {name} | {spread([w.rps for w in results], '{:,.0f}')} | {spread(ratios)} "
                     f"| {spread(cpu, '{:.1f}')} |")
    return "\n".join(lines)


def verdict(what: str, value: float, op: str, target: float, unit: str = "", fmt: str = "{:.2f}") -> tuple[str, bool]:
    """("idle RSS 9.0 MiB <= 10.0", True): a figure against its target."""
    ok = value >= target if op == ">=" else value <= target
    return f"{what} {fmt.format(value)}{unit} {op} {target}", ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--binary", type=Path, required=True, help="app-rust release binary")
    parser.add_argument("--ceiling", type=Path, required=True, help="bench/ceiling.rs release binary")
    parser.add_argument("--gunicorn", type=Path, required=True, help="gunicorn of the bench venv")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5, help="seconds of each wrk run")
    parser.add_argument("--quick", action="store_true", help="1 round of 3 s runs (a smoke test, not a result)")
    parser.add_argument("--data-root", type=Path, default=RESULTS,
                        help="where the data directories go (default: bench/results); a mount like the "
                             "one the PersistentVolumes use shows what a commit costs there")
    parser.add_argument("--write-docs", action="store_true", help="refresh docs/performance.md and the plot")
    args = parser.parse_args()
    rounds_wanted, seconds = (1, 3) if args.quick else (args.rounds, args.seconds)

    RESULTS.mkdir(parents=True, exist_ok=True)
    args.data_root.mkdir(parents=True, exist_ok=True)
    info = machine(args.data_root)
    work = Path(tempfile.mkdtemp(prefix="bench-", dir=args.data_root))
    try:
        ready_ms = []
        for i in range(7):
            data = work / f"ready-{i}" / "data"
            data.mkdir(parents=True)
            s = Server(args.binary, data)
            ready_ms.append(s.ready_ms)
            if i == 0:
                time.sleep(0.5)
                idle_rss = rss_mib(s.proc.pid)
            s.stop()
        rounds = [run_round(i, args.binary, args.ceiling, args.gunicorn, work, seconds) for i in range(rounds_wanted)]
    finally:
        shutil.rmtree(work, ignore_errors=True)

    median = statistics.median
    verdicts = [
        verdict(f"ceiling ratio at {c} connections", median([r.visits[c].rps / r.ceiling[c].rps for r in rounds]),
                ">=", target)
        for c, target in TARGETS_CEILING_RATIO.items()
    ] + [
        verdict("peer ratio at 128 connections", median([r.visits[128].rps / r.peer[128].rps for r in rounds]),
                ">=", TARGET_PEER_RATIO_AT_128, fmt="{:.1f}"),
        verdict("idle RSS", idle_rss, "<=", TARGET_IDLE_RSS_MIB, " MiB", "{:.1f}"),
        verdict("peak RSS under load", max(r.visits[c].peak_rss_mib for r in rounds for c in CONNECTIONS),
                "<=", TARGET_LOAD_RSS_MIB, " MiB", "{:.1f}"),
        verdict("median ready", median(ready_ms), "<=", TARGET_READY_MS, " ms", "{:.1f}"),
    ]
    text = report(info, rounds, ready_ms, idle_rss)
    text += "\n\nAgainst the targets, in the median:\n\n" + "\n".join(
        f"- {'met' if ok else '**missed**'}: {what}" for what, ok in verdicts)
    print()
    print(text)
    (RESULTS / "latest.json").write_text(json.dumps(
        {"machine": info, "rounds": [asdict(r) for r in rounds], "ready_ms": ready_ms, "idle_rss_mib": idle_rss},
        indent=2) + "\n")
    if args.write_docs:
        plot(rounds)
        doc = DOC.read_text()
        start, end = doc.index(BEGIN) + len(BEGIN), doc.index(END)
        DOC.write_text(doc[:start] + "\n" + text + "\n" + doc[end:])
        print(f"\nwrote {DOC.relative_to(ROOT)} and {PLOT.relative_to(ROOT)}")

    problems = []
    for r in rounds:
        if any(w.non_2xx or w.socket_errors for w in r.visits.values()):
            problems.append("some visits to app-rust failed (non-2xx or socket errors)")
        if r.persisted < r.acknowledged:
            problems.append(f"LOST VISITS: {r.acknowledged} acknowledged but {r.persisted} persisted")
    print()
    for what, ok in verdicts:
        print(f"{'PASS' if ok else 'MISS'}  {what}")
    for p in problems:
        print(f"FAIL  {p}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
