#!/usr/bin/env python3
"""Two builds of app-rust against each other, interleaved in one run (bench/compare.sh).

For a change that must not cost speed (a refactoring): each round starts a fresh server of
each build in turn (alternating which goes first) and measures durable visits on `/` and
`/healthz` with wrk. It reports the median over the rounds for each build and the ratio
after/before, which is what can be compared on this shared, noisy machine.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from bench import RESULTS, Server, file_system, interleaved, run_wrk


def measure(binary: Path, work: Path, connections: int, seconds: float) -> dict[str, float]:
    data = Path(tempfile.mkdtemp(prefix="data-", dir=work)) / "data"
    data.mkdir()
    server = Server(binary, data)
    try:
        return {path: run_wrk(server, path, connections, seconds).rps for path in ("/", "/healthz")}
    finally:
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--data-root", type=Path, default=RESULTS,
                        help="where the data directories go (default: bench/results)")
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    args.data_root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="compare-", dir=args.data_root))
    builds = {"before": args.before, "after": args.after}
    samples: dict[tuple[str, int, str], list[float]] = {}
    try:
        for round_no in range(args.rounds):
            for connections in (32, 128):
                for name in interleaved(list(builds), round_no):
                    rps = measure(builds[name], work, connections, args.seconds)
                    for path, value in rps.items():
                        samples.setdefault((name, connections, path), []).append(value)
                    print(f"round {round_no + 1} c={connections:<4} {name:6} / {rps['/']:>9,.0f}  "
                          f"/healthz {rps['/healthz']:>9,.0f}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"\nmedian of {args.rounds} interleaved rounds, wrk -t2, {args.seconds} s each, "
          f"data directories on {file_system(args.data_root)}\n")
    print("| connections | path | before req/s | after req/s | after / before |")
    print("|---:|---|---:|---:|---:|")
    for connections in (32, 128):
        for path in ("/", "/healthz"):
            before = statistics.median(samples[("before", connections, path)])
            after = statistics.median(samples[("after", connections, path)])
            print(f"| {connections} | `{path}` | {before:,.0f} | {after:,.0f} | {after / before:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
