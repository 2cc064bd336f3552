"""The Markdown report of a run: each step with the commands it ran and their real output."""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass
class Entry:
    command: str | None
    output: str
    returncode: int | None = None


@dataclass
class Step:
    title: str
    entries: list[Entry] = field(default_factory=list)
    outcome: str = "not finished"


class Report:
    def __init__(self, title: str):
        self.title = title
        self.facts: list[tuple[str, str]] = []
        self.steps: list[Step] = []
        self.summary: list[str] = []

    def fact(self, name: str, value: str) -> None:
        self.facts.append((name, value))

    def step(self, title: str) -> Step:
        self.steps.append(Step(title))
        return self.steps[-1]

    def command(self, command: str, output: str, returncode: int) -> None:
        self._current().entries.append(Entry(command, output, returncode))

    def note(self, text: str) -> None:
        self._current().entries.append(Entry(None, text))

    def _current(self) -> Step:
        return self.steps[-1] if self.steps else self.step("Before the first step")

    def markdown(self) -> str:
        out = [f"# {self.title}", ""]
        if self.facts:
            out += ["| | |", "| --- | --- |"]
            out += [f"| {name} | {_cell(value)} |" for name, value in self.facts]
            out.append("")
        if self.summary:
            out += ["## Summary", "", *self.summary, ""]
        for n, step in enumerate(self.steps, 1):
            out += [f"## {n}. {step.title}", "", f"**{step.outcome}**", ""]
            for e in step.entries:
                if e.command is None:
                    out += [e.output, ""]
                    continue
                status = "" if e.returncode in (0, None) else f"  # exit {e.returncode}"
                out += fenced(f"$ {e.command}{status}\n{e.output.rstrip()}", "console")
                out.append("")
        return "\n".join(out).rstrip() + "\n"


def fenced(text: str, info: str = "") -> list[str]:
    """A code block whose fence is longer than any run of backticks in the text, so command
    output (which may hold ``` itself) can never end the block early."""
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return [fence + info, text, fence]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
