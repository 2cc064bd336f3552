"""The suite's command line: what it parses, validated once into types."""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


@dataclass(frozen=True)
class ImageRef:
    """An image reference split the way the chart takes it (image.repository, tag, digest)."""

    repository: str
    tag: str = ""
    digest: str = ""

    @classmethod
    def parse(cls, ref: str) -> "ImageRef":
        rest, _, digest = ref.partition("@")
        if digest and not DIGEST.match(digest):
            raise ValueError(f"{ref!r}: the digest must be sha256:<64 hex digits>")
        # A tag is a colon in the last path component; a colon before a slash is a port.
        slash = rest.rfind("/")
        colon = rest.rfind(":")
        repository, tag = (rest[:colon], rest[colon + 1:]) if colon > slash else (rest, "")
        if not repository:
            raise ValueError(f"{ref!r}: no repository")
        if not tag and not digest:
            raise ValueError(f"{ref!r}: give a tag or a digest (the suite never runs an image by `latest`)")
        if tag == "latest":
            raise ValueError(f"{ref!r}: `latest` moves; give the tag or digest of the image to test")
        return cls(repository, tag, digest)

    def __str__(self) -> str:
        return self.repository + (f":{self.tag}" if self.tag else "") + (f"@{self.digest}" if self.digest else "")

    def helm_set(self, pull_policy: str) -> list[str]:
        """`helm --set` arguments that make the chart run this image."""
        return ["--set", "image.registry=", "--set", f"image.repository={self.repository}",
                "--set", f"image.tag={self.tag}", "--set", f"image.digest={self.digest}",
                "--set", f"image.pullPolicy={pull_policy}"]


@dataclass(frozen=True)
class Options:
    kubeconfig: str | None
    context: str | None
    image: ImageRef | None
    load: str | None
    pull_policy: str
    namespace: str | None
    keep: bool
    step_timeout: int
    requests: int
    report: Path


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="tests/cluster-e2e/run.sh",
        description=(
            "The app-rust chart end to end on a real Kubernetes cluster: install with the chart's "
            "defaults, traffic through the Service from inside the cluster, the cluster view over "
            "the headless Service's DNS names, a deleted pod, a scale-down and up, a partition "
            "canary and a full rollout, helm test, and an uninstall that keeps the claims. Works in "
            "a namespace of its own, removed at the end (pass or fail) unless --keep. Writes a "
            "Markdown report of every command and its output."),
        epilog=("Exit status: 0 every step passed; 1 a step failed (its diagnosis is printed); "
                "2 bad arguments, or no cluster answers."),
    )
    p.add_argument("--kubeconfig", metavar="FILE", help="kubeconfig to use (default: kubectl's own: $KUBECONFIG or ~/.kube/config)")
    p.add_argument("--context", metavar="NAME", help="kube context to use (default: the current context)")
    image = p.add_mutually_exclusive_group(required=True)
    image.add_argument("--image", metavar="REF", type=_image,
                       help="an image the cluster can already pull or has loaded, by tag or digest (e.g. registry.example.com/app-rust:0.1.0)")
    image.add_argument("--load", choices=["kind", "minikube"],
                       help="build the image from this checkout and load it into the kind cluster or minikube profile of the context")
    p.add_argument("--pull-policy", choices=["IfNotPresent", "Always", "Never"], default=None,
                   help="imagePullPolicy of the pods (default: IfNotPresent; Never with --load, which puts the image on the nodes)")
    p.add_argument("--namespace", metavar="NAME", type=_dns_label,
                   help="namespace to create and work in; it must not exist yet (default: app-rust-e2e-<random>)")
    p.add_argument("--keep", action="store_true", help="leave the namespace, release and claims in place at the end, to look at them")
    p.add_argument("--step-timeout", metavar="SECONDS", type=_bounded(30, 3600), default=300,
                   help="time each step may take before it fails (30 to 3600; default 300)")
    p.add_argument("--requests", metavar="N", type=_bounded(10, 10000), default=60,
                   help="visits sent through the Service in step 2 (10 to 10000; default 60)")
    p.add_argument("--report", metavar="FILE", type=Path, default=Path("cluster-e2e-report.md"),
                   help="where to write the Markdown report (default: ./cluster-e2e-report.md)")
    return p


def parse(argv: list[str] | None = None) -> Options:
    """The options of this command line; exits 2 with a message on a bad one (argparse)."""
    a = parser().parse_args(argv)
    pull_policy = a.pull_policy or ("Never" if a.load else "IfNotPresent")
    return Options(a.kubeconfig, a.context, a.image, a.load, pull_policy, a.namespace, a.keep,
                   a.step_timeout, a.requests, a.report)


def _image(text: str) -> ImageRef:
    try:
        return ImageRef.parse(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _dns_label(text: str) -> str:
    if not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a DNS label (lower case letters, digits, '-', at most 63)")
    return text


def _bounded(low: int, high: int):
    def check(text: str) -> int:
        try:
            n = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= n <= high:
            raise argparse.ArgumentTypeError(f"{n} is outside {low} to {high}")
        return n
    return check
