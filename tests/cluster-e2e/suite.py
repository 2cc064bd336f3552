"""The cluster suite's main: check the cluster answers, make a namespace, get the image there,
run the steps, diagnose a failure, clean up (also on failure) and write the report."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import options
import steps
from diagnose import diagnosis_commands
from kube import CommandFailed, Kube
from report import Report
from waiting import TimedOut

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "app-rust"
NO_CLUSTER = 2


class NoCluster(Exception):
    pass


def preflight(kube: Kube) -> dict[str, str]:
    """Which cluster this is, before anything is touched; NoCluster when none answers."""
    for tool in ("kubectl", "helm"):
        if shutil.which(tool) is None:
            raise NoCluster(f"`{tool}` is not on PATH; install it first")
    context = kube.context or kube.kubectl("config", "current-context", check=False, namespaced=False, quiet=True).stdout.strip()
    if not context:
        raise NoCluster("no kube context: give --context, or set one with `kubectl config use-context`")
    server = kube.kubectl("config", "view", "--minify", "-o", "jsonpath={.clusters[0].cluster.server}",
                          check=False, namespaced=False, quiet=True)
    if server.returncode != 0:
        raise NoCluster(f"context {context!r} is not in the kubeconfig: {server.output}")
    version = kube.kubectl("version", "-o", "json", "--request-timeout=10s", check=False, namespaced=False,
                           quiet=True, timeout=30)
    if version.returncode != 0 or '"serverVersion"' not in version.stdout:
        raise NoCluster(f"no cluster answers at {server.stdout or '?'} (context {context}): {version.stderr.strip()[-600:]}")
    server_version = json.loads(version.stdout)["serverVersion"]["gitVersion"]
    helm = kube.run(["helm", "version", "--short"], check=False, timeout=30, quiet=True).stdout.strip()
    return {"context": context, "server": server.stdout, "kubernetes": server_version, "helm": helm}


def kind_cluster(context: str) -> str:
    """The kind cluster behind a context: kind names its contexts kind-<cluster>."""
    name = context.removeprefix("kind-")
    if name == context or not name:
        raise NoCluster(f"--load kind needs a kind cluster's context (kind-<cluster>), not {context!r}")
    return name


def prepare_image(opts: options.Options, kube: Kube, context: str) -> list[str]:
    """The `helm --set` arguments of the image to test, building and loading it if asked."""
    if opts.image:
        return opts.image.helm_set(opts.pull_policy)
    ref = options.ImageRef("app-rust", f"cluster-e2e-{int(time.time())}")
    if opts.load == "kind":
        name = kind_cluster(context)
        kube.run(["docker", "build", "-t", str(ref), str(ROOT)], check=True, timeout=1800, quiet=False)
        loaded = kube.run(["kind", "load", "docker-image", str(ref), "--name", name], check=False, timeout=600, quiet=False)
        if loaded.returncode != 0:
            # Docker's containerd image store makes `kind load docker-image` fail (kind#3795);
            # kind's documented way around it is a saved archive.
            archive = Path(f"/tmp/{ref.tag}.tar")
            kube.run(["docker", "image", "save", "-o", str(archive), str(ref)], check=True, timeout=600, quiet=False)
            kube.run(["kind", "load", "image-archive", str(archive), "--name", name], check=True, timeout=600, quiet=False)
            archive.unlink(missing_ok=True)
    else:
        kube.run(["minikube", "-p", context, "image", "build", "-t", str(ref), str(ROOT)], check=True, timeout=1800, quiet=False)
    return ref.helm_set(opts.pull_policy)


def diagnose(kube: Kube, subjects: list[str]) -> None:
    pods = [s.removeprefix("pod/") for s in subjects if s.startswith("pod/")]
    print("\n==> diagnosis", flush=True)
    for args, namespaced in diagnosis_commands(subjects, pods):
        kube.kubectl(*args, check=False, namespaced=namespaced)


def clean_up(kube: Kube, namespace: str, timeout: int) -> None:
    kube.helm("uninstall", steps.RELEASE, "--wait", "--timeout", f"{timeout}s", check=False, timeout=timeout + 60)
    kube.kubectl("delete", "pod", "cluster-e2e-load", "--ignore-not-found", check=False)
    # Deleting the namespace deletes the retained claims too (and their volumes where the
    # StorageClass's reclaimPolicy is Delete, the default of dynamic provisioners).
    kube.kubectl("delete", "pvc", "--all", f"--timeout={timeout}s", check=False, timeout=timeout + 30)
    kube.kubectl("delete", "namespace", namespace, f"--timeout={timeout}s", check=False, namespaced=False, timeout=timeout + 30)


def main(argv: list[str] | None = None) -> int:
    opts = options.parse(argv)
    report = Report("app-rust on a real cluster: end-to-end report")
    kube = Kube(opts.kubeconfig, opts.context, record=lambda r: report.command(r.command, r.output, r.returncode))
    try:
        target = preflight(kube)
        if opts.load == "kind":
            kind_cluster(target["context"])
    except NoCluster as e:
        print(f"cluster-e2e: {e}", file=sys.stderr)
        return NO_CLUSTER
    namespace = opts.namespace or f"app-rust-e2e-{secrets.token_hex(3)}"
    print(f"cluster-e2e: context {target['context']}, server {target['server']}, Kubernetes "
          f"{target['kubernetes']}, {target['helm']}; working in namespace {namespace} (new)", flush=True)
    for name, value in [("context", target["context"]), ("API server", target["server"]),
                        ("Kubernetes", target["kubernetes"]), ("Helm", target["helm"]), ("namespace", namespace),
                        ("started", time.strftime("%Y-%m-%d %H:%M:%S %Z"))]:
        report.fact(name, value)
    kube.namespace = namespace
    created = False
    failed: str | None = None
    session = None
    try:
        report.step("A namespace of its own, and the image")
        if kube.get_json("namespace", namespace, namespaced=False) is not None:
            raise NoCluster(f"namespace {namespace} exists; the suite only works in a namespace it creates")
        kube.kubectl("create", "namespace", namespace, namespaced=False)
        created = True
        kube.kubectl("label", "namespace", namespace, "app.kubernetes.io/part-of=app-rust-cluster-e2e", namespaced=False)
        image_args = prepare_image(opts, kube, target["context"])
        report.steps[-1].outcome = "passed"
        session = steps.Session(kube, report, CHART, image_args, opts.step_timeout, opts.requests)
        for title, step in steps.STEPS:
            print(f"\n==> {title}", flush=True)
            current = report.step(title)
            step(session)
            current.outcome = "passed"
    except NoCluster as e:
        failed = str(e)
    except (steps.StepFailed, CommandFailed, TimedOut, subprocess.SubprocessError, AssertionError) as e:
        failed = str(e)
        report.steps[-1].outcome = f"FAILED: {e}"
        report.step("Diagnosis")
        diagnose(kube, session.subjects if session else [])
        report.steps[-1].outcome = "what the cluster showed when the step failed"
    except KeyboardInterrupt:
        failed = "interrupted"
    finally:
        if created and not opts.keep:
            report.step("Clean-up: the release, the claims and the namespace")
            clean_up(kube, namespace, opts.step_timeout)
            report.steps[-1].outcome = "done"
        elif created:
            report.note(f"--keep: namespace {namespace} left in place; remove it with `kubectl delete namespace {namespace}`")
        report.summary = [f"Result: **{'FAILED: ' + failed if failed else 'every step passed'}**."]
        if session and session.ledger:
            report.summary.append("\n" + steps.counts_table(session.ledger))
        opts.report.write_text(report.markdown())
        print(f"\ncluster-e2e: {'FAILED: ' + failed if failed else 'every step passed'}; report: {opts.report}", flush=True)
    return NO_CLUSTER if failed and not created else (1 if failed else 0)


if __name__ == "__main__":
    sys.exit(main())
