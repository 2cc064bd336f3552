#!/usr/bin/env python3
"""Times each step of the store's commit on one file system, without the service.

The same system calls as `CountFile::commit` (src/store/file.rs), one commit after another:
create the temp file and write the count, fsync it, rename it over `visits`, fsync the
directory. With `--drop-replaced later`, the file that the rename replaces is held open and
closed after the commit, so the rename no longer frees it and the cost of freeing it shows on
its own (`close replaced`); with `--drop-replaced thread`, another thread closes it while the
next commit runs. Wall-clock microseconds per commit, as the visits waiting for it see them.

Usage: python3 bench/commit_steps.py DIR [--commits N] [--drop-replaced inline|later|thread]
"""

from __future__ import annotations

import argparse
import os
import queue
import sys
import threading
import time
from pathlib import Path


STEPS = ("write", "fsync", "rename", "fsync directory", "close replaced")


def close_each(files: queue.SimpleQueue[int | None]) -> None:
    for fd in iter(files.get, None):
        os.close(fd)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir", type=Path, help="a directory on the file system to measure (created if missing)")
    parser.add_argument("--commits", type=int, default=2000)
    parser.add_argument("--drop-replaced", choices=("inline", "later", "thread"), default="inline")
    args = parser.parse_args()

    args.dir.mkdir(parents=True, exist_ok=True)
    directory = os.open(args.dir, os.O_RDONLY | os.O_DIRECTORY)
    closer: queue.SimpleQueue[int | None] = queue.SimpleQueue()
    thread = threading.Thread(target=close_each, args=(closer,))
    thread.start()
    spent = dict.fromkeys(STEPS, 0.0)
    replaced = None
    started = time.perf_counter()
    for count in range(1, args.commits + 1):
        marks = [time.perf_counter()]
        temp = os.open("visits.tmp.0", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644, dir_fd=directory)
        os.write(temp, b"%d\n" % count)
        marks.append(time.perf_counter())
        os.fsync(temp)
        marks.append(time.perf_counter())
        os.rename("visits.tmp.0", "visits", src_dir_fd=directory, dst_dir_fd=directory)
        marks.append(time.perf_counter())
        os.fsync(directory)
        marks.append(time.perf_counter())
        if args.drop_replaced == "inline":
            os.close(temp)
        else:
            if replaced is not None:
                if args.drop_replaced == "later":
                    os.close(replaced)
                else:
                    closer.put(replaced)
            replaced = temp
        marks.append(time.perf_counter())
        for step, begin, end in zip(STEPS, marks, marks[1:]):
            spent[step] += end - begin
    elapsed = time.perf_counter() - started
    closer.put(None)
    thread.join()
    if replaced is not None:
        os.close(replaced)
    os.close(directory)

    per_commit = {name: round(seconds / args.commits * 1e6) for name, seconds in spent.items()}
    print(f"{args.dir} ({args.drop_replaced}): {elapsed / args.commits * 1e6:.0f} µs per commit; "
          + ", ".join(f"{name} {us} µs" for name, us in per_commit.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
