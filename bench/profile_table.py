#!/usr/bin/env python3
"""The profile table of docs/performance.md from a folded perf profile (inferno-collapse-perf).

Each sample is counted once: the writer and logging threads by thread name (the first frame
of a folded stack), every other sample under the innermost frame on its stack that one of
the rules below names. A sample no rule names is "other".

Usage: python3 bench/profile_table.py folded.txt
"""

from __future__ import annotations

import re
import sys
from collections import Counter

THREADS = [
    ("writer threads: write, fsync, rename, fsync of the directory", r"^visits-writer"),
    ("logging thread: writing the log lines to stdout", r"^log-writer"),
]

# Tried on each frame from the innermost outwards; the first frame some rule names decides.
# Whole-program LTO inlines the handlers and the visit's queueing (store::commit) into axum's
# and hyper's frames, so they have no rule of their own: they count under HTTP/1.
FRAMES = [
    ("allocator", r"^(malloc|_int_free|_int_malloc|cfree|realloc|malloc_consolidate|unlink_chunk"
                  r"|__libc_malloc|__GI___libc_free|_int_realloc)"),
    ("scheduling and wakeups: futex, context switches, reschedule interrupts",
     r"futex|schedule|finish_task_switch|try_to_wake_up|_raw_spin_unlock_irqrestore|park|sched_"
     r"|__switch_to"),
    ("TCP send and receive, epoll (kernel)",
     r"tcp_|sock_|epoll|__libc_(read|write|recv|send)|writev|readv|inet_|ip_|nf_|skb|__dev_queue"
     r"|net_rx|dev_hard|loopback|_copy_(from|to)_iter|sys_recvfrom|sys_sendto|__sys_"),
    ("access-log line: formatting on the request path",
     r"tracing_subscriber|tracing_core|app_rust::telemetry|serde_json|zmij"),
    ("request metrics", r"prometheus_client|observe_request"),
    ("page rendering: HTML and time formatting", r"app_rust::page|chrono"),
    ("timers: request timeout, header read timeout", r"tokio::time|tokio::runtime::time|TokioTimer|timeout"),
    ("HTTP/1, routing, middleware and handlers (their inlined code)", r"hyper|axum|tower|httparse|http::"),
]
OTHER = "other (runtime, kernel entry)"


def bucket(stack: str) -> str:
    for name, pattern in THREADS:
        if re.search(pattern, stack):
            return name
    for frame in reversed(stack.split(";")[1:]):
        for name, pattern in FRAMES:
            if re.search(pattern, frame):
                return name
    return OTHER


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    samples: Counter[str] = Counter()
    with open(sys.argv[1], encoding="utf-8") as folded:
        for line in folded:
            stack, count = line.rsplit(" ", 1)
            samples[bucket(stack)] += int(count)
    total = sum(samples.values())
    print("| where (innermost named frame) | share of app-rust's CPU samples |")
    print("|---|---:|")
    for name, count in samples.most_common():
        print(f"| {name} | {100 * count / total:.1f} % |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
