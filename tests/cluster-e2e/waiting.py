"""Bounded waiting: poll a check until it holds or the time is up, keeping what it last saw."""

from __future__ import annotations

import time
from typing import Callable


class TimedOut(Exception):
    def __init__(self, what: str, timeout: float, last: str):
        super().__init__(f"timed out after {timeout:.0f}s waiting for {what}; last seen: {last}")
        self.what = what
        self.last = last


def wait_for(what: str, check: Callable[[], tuple[bool, str]], timeout: float, interval: float = 2.0,
             clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> str:
    """Calls check() until it returns (True, detail) and returns the detail; raises TimedOut
    with the last detail once `timeout` seconds have passed. check() is always called at least
    once, and once more at the deadline, so a short timeout still sees the latest state."""
    deadline = clock() + timeout
    while True:
        done, detail = check()
        if done:
            return detail
        left = deadline - clock()
        if left <= 0:
            raise TimedOut(what, timeout, detail)
        sleep(min(interval, left))
