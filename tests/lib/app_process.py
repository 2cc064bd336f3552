"""The app-rust binary as a child process on a port the OS chooses.

The app is started with `--listen 127.0.0.1:0` and JSON logs; the port comes from its own
`serving` log line, so no test picks a port that another process can take first.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path


def start(binary: Path, env: dict[str, str], log: Path) -> subprocess.Popen:
    """Starts `app-rust serve` on 127.0.0.1:0 with JSON logs written to `log`."""
    env = {**env, "APP_LISTEN": "127.0.0.1:0", "APP_LOG_FORMAT": "json"}
    with open(log, "wb") as out:
        return subprocess.Popen([str(binary), "serve"], env=env, stdout=out, stderr=subprocess.STDOUT)


def serving_port(proc: subprocess.Popen, log: Path, timeout: float = 20.0) -> int:
    """The port the app reports in its `serving` log line."""
    deadline = time.monotonic() + timeout
    while True:
        for line in log.read_text(errors="replace").splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if event.get("message") == "serving":
                return int(event["port"])
        if proc.poll() is not None:
            raise RuntimeError(f"app-rust exited with {proc.returncode} before serving:\n{log.read_text()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"app-rust did not report serving within {timeout} s:\n{log.read_text()}")
        time.sleep(0.0005)

