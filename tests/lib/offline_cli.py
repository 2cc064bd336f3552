"""kubectl and helm where no cluster runs: against a kubeconfig whose server refuses every
connection.

Both tools parse their command line before they connect, so what they print then tells a
usage error (an unknown flag or command, a flag without its value) from a command line that
would run on a cluster. Also app-rust, for the arguments a `kubectl run` gives the image. Shared
by the chart tests (the docs' commands) and the cluster suite's tests (the suite's own command
lines).
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

from helm import tool

# The builds every command line is checked with: the ones scripts/tools/install-helm.sh pins,
# not whichever kubectl or helm is first on PATH.
PINNED = {"kubectl": ("kubectl1.35",), "helm": ("helm3", "helm4")}

REFUSING_SERVER = "https://127.0.0.1:1"
# What an app-rust URL argument becomes, so that `load` or `probe` fails fast instead of waiting.
REFUSING_URL = "http://127.0.0.1:1/"

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


def refusals(tool_name: str, args: list[str], env: dict[str, str], cwd: Path) -> list[str]:
    """`tool_name args` through each pinned build: what each one that refuses it as a usage error
    says (none: every build accepts it)."""
    found = []
    for binary in PINNED[tool_name]:
        output, _ = run_offline(tool(binary), args, env, cwd)
        if USAGE_ERROR.search(output):
            found.append(f"{binary} {shlex.join(args)}: {output.strip()}")
    return found


def app_rust_refusal(binary: Path, args: list[str]) -> str | None:
    """What app-rust says when it refuses `args` (clap exits 2 on a usage error), run with each
    URL swapped for REFUSING_URL; None when it takes them."""
    args = [REFUSING_URL if a.startswith("http://") else a for a in args]
    proc = subprocess.run([str(binary), *args], capture_output=True, text=True, timeout=60)
    return f"app-rust {shlex.join(args)}: {proc.stderr.strip()}" if proc.returncode == 2 else None
