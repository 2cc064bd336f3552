#!/usr/bin/env python3
"""What the goals would take (bench/bounds.sh): app-rust as shipped beside experimental builds
with a guarantee taken out, each also with its access log off, against the ceiling and the
Flask peer, interleaved in one run.

The experiments (bench/experiments/*.patch) are measurements, never builds to run:
answer-before-commit answers a visit before any commit includes it, no-commit keeps the count
in memory only. Their figures say how far each guarantee and each documented behaviour stands
between the service and the goals in `TARGETS_CEILING_RATIO` and `TARGET_PEER_RATIO_AT_128`.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bench import (ACCESS_LOG_OFF, CONNECTIONS, RESULTS, TARGET_PEER_RATIO_AT_128, TARGETS_CEILING_RATIO,
                   Ceiling, FlaskPeer, Program, Server, file_system, interleaved, run_wrk, spread)


@dataclass
class Sample:
    rps: list[float] = field(default_factory=list)
    ceiling_ratio: list[float] = field(default_factory=list)
    peer_factor: list[float] = field(default_factory=list)
    cpu_us: list[float] = field(default_factory=list)


def app_variants(binary: Path, experiments: list[tuple[str, Path]]) -> list[tuple[str, Path, dict[str, str]]]:
    """Every build, as it ships its logs and with its access log off."""
    builds = [("app-rust", binary)] + experiments
    return [(f"{name}{label}", path, env)
            for name, path in builds
            for label, env in (("", {}), (", access log off", {"APP_LOG_LEVEL": ACCESS_LOG_OFF}))]


def run_round(index: int, variants, ceiling_binary: Path, gunicorn: Path, work: Path, seconds: float,
              samples: dict[tuple[str, int], Sample]) -> None:
    round_dir = work / f"round-{index}"
    programs: list[tuple[str, Program]] = []
    try:
        programs.append(("ceiling", Ceiling(ceiling_binary)))
        peer_data = round_dir / "peer"
        peer_data.mkdir(parents=True)
        programs.append(("peer", FlaskPeer(gunicorn, peer_data)))
        for number, (name, binary, env) in enumerate(variants):
            data = round_dir / f"app-{number}" / "data"
            data.mkdir(parents=True)
            programs.append((name, Server(binary, data, env)))
        for step, connections in enumerate(CONNECTIONS):
            rps = {}
            for name, program in interleaved(programs, index + step):
                r = run_wrk(program, "/", connections, seconds)
                if r.non_2xx or r.socket_errors:
                    raise RuntimeError(f"{name}: {r.non_2xx} non-2xx answers, {r.socket_errors} socket errors")
                rps[name] = r.rps
                sample = samples.setdefault((name, connections), Sample())
                sample.rps.append(r.rps)
                if program.single_process:
                    sample.cpu_us.append(sum(r.cpu_us_per_request.values()))
                print(f"round {index + 1} c={connections:<4} {name:45} {r.rps:>9,.0f} req/s", flush=True)
            for name, value in rps.items():
                samples[(name, connections)].ceiling_ratio.append(value / rps["ceiling"])
                samples[(name, connections)].peer_factor.append(value / rps["peer"])
    finally:
        exits = {name: program.stop() for name, program in programs}
    # Only app-rust's builds stop on SIGTERM with a status to check (the ceiling has no handler).
    failed = {name: exits[name] for name, program in programs if isinstance(program, Server) and exits[name] != 0}
    if failed:
        raise RuntimeError(f"app-rust builds exited non-zero on SIGTERM: {failed}")


def report(names: list[str], samples: dict[tuple[str, int], Sample], rounds: int, seconds: float,
           data_root: Path) -> str:
    goals = ", ".join(f"{ratio} × the ceiling at {c}" for c, ratio in sorted(TARGETS_CEILING_RATIO.items()))
    lines = [f"Median (min–max) of {rounds} interleaved rounds, wrk -t2 on `/`, {seconds:g} s each, data "
             f"directories on {file_system(data_root)}. Goals: {goals}, {TARGET_PEER_RATIO_AT_128:g} × the peer "
             f"at 128; ✔ where the median meets one.", ""]
    for connections in CONNECTIONS:
        peer_goal = connections == 128
        lines += [f"{connections} connections:", "",
                  "| program | req/s | ÷ ceiling | × peer | CPU µs per request |",
                  "|---|---:|---:|---:|---:|"]
        for name in names:
            s = samples[(name, connections)]
            ratio, factor = statistics.median(s.ceiling_ratio), statistics.median(s.peer_factor)
            meets_ratio = name != "ceiling" and ratio >= TARGETS_CEILING_RATIO[connections]
            meets_factor = peer_goal and name not in ("ceiling", "peer") and factor >= TARGET_PEER_RATIO_AT_128
            cpu = f"{statistics.median(s.cpu_us):.1f}" if s.cpu_us else "–"
            lines.append(f"| {name} | {spread(s.rps, '{:,.0f}')} "
                         f"| {ratio:.2f}{' ✔' if meets_ratio else ''} | {factor:.1f}{' ✔' if meets_factor else ''} "
                         f"| {cpu} |")
        lines.append("")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--binary", type=Path, required=True)
    parser.add_argument("--ceiling", type=Path, required=True)
    parser.add_argument("--gunicorn", type=Path, required=True)
    parser.add_argument("--experiment", action="append", default=[], metavar="NAME=BINARY")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--data-root", type=Path, default=RESULTS,
                        help="where the data directories go (default: bench/results)")
    args = parser.parse_args()
    experiments = [(name, Path(path)) for name, path in (e.split("=", 1) for e in args.experiment)]
    variants = app_variants(args.binary, experiments)
    names = ["ceiling", "peer"] + [name for name, _, _ in variants]
    args.data_root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="bounds-", dir=args.data_root))
    samples: dict[tuple[str, int], Sample] = {}
    try:
        for index in range(args.rounds):
            run_round(index, variants, args.ceiling, args.gunicorn, work, args.seconds, samples)
    except BaseException:
        print(f"kept {work} (each program's log is in its round's directory)", file=sys.stderr)
        raise
    shutil.rmtree(work, ignore_errors=True)
    print()
    print(report(names, samples, args.rounds, args.seconds, args.data_root))
    return 0


if __name__ == "__main__":
    sys.exit(main())
