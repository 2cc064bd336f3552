#!/usr/bin/env python3
"""Wall and CPU time per commit of three ways to make a count durable, on one file system.

- `rename`: the store's design (`CountFile::commit`, src/store/file.rs): create a temp file,
  write the count, fsync it, rename it over `visits`, fsync the directory.
- `o-tmpfile`: the same steps, but the temp file is made with `O_TMPFILE` and linked into
  the directory once it is synced, so that its fsync has no new directory entry to write.
- `in-place`: the count is rewritten in place in a preallocated second file and
  `fdatasync`ed, then `visits` is replaced by a rename that is not fsynced.

The store uses only the first; docs/performance.md says why not the others.

One commit after another, without the service; CPU time is this process's (user and
system), so work the kernel does in its own threads (a journal's, a loop device's) is not in
it.

Usage: python3 bench/commit_designs.py DIR [--commits N] [--design NAME ...]
"""

from __future__ import annotations

import argparse
import os
import time
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path


def commit_by_rename(directory: int, count: int, temp_name: str = "visits.tmp.0",
                     rename_guard: AbstractContextManager = nullcontext()) -> None:
    """The store's commit; writers that commit at once each have a temp file of their own and
    serialize the renames through `rename_guard`, as the store does."""
    temp = os.open(temp_name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644, dir_fd=directory)
    try:
        os.write(temp, b"%d\n" % count)
        os.fsync(temp)
    finally:
        os.close(temp)
    with rename_guard:
        os.rename(temp_name, "visits", src_dir_fd=directory, dst_dir_fd=directory)
    os.fsync(directory)


def commit_by_o_tmpfile(directory: int, count: int) -> None:
    temp = os.open(".", os.O_WRONLY | os.O_TMPFILE, 0o644, dir_fd=directory)
    try:
        os.write(temp, b"%d\n" % count)
        os.fsync(temp)
        os.link(f"/proc/self/fd/{temp}", "visits.tmp.0", dst_dir_fd=directory, follow_symlinks=True)
    finally:
        os.close(temp)
    os.rename("visits.tmp.0", "visits", src_dir_fd=directory, dst_dir_fd=directory)
    os.fsync(directory)


def in_place(directory: int):
    """The in-place design's commit, over a second file made and synced once beforehand."""
    durable = os.open("count", os.O_RDWR | os.O_CREAT, 0o644, dir_fd=directory)
    os.pwrite(durable, bytes(4096), 0)
    os.fsync(durable)
    os.fsync(directory)

    def commit(directory: int, count: int) -> None:
        # Two slots, so that a torn write leaves the other one whole.
        os.pwrite(durable, b"%020d\n" % count, (count % 2) * 512)
        os.fdatasync(durable)
        temp = os.open("visits.tmp.0", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644, dir_fd=directory)
        try:
            os.write(temp, b"%d\n" % count)
        finally:
            os.close(temp)
        os.rename("visits.tmp.0", "visits", src_dir_fd=directory, dst_dir_fd=directory)

    return commit


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir", type=Path, help="a directory on the file system to measure (created if missing)")
    parser.add_argument("--commits", type=int, default=2000)
    parser.add_argument("--design", choices=("rename", "o-tmpfile", "in-place"), action="append",
                        help="measure only this design (repeatable; default: all)")
    args = parser.parse_args()

    designs = {"rename": lambda _: commit_by_rename, "o-tmpfile": lambda _: commit_by_o_tmpfile,
               "in-place": in_place}
    for design, make in designs.items():
        if args.design and design not in args.design:
            continue
        where = args.dir / design
        where.mkdir(parents=True, exist_ok=True)
        directory = os.open(where, os.O_RDONLY | os.O_DIRECTORY)
        try:
            commit = make(directory)
            wall, cpu = time.perf_counter(), time.process_time()
            for count in range(1, args.commits + 1):
                commit(directory, count)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        finally:
            os.close(directory)
        print(f"{design:10} {wall / args.commits * 1e6:7.1f} µs per commit, CPU {cpu / args.commits * 1e6:6.1f} µs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
