#!/usr/bin/env python3
"""Do commits that run at the same time share the disk's work, on one file system?

N threads each commit back to back for a few seconds, the way the store's writers do when
their commits overlap: `commit_by_rename` of bench/commit_designs.py, each thread with a temp
file of its own, the renames serialized. Reported per thread count: commits per second, all
threads together, and the mean time of one commit. If the disk shared the work of concurrent
commits, two threads would commit about twice as often as one, each commit taking about as
long as alone.

Usage: python3 bench/concurrent_commits.py DIR [--threads 1 2 4] [--seconds S]
"""

from __future__ import annotations

import argparse
import os
import threading
import time
from pathlib import Path

from commit_designs import commit_by_rename


def commit_until(directory: int, writer: int, rename_lock: threading.Lock, deadline: float,
                 results: list[tuple[int, float]]) -> None:
    commits, spent = 0, 0.0
    while (started := time.perf_counter()) < deadline:
        commit_by_rename(directory, commits, f"visits.tmp.{writer}", rename_lock)
        commits += 1
        spent += time.perf_counter() - started
    results.append((commits, spent))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir", type=Path, help="a directory on the file system to measure (created if missing)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--seconds", type=float, default=3.0)
    args = parser.parse_args()

    args.dir.mkdir(parents=True, exist_ok=True)
    directory = os.open(args.dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for count in args.threads:
            results: list[tuple[int, float]] = []
            rename_lock = threading.Lock()
            deadline = time.perf_counter() + args.seconds
            threads = [threading.Thread(target=commit_until, args=(directory, writer, rename_lock, deadline, results))
                       for writer in range(count)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            commits = sum(c for c, _ in results)
            spent = sum(s for _, s in results)
            print(f"{count} thread(s): {commits / args.seconds:7.0f} commits/s, "
                  f"{spent / commits * 1e6:7.1f} µs per commit")
    finally:
        os.close(directory)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
