"""kubectl and helm against one cluster and namespace; every call is recorded for the report
and echoed, so what the suite checked is what the user sees."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Result:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def command(self) -> str:
        return shlex.join(self.args)

    @property
    def output(self) -> str:
        return (self.stdout + self.stderr).rstrip()


class CommandFailed(Exception):
    def __init__(self, result: Result):
        super().__init__(f"`{result.command}` exited {result.returncode}: {result.output[-2000:]}")
        self.result = result


class Kube:
    """Runs kubectl and helm with the chosen kubeconfig, context and namespace."""

    def __init__(self, kubeconfig: str | None, context: str | None, namespace: str | None = None,
                 record: Callable[[Result], None] | None = None, echo: bool = True):
        self.kubeconfig = kubeconfig
        self.context = context
        self.namespace = namespace
        self.record = record
        self.echo = echo

    def kubectl_args(self, args: list[str], namespaced: bool = True) -> list[str]:
        cmd = ["kubectl"]
        if self.kubeconfig:
            cmd += ["--kubeconfig", self.kubeconfig]
        if self.context:
            cmd += ["--context", self.context]
        if namespaced and self.namespace:
            cmd += ["--namespace", self.namespace]
        return cmd + args

    def helm_args(self, args: list[str]) -> list[str]:
        cmd = ["helm"]
        if self.kubeconfig:
            cmd += ["--kubeconfig", self.kubeconfig]
        if self.context:
            cmd += ["--kube-context", self.context]
        if self.namespace:
            cmd += ["--namespace", self.namespace]
        return cmd + args

    def kubectl(self, *args: str, check: bool = True, namespaced: bool = True, timeout: float = 120,
                quiet: bool = False) -> Result:
        return self.run(self.kubectl_args(list(args), namespaced), check, timeout, quiet)

    def helm(self, *args: str, check: bool = True, timeout: float = 900) -> Result:
        return self.run(self.helm_args(list(args)), check, timeout, quiet=False)

    def get_json(self, *args: str, namespaced: bool = True) -> dict | None:
        """`kubectl get ARGS -o json`, or None when the object does not exist. Not recorded:
        the suite polls with it; what it concluded is recorded instead."""
        r = self.kubectl("get", *args, "-o", "json", check=False, namespaced=namespaced, quiet=True)
        if r.returncode != 0:
            if "NotFound" in r.stderr or "not found" in r.stderr:
                return None
            raise CommandFailed(r)
        return json.loads(r.stdout)

    def run(self, args: list[str], check: bool, timeout: float, quiet: bool) -> Result:
        try:
            p = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
            result = Result(args, p.returncode, p.stdout, p.stderr)
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            result = Result(args, 124, out, f"killed after {timeout:.0f}s\n")
        except FileNotFoundError:
            result = Result(args, 127, "", f"{args[0]}: command not found\n")
        if not quiet:
            if self.echo:
                print(f"$ {result.command}\n{result.output}", flush=True, file=sys.stdout)
            if self.record:
                self.record(result)
        if check and result.returncode != 0:
            raise CommandFailed(result)
        return result
