"""The parts of the cluster suite that need no cluster: options, image references, waiting,
the report, the diagnosis, the traffic summary parser, and the refusal without a cluster."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT / "tests" / "lib"))

import options  # noqa: E402
from diagnose import diagnosis_commands  # noqa: E402
from observe import parse_load, pod_ready  # noqa: E402
from report import Report, fenced  # noqa: E402
from waiting import TimedOut, wait_for  # noqa: E402
from offline_cli import offline_env, refusals  # noqa: E402  (tests/lib)

RUN = HERE / "run.sh"


# --- options ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("ref", "want"), [
    ("app-rust:0.1.0", ("app-rust", "0.1.0", "")),
    ("localhost:5000/app-rust:0.1.0", ("localhost:5000/app-rust", "0.1.0", "")),
    ("ghcr.io/me/app-rust@sha256:" + "a" * 64, ("ghcr.io/me/app-rust", "", "sha256:" + "a" * 64)),
    ("ghcr.io/me/app-rust:0.2.0@sha256:" + "b" * 64, ("ghcr.io/me/app-rust", "0.2.0", "sha256:" + "b" * 64)),
])
def test_image_references_split_as_the_chart_takes_them(ref, want):
    image = options.ImageRef.parse(ref)
    assert (image.repository, image.tag, image.digest) == want
    assert str(image) == ref
    assert image.helm_set("Never")[-1] == "image.pullPolicy=Never"


@pytest.mark.parametrize(("ref", "complaint"), [
    ("app-rust", "give a tag or a digest"),
    ("localhost:5000/app-rust", "give a tag or a digest"),
    ("app-rust:latest", "`latest` moves"),
    ("app-rust@sha256:abc", "sha256:<64 hex digits>"),
    (":0.1.0", "no repository"),
])
def test_image_references_without_a_fixed_version_are_refused(ref, complaint):
    with pytest.raises(ValueError, match=re.escape(complaint)):
        options.ImageRef.parse(ref)


def test_defaults_and_pull_policy():
    o = options.parse(["--image", "app-rust:0.1.0"])
    assert (o.pull_policy, o.step_timeout, o.requests, o.keep, o.namespace) == ("IfNotPresent", 300, 60, False, None)
    assert options.parse(["--load", "kind"]).pull_policy == "Never"
    assert options.parse(["--load", "minikube", "--pull-policy", "IfNotPresent"]).pull_policy == "IfNotPresent"


@pytest.mark.parametrize("argv", [
    [],  # neither --image nor --load
    ["--image", "app-rust:1", "--load", "kind"],
    ["--load", "docker-desktop"],
    ["--image", "app-rust:1", "--namespace", "Not_A_Label"],
    ["--image", "app-rust:1", "--step-timeout", "5"],
    ["--image", "app-rust:1", "--requests", "1000000"],
    ["--image", "app-rust:1", "--requests", "many"],
])
def test_bad_command_lines_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as e:
        options.parse(argv)
    assert e.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_help_documents_every_flag():
    out = subprocess.run(["bash", str(RUN), "--help"], capture_output=True, text=True, check=True).stdout
    flags = {s for a in options.parser()._actions for s in a.option_strings if s.startswith("--")}
    assert flags == {"--help", "--kubeconfig", "--context", "--image", "--load", "--pull-policy", "--namespace",
                     "--keep", "--step-timeout", "--requests", "--report"}
    for flag in flags:
        assert flag in out, f"{flag} is not in --help"
    assert "Exit status" in out and "2 bad arguments, or no cluster answers" in out


# --- no cluster ------------------------------------------------------------------------------

def unreachable_kubeconfig(tmp_path: Path) -> Path:
    import socket
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    kc = tmp_path / "kubeconfig"
    kc.write_text(f"""apiVersion: v1
