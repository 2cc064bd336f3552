"""The command lines that the cluster suite gives kubectl and Helm, read from its source, are
ones that kubectl 1.35, Helm 3 and Helm 4 accept.

Without a cluster the suite's run stops at the install (test_building_blocks runs it that way),
so the steps after it (traffic, a deleted pod, scaling, the canary, `helm test`, the uninstall)
never run here. Their command lines are read from the source instead: every call of `kubectl`,
`helm` and `get_json`, and every literal `["helm", ...]` list, with its literal arguments. A
formatted value (a timeout, a count, a pod name) becomes `1` unless it is a module constant; an argument that is not literal
is left out; a call that only passes its own arguments on (`kube.helm(*args, ...)`) is a
wrapper, not a command line. Each line then runs against a server that refuses connections
(tests/lib/offline_cli.py), and a usage error fails the test.
"""

from __future__ import annotations

import ast
import shlex
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "tests" / "lib"))

from offline_cli import PINNED, app_rust_refusal, offline_env, refusals  # noqa: E402  (tests/lib)

SOURCES = ("steps.py", "suite.py", "observe.py")
CALLS = {"kubectl": "kubectl", "get_json": "kubectl", "helm": "helm"}


def module_constants(tree: ast.Module) -> dict[str, str]:
    """Module-level `NAME = "text"` assignments, such as `RELEASE = "app-rust"`."""
    return {target.id: node.value.value
            for node in tree.body if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
            for target in node.targets if isinstance(target, ast.Name)}


def literal(node: ast.expr, constants: dict[str, str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(part.value if isinstance(part, ast.Constant)
                       else literal(part.value, constants) or "1" for part in node.values)
    if isinstance(node, ast.Name):
        return constants.get(node.id)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "str":
        return "1"
    return None


def is_kube(node: ast.expr) -> bool:
    """`kube` or `<something>.kube`: the Kube object, whose helm() adds no flags of its own."""
    return (isinstance(node, ast.Name) and node.id == "kube") or (
        isinstance(node, ast.Attribute) and node.attr == "kube")


def command_lines() -> list[tuple[str, str, list[str]]]:
    found = []
    for source in SOURCES:
        tree = ast.parse((HERE / source).read_text())
        constants = module_constants(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in CALLS:
                if any(isinstance(a, ast.Starred) and isinstance(a.value, ast.Name) for a in node.args):
                    continue  # a wrapper passing its own arguments on
                args = [v for v in (literal(a, constants) for a in node.args if not isinstance(a, ast.Starred))
                        if v is not None]
                if node.func.attr == "get_json":
                    args = ["get", *args, "-o", "json"]
                if node.func.attr == "helm" and not is_kube(node.func.value):
                    args += ["--timeout", "1s"]  # Session.helm bounds every helm command
                found.append((f"{source}:{node.lineno}", CALLS[node.func.attr], args))
            elif isinstance(node, ast.List) and node.elts:
                words = [literal(e, constants) for e in node.elts]
                if words[0] in PINNED and None not in words:
                    found.append((f"{source}:{node.lineno}", words[0], words[1:]))
    return found


COMMAND_LINES = command_lines()


def test_the_source_gives_the_command_lines_of_every_step():
    """The reading finds the lines known to be there, so a broken reader cannot pass."""
    shown = {f"{tool_name} {shlex.join(args)}" for _, tool_name, args in COMMAND_LINES}
    for expected in [
        "helm install app-rust 1 --wait --timeout 1s",
        "helm upgrade app-rust 1 --reuse-values --timeout 1s",
        "helm test app-rust --logs --timeout 1s",
        "helm uninstall app-rust --wait --timeout 1s",
        "helm status app-rust -o json",
        "helm version --short",
        "kubectl rollout status statefulset/app-rust --timeout=1s",
        "kubectl scale statefulset/app-rust --replicas=1",
        "kubectl exec pod/1 -c app-rust -- cat /app/data/visits",
        "kubectl get --raw /api/v1/namespaces/1/pods/1:1/proxy1",
        "kubectl get pod cluster-e2e-load -o json",
    ]:
        assert expected in shown, f"{expected!r} not among:\n" + "\n".join(sorted(shown))


@pytest.mark.parametrize("tool_name", ["kubectl", "helm"])
def test_every_command_line_of_the_suite_parses(tool_name, tmp_path):
    env = offline_env(tmp_path / "offline")
    refused = [f"{where}: {r}" for where, name, args in COMMAND_LINES if name == tool_name
               for r in refusals(name, args, env, tmp_path)]
    assert not refused, "\n".join(refused)


def test_the_app_rust_command_lines_it_runs_in_pods_parse():
    """`kubectl run ... -- load URL ...` runs the image's app-rust: its arguments must be ones the
    real binary accepts (clap exits 2 on a usage error; here the URL refuses, so `load` exits 1)."""
    binary = HERE.parents[1] / "target" / "debug" / "app-rust"
    assert binary.exists(), "build it first (cargo build; scripts/test.sh runs cargo test before this)"
    in_pods = [(where, args[args.index("--") + 1:]) for where, name, args in COMMAND_LINES
               if name == "kubectl" and args[:1] == ["run"] and "--" in args]
    assert in_pods, "no `kubectl run ... -- ARGS` found"
    refused = [f"{where}: {r}" for where, args in in_pods if (r := app_rust_refusal(binary, args))]
    assert not refused, "\n".join(refused)
