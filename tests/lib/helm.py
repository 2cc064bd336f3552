"""Running tools and `helm template`, shared by the chart tests and the replica run.

A missing tool is an error that says how to install it, never a skip.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import yaml


# What a cluster with the Prometheus Operator serves, as `helm template --api-versions`: the
# chart renders its ServiceMonitor and PrometheusRule only then.
MONITORING_API = [
    "monitoring.coreos.com/v1",
    "monitoring.coreos.com/v1/ServiceMonitor",
    "monitoring.coreos.com/v1/PrometheusRule",
]


def tool(name: str) -> str:
    """Absolute path of an installed tool."""
    path = shutil.which(name)
    if path is None:
        raise RuntimeError(
            f"{name} is not on PATH: run scripts/install-tools.sh and source scripts/tools/env.sh"
        )
    return path


def run(args: list[str], check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    """Runs a command, capturing its output; a failure names the command and shows both streams."""
    proc = subprocess.run(args, capture_output=True, text=True, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"command failed ({proc.returncode}): {' '.join(args)}\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


def template_command(
    helm: str,
    release: str,
    chart: Path,
    namespace: str,
    values_files: list[Path] = (),
    set_values: list[str] = (),
    set_json: list[str] = (),
    api_versions: list[str] = (),
    extra: list[str] = (),
    kube_version: str | None = None,
) -> list[str]:
    """The `helm template` command line for these inputs."""
    cmd = [helm, "template", release, str(chart), "--namespace", namespace]
    if kube_version:
        cmd += ["--kube-version", kube_version]
    for f in values_files:
        cmd += ["-f", str(f)]
    for api in api_versions:
        cmd += ["--api-versions", api]
    for s in set_values:
        cmd += ["--set", s]
    for s in set_json:
        cmd += ["--set-json", s]
    return cmd + list(extra)


def parse(manifest: str) -> list[dict]:
    """The documents of a rendered manifest, empty ones dropped."""
    return [d for d in yaml.safe_load_all(manifest) if d]
