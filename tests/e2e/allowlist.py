"""The allow-list of the podman replica run: every field of the rendered StatefulSet and its
pod template must be one the run honours, or ``Unsupported`` is raised instead of the field
being dropped."""

from __future__ import annotations

from typing import Any


class Unsupported(Exception):
    """The rendered spec holds something the podman replica run cannot honour."""


def only(obj: Any, allowed: set[str], where: str) -> dict:
    """The allow-list check: every key of obj must be one this run honours."""
    if not isinstance(obj, dict):
        raise Unsupported(f"{where}: expected a mapping, got {type(obj).__name__}")
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise Unsupported(
            f"{where}: the podman replica run cannot honour {unknown}; "
            f"it honours only {sorted(allowed)}. Extend tests/e2e/plan.py or pod.py "
            "(mapping and test) instead of dropping the field."
        )
    return obj


def require(condition: bool, message: str) -> None:
    if not condition:
        raise Unsupported(message)
