"""The hooks, `helm test`, and the configuration the app reads (checked by the real binary)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import app_process  # tests/lib, on the path through conftest
from conftest import revision_config, CASE_NAMES, CONTRACT_FILE_KEYS, CHART, ROOT, Case, Rendered, helm_template, run, env_of  # noqa: E501


@pytest.mark.parametrize("case_name", CASE_NAMES)
def test_pre_install_hook_checks_the_new_config_with_its_own_copy(case_name, render):
    r = render(case_name)
    job = r.hook("Job", "pre-install")
    cm = r.hook("ConfigMap", "pre-install")
    for obj in (job, cm):
        ann = obj["metadata"]["annotations"]
        assert set(ann["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
        assert "before-hook-creation" in ann["helm.sh/hook-delete-policy"]
        assert "hook-succeeded" in ann["helm.sh/hook-delete-policy"]
    # The config copy is created before the Job that mounts it.
    assert int(cm["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(job["metadata"]["annotations"]["helm.sh/hook-weight"])
    release_cm = r.one("ConfigMap", r.sts["metadata"]["name"])
    assert cm["data"]["config.json"] == release_cm["data"]["config.json"]
    spec = job["spec"]["template"]["spec"]
    assert spec["restartPolicy"] == "Never"
    c = spec["containers"][0]
    assert c["args"] == ["check-config"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    assert volumes["config"]["configMap"]["name"] == cm["metadata"]["name"]
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    assert mounts["config"] == "/etc/app-rust"
    # Same configuration environment as serve, as the first replica; the configuration itself
    # from the hook's copy, which is the content the new revision carries.
    app_env = env_of(r.container)
    hook_env = env_of(c)
    for k in ("DATA_DIR", "APP_PEER_SERVICE", "APP_CLUSTER_DOMAIN", "POD_NAMESPACE", "POD_IP"):
        assert hook_env[k] == app_env[k], k
    assert hook_env["CONFIG_FILE"]["value"] == "/etc/app-rust/config.json"
    assert cm["data"]["config.json"] == revision_config(r)
    start = r.sts["spec"].get("ordinals", {}).get("start", 0)
    assert hook_env["POD_NAME"]["value"] == f"{r.sts['metadata']['name']}-{start}"
    # The release's ServiceAccount does not exist yet at pre-install.
    assert "serviceAccountName" not in spec
    # Variables from secret.stringData come from the hook's own copy of the new Secret.
    secret_refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in c["env"] if "secretKeyRef" in e.get("valueFrom", {})}
    app_refs = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in r.container["env"] if "secretKeyRef" in e.get("valueFrom", {})}
    assert set(secret_refs) == set(app_refs)
    if secret_refs:
        hook_secret = r.hook("Secret", "pre-install")
        release_secret = r.one("Secret", r.sts["metadata"]["name"])
        assert hook_secret["stringData"] == release_secret["stringData"]
        assert int(hook_secret["metadata"]["annotations"]["helm.sh/hook-weight"]) < int(job["metadata"]["annotations"]["helm.sh/hook-weight"])
        assert {ref["name"] for ref in secret_refs.values()} == {hook_secret["metadata"]["name"]}
    else:
        assert not [d for d in r.kinds("Secret") if "helm.sh/hook" in d["metadata"].get("annotations", {})]


@pytest.mark.parametrize("case_name", CASE_NAMES)
def test_post_install_hook_waits_for_readiness_through_the_client_service(case_name, render):
    r = render(case_name)
    job = r.hook("Job", "post-install")
    ann = job["metadata"]["annotations"]
    assert set(ann["helm.sh/hook"].split(",")) == {"post-install", "post-upgrade"}
    assert "hook-succeeded" in ann["helm.sh/hook-delete-policy"]
    c = job["spec"]["template"]["spec"]["containers"][0]
    svc = r.one("Service", r.sts["metadata"]["name"])
    ns = r.sts["metadata"]["namespace"]
    domain = env_of(r.container)["APP_CLUSTER_DOMAIN"]["value"]
    assert c["args"][0] == "probe"
    assert re.fullmatch(r"--wait-ms=\d+", c["args"][1])
    assert c["args"][2:] == [f"http://{svc['metadata']['name']}.{ns}.svc.{domain}:{svc['spec']['ports'][0]['port']}/readyz"]


@pytest.mark.parametrize("case_name", CASE_NAMES)
def test_helm_test_probes_every_replica_by_its_stable_dns_name(case_name, render):
    r = render(case_name)
    pod = r.hook("Pod", "test")
    c = pod["spec"]["containers"][0]
    assert c["args"][0] == "probe" and c["args"][1].startswith("--wait-ms=")
    sts = r.sts
    name, ns = sts["metadata"]["name"], sts["metadata"]["namespace"]
    start = sts["spec"].get("ordinals", {}).get("start", 0)
    domain = env_of(r.container)["APP_CLUSTER_DOMAIN"]["value"]
    expected = []
    for i in range(start, start + sts["spec"]["replicas"]):
        host = f"{name}-{i}.{sts['spec']['serviceName']}.{ns}.svc.{domain}:8080"
        expected += [f"http://{host}/readyz", f"http://{host}/visits"]
    assert c["args"][2:] == expected
    assert pod["spec"]["restartPolicy"] == "Never"


# --------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case_name", CASE_NAMES)
def test_config_json_uses_only_contract_keys(case_name, render):
    r = render(case_name)
    config = json.loads(r.one("ConfigMap", r.sts["metadata"]["name"])["data"]["config.json"])
    assert set(config) <= CONTRACT_FILE_KEYS
    file_defaults = json.loads((CHART / "files" / "config.json").read_text())
    assert set(file_defaults) <= set(config)


def test_values_drive_config_json_and_restart_pods(render):
    default = render("defaults")
    everything = render("everything")
    cfg = json.loads(everything.one("ConfigMap", everything.sts["metadata"]["name"])["data"]["config.json"])
    assert cfg["timezone"] == "Asia/Tokyo"
    assert cfg["greeting"] == "Hi from the matrix"
    assert cfg["logFormat"] == "text"
    assert cfg["logLevel"] == "app_rust=debug"
    assert cfg["requestTimeoutMs"] == 2000
    assert cfg["maxBodyBytes"] == 16384  # untouched values keep their defaults
    base = json.loads(default.one("ConfigMap", "app-rust")["data"]["config.json"])
    assert base["timezone"] == "Europe/Moscow" and base["logFormat"] == "json"
    # The configuration is part of the pod template: a change of it is a new revision.
    assert revision_config(default) == default.one("ConfigMap", "app-rust")["data"]["config.json"]
    assert revision_config(default) != revision_config(everything)


def test_config_file_keys_override_and_null_values_fall_back_to_the_file(helm4):
    case = Case("null-config", "defaults.yaml", set_args=("config.greeting=null", "config.timezone=UTC"))
    r = Rendered(case, helm_template(helm4, case))
    cfg = json.loads(r.one("ConfigMap", "app-rust")["data"]["config.json"])
    assert cfg["greeting"] == "Hello from app-rust"  # from files/config.json
    assert cfg["timezone"] == "UTC"


APP_BINARY = ROOT / "target" / "debug" / "app-rust"
POD_IP = "10.244.0.7"


def container_env(r: Rendered, container: dict, pod_name: str) -> dict:
    """The environment Kubernetes would give the container (downward API and Secrets resolved)."""
    env = {"PATH": "/usr/bin:/bin"}
    secrets = {d["metadata"]["name"]: d["stringData"] for d in r.kinds("Secret")}
    for e in container["env"]:
        if "value" in e:
            env[e["name"]] = e["value"]
        elif "fieldRef" in e["valueFrom"]:
            field = e["valueFrom"]["fieldRef"]["fieldPath"]
            env[e["name"]] = {"metadata.name": pod_name, "metadata.namespace": r.sts["metadata"]["namespace"],
                              "status.podIP": POD_IP}[field]
        else:
            ref = e["valueFrom"]["secretKeyRef"]
            env[e["name"]] = secrets[ref["name"]][ref["key"]]
    return env


def check_config(r: Rendered, tmp_path: Path, container: dict, pod_name: str, config_json: str):
    """Run the real `app-rust check-config` as the container would, on the rendered config."""
    assert APP_BINARY.is_file(), "tests/chart/run.sh builds target/debug/app-rust first"
    config_file = tmp_path / "config.json"
    config_file.write_text(config_json)
    data_dir = tmp_path / "data"
    data_dir.mkdir(exist_ok=True)
    env = container_env(r, container, pod_name)
    assert env["CONFIG_FILE"] in ("/etc/app-rust/config.json", "/etc/app-rust-revision/config.json")
    assert env["DATA_DIR"] == "/app/data"
    env["CONFIG_FILE"], env["DATA_DIR"] = str(config_file), str(data_dir)
    return run([str(APP_BINARY), "check-config"], check=False, env=env)


@pytest.mark.parametrize("case_name", CASE_NAMES)
def test_app_accepts_the_rendered_configuration(case_name, render, tmp_path):
    r = render(case_name)
    sts = r.sts
    start = sts["spec"].get("ordinals", {}).get("start", 0)
    config_json = revision_config(r)
    assert config_json == r.one("ConfigMap", sts["metadata"]["name"])["data"]["config.json"]
    # As the pre-install hook runs it (its own config copy, as the first replica)...
    hook = r.hook("Job", "pre-install")
    hook_config = r.hook("ConfigMap", "pre-install")["data"]["config.json"]
    hook_proc = check_config(r, tmp_path, hook["spec"]["template"]["spec"]["containers"][0],
                             "ignored-hook-pod-name", hook_config)
    assert hook_proc.returncode == 0, hook_proc.stdout + hook_proc.stderr
    # ...and as the first replica itself runs it: the same effective configuration.
    replica_proc = check_config(r, tmp_path, r.container, f"{sts['metadata']['name']}-{start}", config_json)
    assert replica_proc.returncode == 0, replica_proc.stdout + replica_proc.stderr
    effective = json.loads(replica_proc.stdout)
    hook_effective = json.loads(hook_proc.stdout)
    assert hook_effective == effective
    expected = json.loads(config_json)
    if case_name == "everything":  # secret.stringData APP_GREETING overrides the file (env > file)
        assert effective["greeting"] == "from-secret"
        expected["greeting"] = "from-secret"
    assert {k: effective[k] for k in expected} == expected
    assert effective["podName"] == f"{sts['metadata']['name']}-{start}"
    assert effective["peerService"] == sts["spec"]["serviceName"]
    assert effective["namespace"] == sts["metadata"]["namespace"]
    assert effective["podIp"] == POD_IP
    assert "replicas" not in effective and "ordinalStart" not in effective
    assert effective["listen"].endswith(":8080")  # the container port the probes use


def test_pre_install_hook_would_reject_a_bad_timezone(helm4, tmp_path):
    # The values schema cannot know the tz database; the hook's check-config does.
    case = Case("bad-tz", "defaults.yaml", set_args=("config.timezone=Mars/Olympus_Mons",))
    r = Rendered(case, helm_template(helm4, case))
    hook = r.hook("Job", "pre-install")
    proc = check_config(r, tmp_path, hook["spec"]["template"]["spec"]["containers"][0], "x",
                        r.hook("ConfigMap", "pre-install")["data"]["config.json"])
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "timezone" in proc.stdout + proc.stderr


def test_hook_test_and_probe_urls_answer_on_a_real_app(render, tmp_path):
    """Serve the real app on 127.0.0.1 and run the chart's own probe commands and probe paths
    against it (host names rewritten to the loopback address; everything else as rendered)."""
    r = render("defaults")
    config = tmp_path / "config.json"
    config.write_text(r.one("ConfigMap", "app-rust")["data"]["config.json"])
    (tmp_path / "data").mkdir()
    env = {"PATH": "/usr/bin:/bin", "CONFIG_FILE": str(config), "DATA_DIR": str(tmp_path / "data"),
           "POD_NAME": "app-rust-0"}
    log = tmp_path / "app.log"
    server = app_process.start(APP_BINARY, env, log)
    try:
        port = app_process.serving_port(server, log)
        def localize(url: str) -> str:
            return re.sub(r"^http://[^/]+", f"http://127.0.0.1:{port}", url)

        c = r.container
        probe_urls = [localize(f"http://x{c[k]['httpGet']['path']}")
                      for k in ("startupProbe", "livenessProbe", "readinessProbe")]
        post = r.hook("Job", "post-install")["spec"]["template"]["spec"]["containers"][0]["args"]
        test = r.hook("Pod", "test")["spec"]["containers"][0]["args"]
        for args in (["probe", "--wait-ms=10000", *probe_urls],
                     [a if not a.startswith("http://") else localize(a) for a in post],
                     [a if not a.startswith("http://") else localize(a) for a in test]):
            proc = run([str(APP_BINARY), *args], check=False, timeout=60)
            assert proc.returncode == 0, f"{args}: {proc.stdout}{proc.stderr}"
        # Probes and helm test never count a visit.
        assert not (tmp_path / "data" / "visits").exists() or (tmp_path / "data" / "visits").read_text() == "0\n"
        # The same probe fails when the app is gone, so the test can fail.
        server.terminate()
        assert server.wait(timeout=20) == 0, log.read_text()
        proc = run([str(APP_BINARY), "probe", "--timeout-ms=500", probe_urls[-1]], check=False)
        assert proc.returncode == 1
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


def test_the_test_pod_stays_after_success_so_helm_test_logs_can_read_it(render):
    """`helm test --logs` reads the test pod's log after the hooks ran; a hook-succeeded policy
    would have deleted it already (helm/helm#9098). The next `helm test` replaces it."""
    pod = render("defaults").hook("Pod", "test")
    assert pod["metadata"]["annotations"]["helm.sh/hook-delete-policy"] == "before-hook-creation"
