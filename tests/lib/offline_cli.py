"""kubectl and helm where no cluster runs: against a kubeconfig whose server refuses every
connection.

Both tools parse their command line before they connect, so what they print then tells a
usage error (an unknown flag or command, a flag without its value) from a command line that
would run on a cluster. Shared by the chart tests (the docs' commands) and the cluster suite's
tests (the suite's own command lines).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REFUSING_SERVER = "https://127.0.0.1:1"

# cobra's messages, which Helm and kubectl share. Also a POSIX extended regex (for grep -E).
USAGE_ERROR = re.compile(
    r"unknown (shorthand )?flag|unknown command|flag needs an argument|bad flag syntax"
    r'|invalid argument ".*" for ".*" flag'
)
CONNECTION_FAILED = re.compile(r"127\.0\.0\.1:1\b|connection refused|cluster unreachable")

KUBECONFIG = f"""apiVersion: v1
kind: Config
clusters:
- name: refusing
  cluster: {{server: "{REFUSING_SERVER}", insecure-skip-tls-verify: true}}
users:
- name: nobody
  user: {{token: not-a-token}}
contexts:
- name: refusing
  context: {{cluster: refusing, user: nobody}}
current-context: refusing
"""


def offline_env(home: Path) -> dict[str, str]:
    """An environment whose kubeconfig points at the refusing server, with Helm's directories
    and HOME under `home`, so nothing of the user's is read or written."""
    home.mkdir(parents=True, exist_ok=True)
    kubeconfig = home / "kubeconfig"
    kubeconfig.write_text(KUBECONFIG)
    return {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "KUBECONFIG": str(kubeconfig),
        "HELM_CACHE_HOME": str(home / "helm-cache"),
        "HELM_CONFIG_HOME": str(home / "helm-config"),
        "HELM_DATA_HOME": str(home / "helm-data"),
    }


def run_offline(binary: str, args: list[str], env: dict[str, str], cwd: Path) -> tuple[str, int]:
    """Runs `binary args` in `env`: its output (both streams) and exit status."""
    proc = subprocess.run([binary, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL)
    return proc.stdout + proc.stderr, proc.returncode
