"""Every `helm` and `kubectl` command the docs and the chart's NOTES give is one that Helm 3,
Helm 4 and kubectl (1.35) accept.

Readers copy these commands as they are, with whichever Helm they have (the docs support
Helm 3.17+ and Helm 4), and the two differ: Helm 4 has no `helm list --all`, for one. No
cluster runs here, so each command runs against a kubeconfig whose server refuses every
connection. The tools parse the command line before they connect, so a command passes when it
fails only at the connection (or needs no cluster and succeeds), and a usage error (an unknown
flag or command, a flag without its value, a wrong number of arguments) fails the test with
the tool's own message.

Commands come from the code blocks of the tracked Markdown files (a shell line, or a `$ `
line of captured output), from inline code that starts with `helm ` or `kubectl ` (often a
fragment such as `helm upgrade --set replicaCount=2`, so only flag errors count there), and
from the NOTES that `helm install` prints for the default values. The arguments that a
`kubectl run --image=app-rust:...` passes to the image's app-rust are run through the real binary.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from dataclasses import dataclass

import pytest

from conftest import CHART, ROOT, run, tool
from offline_cli import CONNECTION_FAILED, PINNED, USAGE_ERROR, app_rust_refusal, offline_env, run_offline

ARGUMENT_ERROR = re.compile(r"accepts (at most |between )?\d.* arg\(s\)|requires (at least |exactly )?\d+ arg")

# Shell words after which a new command starts.
SHELL_KEYWORDS = {"do", "then", "else", "elif", "done", "fi", "time", "!", "{", "}"}


@dataclass(frozen=True)
class DocCommand:
    where: str
    argv: tuple[str, ...]
    # Inline code is often a fragment (no release, "..." for the rest): only flags are checked.
    fragment: bool

    def __str__(self) -> str:
        return f"{self.where}: {shlex.join(self.argv)}"


def placeholders_filled(text: str) -> str:
    """`<node>` and `<the new one>` become words, so the shell reading is not a redirection."""
    return re.sub(r"<([a-z][a-z -]*)>", lambda m: m.group(1).replace(" ", "-"), text)


def simple_commands(text: str) -> list[list[str]]:
    """The simple commands of one shell command line: split at `;`, `|`, `&&`, `(`, `)` and at
    the shell's keywords, comments dropped, `$(...)` opened up."""
    lexer = shlex.shlex(placeholders_filled(text), posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    commands, current = [], []
    for token in lexer:
        operator = bool(token) and set(token) <= set("();<>|&")
        if operator or (token in SHELL_KEYWORDS and not current):
            if current:
                commands.append(current)
            current = []
            continue
        current.append(token)
    if current:
        commands.append(current)
    return commands


def shell_lines(block: str) -> list[tuple[int, str]]:
    """The command lines of a code block (first line offset, text): `$ ` prompts stripped,
    backslash continuations and quotes left open joined with the lines that close them."""
    lines, pending, start = [], "", 0
    for offset, raw in enumerate(block.splitlines()):
        line = raw.strip()
        if not pending:
            if line.startswith("$ "):
                line = line[2:]
            elif not re.search(r"\b(helm|kubectl) ", line):
                continue
            start = offset
        pending = f"{pending} {line}" if pending else line
        if pending.endswith("\\"):
            pending = pending[:-1]
            continue
        try:
            shlex.split(placeholders_filled(pending), comments=True)
        except ValueError:  # a quote still open: the command goes on
            continue
        lines.append((start, pending))
        pending = ""
    return lines


def commands_of(argvs: list[list[str]], where: str, fragment: bool) -> list[DocCommand]:
    return [
        DocCommand(where, tuple(a for a in argv if a != "..."), fragment)
        for argv in argvs
        if argv and argv[0] in PINNED
    ]


def markdown_commands() -> list[DocCommand]:
    files = subprocess.run(["git", "ls-files", "*.md"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.split()
    found = []
    for name in files:
        text = (ROOT / name).read_text()
        fence = re.compile(r"^```[^\n]*\n(.*?)^```", re.S | re.M)
        for block in fence.finditer(text):
            first_line = text.count("\n", 0, block.start(1)) + 1
            for offset, line in shell_lines(block.group(1)):
                found += commands_of(simple_commands(line), f"{name}:{first_line + offset}", False)
        prose = fence.sub(lambda m: "\n" * m.group(0).count("\n"), text)
        for span in re.finditer(r"`((?:helm|kubectl) [^`]+)`", prose):
            line = prose.count("\n", 0, span.start()) + 1
            words = " ".join(span.group(1).split())
            found += commands_of(simple_commands(words), f"{name}:{line}", True)
    return found


def notes_commands() -> list[DocCommand]:
    """The commands in the NOTES of an install with the default values, as printed."""
    printed = run([tool("helm4"), "install", "app-rust", str(CHART), "--dry-run=client"]).stdout
    notes = printed.split("\nNOTES:\n", 1)[1]
    found, pending, start = [], "", 0
    for number, raw in enumerate(notes.splitlines(), 1):
        match = re.search(r"(?:^\s*|: )((?:helm|kubectl) .*)$", raw)
        if pending:
            text = f"{pending} {raw.strip()}"
        elif match:
            text, start = match.group(1), number
        else:
            continue
        if text.endswith("\\"):
            pending = text[:-1]
            continue
        pending = ""
        found += commands_of(simple_commands(text), f"NOTES.txt (rendered) line {start}", False)
    return found


ALL_COMMANDS = markdown_commands() + notes_commands()


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict[str, str]:
    return offline_env(tmp_path_factory.mktemp("doc-commands"))


def test_the_docs_give_commands_to_check():
    """The extraction finds what the docs are known to hold, so a broken parser cannot pass."""
    shown = {str(c) for c in ALL_COMMANDS}
    for expected in [
        "docs/lab.md:",  # a file's commands are found
        "NOTES.txt (rendered)",
        "helm install app-rust charts/app-rust --wait",
        "kubectl scale sts/app-rust --replicas=2",
        # continued with a backslash (NOTES)
        "kubectl run load --rm -i --restart=Never --namespace default --image=app-rust:0.1.0 "
        "-- load http://app-rust:8080/ --requests 30",
        # in a for loop, in $(...), in a quote over several lines, with a placeholder, inline
        "kubectl patch pvc 'data-app-rust-$i' -p",
        "kubectl exec pod/app-rust-2 -- cat /app/data/visits",
        "kubectl run restore-2 --rm -i --restart=Never --image=app-rust:0.1.0 '--overrides={",
        "kubectl delete node node",
        "helm upgrade --set replicaCount=2",
    ]:
        assert any(expected in s for s in shown), f"not found among the docs' commands: {expected}"
    assert len(ALL_COMMANDS) > 80


@pytest.mark.parametrize(("name", "binary"), [(n, b) for n, builds in PINNED.items() for b in builds])
def test_every_doc_command_parses(name, binary, env):
    failures = []
    for command in (c for c in ALL_COMMANDS if c.argv[0] == name):
        output, status = run_offline(tool(binary), list(command.argv[1:]), env, ROOT)
        error = USAGE_ERROR.search(output)
        # Inline text may name a flag without its value (`helm template --kube-version`).
        if error and not (command.fragment and error.group(0) == "flag needs an argument"):
            problem = "usage error"
        elif command.fragment or status == 0 or CONNECTION_FAILED.search(output):
            continue
        elif ARGUMENT_ERROR.search(output):
            problem = "wrong arguments"
        else:
            problem = "failed before connecting"
        tail = "\n    ".join(output.strip().splitlines()[-3:])
        failures.append(f"{command}\n  {problem} ({binary}, exit {status}):\n    {tail}")
    assert not failures, f"{len(failures)} doc command(s) {binary} refuses:\n" + "\n".join(failures)


def test_the_app_rust_arguments_of_doc_pods_parse():
    """`kubectl run ... --image=app-rust:... -- load URL ...` runs the image's app-rust: its
    arguments must be ones the real binary accepts (clap exits 2 on a usage error; the URL is
    swapped for one that refuses, so `load` exits 1)."""
    binary = ROOT / "target" / "debug" / "app-rust"
    assert binary.is_file(), "tests/chart/run.sh builds target/debug/app-rust first"
    in_pods = [(c, list(c.argv[c.argv.index("--") + 1:])) for c in ALL_COMMANDS
               if c.argv[:2] == ("kubectl", "run") and "--" in c.argv
               and any(a.startswith("--image=app-rust") for a in c.argv)]
    assert len(in_pods) >= 3, in_pods
    refused = [f"{command}\n  {r}" for command, args in in_pods if (r := app_rust_refusal(binary, args))]
    assert not refused, "\n".join(refused)
