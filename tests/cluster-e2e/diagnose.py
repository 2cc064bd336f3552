"""What a user needs to see when a step fails: the failing objects' events, the pods' logs
(this run and the previous container's), and the state of the claims and StorageClasses."""

from __future__ import annotations


def diagnosis_commands(subjects: list[str], pods: list[str]) -> list[tuple[list[str], bool]]:
    """kubectl argument lists, each with whether it is namespaced, in the order to run them.
    `subjects` are the objects the failing step was about (kind/name), `pods` the pods there."""
    cmds: list[tuple[list[str], bool]] = [
        (["get", "pods,statefulsets,services,pvc,jobs", "-o", "wide"], True),
        (["get", "events", "--sort-by=.lastTimestamp"], True),
    ]
    cmds += [(["describe", s], True) for s in dict.fromkeys(subjects)]
    for pod in dict.fromkeys(pods):
        cmds.append((["logs", f"pod/{pod}", "--all-containers", "--tail=60"], True))
        # The container before the last restart: a crash loop's reason is there.
        cmds.append((["logs", f"pod/{pod}", "--all-containers", "--previous", "--tail=60"], True))
    cmds.append((["describe", "pvc"], True))
    # A claim stays Pending without a default StorageClass: show which one is the default.
    cmds.append((["get", "storageclass"], False))
    return cmds