kind: Config
clusters: [{{name: nowhere, cluster: {{server: "https://127.0.0.1:{port}"}}}}]
users: [{{name: nobody, user: {{token: none}}}}]
contexts: [{{name: nowhere, context: {{cluster: nowhere, user: nobody}}}}]
current-context: nowhere
""")
    return kc


def test_no_reachable_cluster_exits_2_and_says_so(tmp_path):
    kc = unreachable_kubeconfig(tmp_path)
    p = subprocess.run(["bash", str(RUN), "--image", "app-rust:0.1.0", "--kubeconfig", str(kc),
                        "--report", str(tmp_path / "r.md")], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert p.returncode == 2, p.stdout + p.stderr
    assert "no cluster answers at https://127.0.0.1:" in p.stderr and "(context nowhere)" in p.stderr, p.stderr
    # Nothing was touched, so there is no namespace to report on.
    assert not (tmp_path / "r.md").exists()


def test_no_kube_context_exits_2(tmp_path):
    env = {**os.environ, "KUBECONFIG": str(tmp_path / "missing")}
    p = subprocess.run(["bash", str(RUN), "--image", "app-rust:0.1.0"], capture_output=True, text=True,
                       timeout=60, env=env, cwd=tmp_path)
    assert p.returncode == 2 and "no kube context" in p.stderr, p.stderr


def test_load_kind_needs_a_kind_context():
    import suite
    assert suite.kind_cluster("kind-app-rust") == "app-rust"
    for context in ("minikube", "kind-", "prod-eu"):
        with pytest.raises(suite.NoCluster, match="kind-<cluster>"):
            suite.kind_cluster(context)


# Each fake keeps its exact command line, one file per call, numbered in the order of the calls
# (the suite makes them one at a time), so the test can read the run and hand every line to the
# real tools afterwards.
KEEP_ARGV = r"""
shopt -s nullglob
calls=("$CALLS_DIR"/*)
printf '%s\0' "$(basename "$0")" "$@" > "$CALLS_DIR/$(printf '%05d' "${#calls[@]}")"
"""

FAKE_KUBECTL = r"""#!/usr/bin/env bash
# A kubectl for the orchestration test: a cluster that answers, where nothing else exists.
""" + KEEP_ARGV + r"""
args=" $* "
case "$args" in
  *" config current-context "*) echo fake ;;
  *" config view "*) echo -n https://fake.invalid:6443 ;;
  *" version -o json "*) echo '{"serverVersion": {"gitVersion": "v1.37.0"}}' ;;
  *" get namespace "*) echo 'Error from server (NotFound): namespaces "x" not found' >&2; exit 1 ;;
  *) echo "fake kubectl output" ;;
esac
"""

FAKE_HELM = r"""#!/usr/bin/env bash
""" + KEEP_ARGV + r"""
case " $* " in
  *" version "*) echo v4.1.4 ;;
  *" install "*) echo "Error: INSTALLATION FAILED: context deadline exceeded" >&2; exit 1 ;;
esac
"""


def test_a_failed_step_is_diagnosed_cleaned_up_reported_and_exits_1(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, text in (("kubectl", FAKE_KUBECTL), ("helm", FAKE_HELM)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    calls_dir, report = tmp_path / "calls", tmp_path / "report.md"
    calls_dir.mkdir()
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "CALLS_DIR": str(calls_dir)}
    p = subprocess.run(["bash", str(RUN), "--image", "app-rust:0.1.0", "--namespace", "e2e-test", "--report", str(report)],
                       capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)
    assert p.returncode == 1, p.stdout + p.stderr
    argvs = [f.read_text().split("\0")[:-1] for f in sorted(calls_dir.iterdir())]
    calls = [" ".join(argv) for argv in argvs]
    install = next(i for i, c in enumerate(calls) if c.startswith("helm") and " install " in c)
    after = calls[install + 1:]
    # The diagnosis: events, the failing objects, logs (current and previous), claims, classes.
    for wanted in ("get events --sort-by=.lastTimestamp", "describe statefulset/app-rust",
                   "logs pod/app-rust-0 --all-containers --previous", "describe pvc", "get storageclass"):
        assert any(wanted in c for c in after), f"no `{wanted}` after the failed install: {after}"
    # Then the clean-up, the namespace last: nothing of the run is left behind.
    assert any(c.startswith("helm") and " uninstall app-rust " in c for c in after)
    assert "delete namespace e2e-test" in after[-1], after[-1]
    md = report.read_text()
    assert "FAILED: `helm" in md and "INSTALLATION FAILED: context deadline exceeded" in md
    assert "| Kubernetes | v1.37.0 |" in md and "## 3. Diagnosis" in md
    assert "cluster-e2e: FAILED" in p.stdout
    # Every command line the run gave (preflight, install, diagnosis, clean-up) is one that the
    # pinned kubectl 1.35, Helm 3 and Helm 4 accept.
    offline = offline_env(tmp_path / "offline")
    refused = [r for name, *args in argvs for r in refusals(name, args, offline, tmp_path)]
    assert not refused, "\n".join(refused)


# --- waiting ---------------------------------------------------------------------------------

class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.now += s


def test_wait_returns_as_soon_as_the_check_holds():
    clock, seen = FakeClock(), iter([(False, "pending"), (False, "starting"), (True, "ready")])
    assert wait_for("x", lambda: next(seen), timeout=60, interval=2, clock=clock, sleep=clock.sleep) == "ready"
    assert clock.sleeps == [2, 2]


def test_wait_times_out_with_the_last_observation_and_checks_at_the_deadline():
    clock, calls = FakeClock(), []

    def check():
        calls.append(clock.now)
        return False, f"phase Pending at {clock.now:.0f}s"

    with pytest.raises(TimedOut) as e:
        wait_for("pod/app-rust-1 to be Ready", check, timeout=5, interval=2, clock=clock, sleep=clock.sleep)
    assert calls == [0, 2, 4, 5], "the last check must happen at the deadline, not before"
    assert "timed out after 5s waiting for pod/app-rust-1 to be Ready; last seen: phase Pending at 5s" == str(e.value)


# --- report ----------------------------------------------------------------------------------

def test_report_keeps_commands_outputs_and_outcomes_in_order():
    r = Report("title")
    r.fact("Kubernetes", "v1.37.0")
    s = r.step("install")
    r.command("kubectl get po", "NAME READY\napp-rust-0 1/1", 0)
    r.command("helm test app-rust", "Error: timed out", 1)
    r.note("| pod | n |")
    s.outcome = "passed"
    md = r.markdown()
    assert md.startswith("# title\n") and "| Kubernetes | v1.37.0 |" in md
    assert md.index("## 1. install") < md.index("$ kubectl get po\nNAME READY\napp-rust-0 1/1") < md.index("$ helm test app-rust  # exit 1")
    assert "**passed**" in md


def test_output_holding_backticks_cannot_close_its_block():
    block = fenced("a\n```\nb", "console")
    assert block[0] == "````console" and block[-1] == "````"


# --- diagnosis -------------------------------------------------------------------------------

def test_diagnosis_covers_events_logs_and_storage():
    cmds = [" ".join(a) for a, _ in diagnosis_commands(["pod/app-rust-1", "pvc/data-app-rust-2", "pod/app-rust-1"], ["app-rust-1"])]
    assert cmds.count("describe pod/app-rust-1") == 1
    assert "describe pvc/data-app-rust-2" in cmds
    assert "get events --sort-by=.lastTimestamp" in cmds
    assert "logs pod/app-rust-1 --all-containers --tail=60" in cmds
    assert "logs pod/app-rust-1 --all-containers --previous --tail=60" in cmds
    assert dict((" ".join(a), ns) for a, ns in diagnosis_commands([], []))["get storageclass"] is False


# --- observations ----------------------------------------------------------------------------

def test_parse_load_reads_what_app_rust_load_prints():
    out = ("60 requests to http://app-rust:8080/ (a new connection each): 60 answered 2xx, 0 failed, in 412 ms\n"
           "  app-rust-0  25\n  app-rust-1  17\n  app-rust-2  18\n")
    assert parse_load(out) == (60, 60, 0, {"app-rust-0": 25, "app-rust-1": 17, "app-rust-2": 18})
    with pytest.raises(ValueError):
        parse_load("Error: connection refused")


def test_parse_load_reads_the_real_binarys_output(tmp_path):
    import app_process
    binary = ROOT / "target" / "debug" / "app-rust"
    assert binary.exists(), "build it first (cargo build; scripts/test.sh runs cargo test before this)"
    proc = app_process.start(binary, {"DATA_DIR": str(tmp_path), "POD_NAME": "app-rust-7", "PATH": os.environ["PATH"]},
                             tmp_path / "log")
    try:
        port = app_process.serving_port(proc, tmp_path / "log")
        out = subprocess.run([str(binary), "load", f"http://127.0.0.1:{port}/", "--requests", "12"],
                             capture_output=True, text=True, timeout=60)
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert out.returncode == 0, out.stdout + out.stderr
    assert parse_load(out.stdout) == (12, 12, 0, {"app-rust-7": 12})


def pod(phase="Running", ready="True", deleting=False, waiting=None):
    p = {"metadata": {}, "status": {"phase": phase, "conditions": [{"type": "Ready", "status": ready}],
                                    "containerStatuses": [{"state": {"waiting": {"reason": waiting}} if waiting else {"running": {}}}]}}
    if deleting:
        p["metadata"]["deletionTimestamp"] = "2026-11-24T00:00:00Z"
    return p


def test_pod_ready_needs_running_ready_and_not_terminating():
    assert pod_ready(pod())[0]
    assert pod_ready(pod(ready="False"))[1] == "phase Running, ready False"
    assert pod_ready(pod(phase="Pending", ready="False", waiting="ErrImageNeverPull"))[1].endswith("waiting: ErrImageNeverPull")
    assert pod_ready(pod(deleting=True)) == (False, "terminating")
    assert pod_ready(None) == (False, "no such pod")
