"""Chart unit tests over real `helm template` output (Helm 3.17 and Helm 4).

Each test asserts semantics (names, wiring, security, every knob landing where it should),
not merely that the chart renders. Run through tests/chart/run.sh.
"""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from conftest import (
    CASES,
    CASES_BY_NAME,
    CHART,
    LONG_RELEASE,
    MAX_RELEASE,
    ROOT,
    VALUES_DIR,
    Case,
    Rendered,
    helm_template,
    parse,
    run,
    template_args,
    tool,
)

HERE = Path(__file__).resolve().parent
K8S_VERSIONS = ["1.30.0", "1.35.0"]
CASE_NAMES = [c.name for c in CASES]
# Keys the app accepts in its config file (docs/CONTRACT.md, "Settings").
CONTRACT_FILE_KEYS = {
    "listen", "dataDir", "timezone", "greeting", "logFormat", "logLevel", "requestTimeoutMs",
    "headerReadTimeoutMs", "maxHeaderBytes", "maxBodyBytes", "shutdownTimeoutMs", "peers",
    "peerService", "namespace", "replicas", "ordinalStart", "clusterDomain", "peerTimeoutMs",
    "clusterDeadlineMs",
}
# CRD kinds kubernetes-validate has no schema for; their fields are asserted by tests below.
CRD_KINDS = {"ServiceMonitor"}


def pod_specs(r: Rendered) -> list[tuple[str, dict]]:
    """Every pod spec the chart renders: StatefulSet, hook Jobs, test Pod."""
    specs = [(f"StatefulSet/{r.sts['metadata']['name']}", r.sts["spec"]["template"]["spec"])]
    for job in r.kinds("Job"):
        specs.append((f"Job/{job['metadata']['name']}", job["spec"]["template"]["spec"]))
    for pod in r.kinds("Pod"):
        specs.append((f"Pod/{pod['metadata']['name']}", pod["spec"]))
    return specs


def env_of(container: dict) -> dict:
    return {e["name"]: e for e in container.get("env", [])}


def fullname(case: Case) -> str:
    name = case.release if "app-rust" in case.release else f"{case.release}-app-rust"
    return name[:52].rstrip("-")


# --------------------------------------------------------------------------------------------
# Tooling-level checks: lint, validate, yamllint, package, dry-run, checkov, README table
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("helm_name", ["helm3", "helm4"])
@pytest.mark.parametrize("case_name", CASE_NAMES)
def test_helm_lint_strict(helm_name, case_name):
    helm = tool(helm_name)
    case = CASES_BY_NAME[case_name]
    proc = run([helm, "lint", "--strict", str(CHART), "--namespace", case.namespace,
                "-f", str(VALUES_DIR / case.values)])
    assert "1 chart(s) linted, 0 chart(s) failed" in proc.stdout


@pytest.mark.parametrize("case_name", CASE_NAMES)
def test_helm3_and_helm4_render_the_same(case_name, helm3, render):
    case = CASES_BY_NAME[case_name]
    assert parse(helm_template(helm3, case)) == render(case_name).docs


@pytest.mark.parametrize("k8s", K8S_VERSIONS)
@pytest.mark.parametrize("case_name", CASE_NAMES)
def test_kubernetes_validate_strict(case_name, k8s, render, tmp_path):
    r = render(case_name)
    manifest = tmp_path / f"{case_name}.yaml"
    manifest.write_text(r.text)
    proc = run([tool("kubernetes-validate"), "--strict", "-k", k8s, str(manifest)], check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout + proc.stderr
    assert "ERROR" not in out
    # Every non-CRD document must have been validated against a real schema...
    passed = re.findall(r"passed for resource (\S+?)/", out)
    expected = [d["kind"].lower() for d in r.docs if d["kind"] not in CRD_KINDS]
    assert sorted(passed) == sorted(expected), out
    # ...and the only documents without a schema are the known CRD kinds.
    for line in out.splitlines():
        if "Couldn't find schema" in line:
            assert any(f"kind {k} " in line for k in CRD_KINDS), line


def validate_crds(docs: list[dict]) -> subprocess.CompletedProcess:
    return run(["node", str(HERE / "validate-crds.mjs")], check=False, input=json.dumps(docs))


@pytest.mark.parametrize("case_name", [c.name for c in CASES if c.api_versions])
def test_crd_documents_validate_against_upstream_types(case_name, render):
    crds = [d for d in render(case_name).docs if d["kind"] in CRD_KINDS]
    assert crds, "this case is meant to render a ServiceMonitor"
    proc = validate_crds(crds)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("OK monitoring.coreos.com/v1/ServiceMonitor") == len(crds)


def test_crd_validator_rejects_a_broken_service_monitor(render):
    sm = json.loads(json.dumps(render("monitoring").one("ServiceMonitor")))
    sm["spec"]["endpoints"][0]["interval"] = "every minute"
    sm["spec"]["endpoints"][0]["honorLabels"] = "yes"
    proc = validate_crds([sm])
    assert proc.returncode == 1 and "interval" in proc.stdout and "honorLabels" in proc.stdout, proc.stdout


@pytest.mark.parametrize("case_name", CASE_NAMES)
def test_rendered_output_passes_yamllint(case_name, render, tmp_path):
    manifest = tmp_path / f"{case_name}.yaml"
    manifest.write_text(render(case_name).text)
    run([tool("yamllint"), "--strict", "-c", str(HERE / "yamllint.yaml"), str(manifest)])


def test_values_files_pass_yamllint():
    files = [CHART / "values.yaml", *sorted(VALUES_DIR.glob("*.yaml"))]
    run([tool("yamllint"), "--strict", "-c", str(HERE / "yamllint.yaml"), *map(str, files)])


@pytest.mark.parametrize("helm_name", ["helm3", "helm4"])
def test_helm_package_produces_versioned_archive(helm_name, tmp_path):
    helm = tool(helm_name)
    run([helm, "package", str(CHART), "--destination", str(tmp_path)])
    archive = tmp_path / "app-rust-0.1.0.tgz"
    assert archive.is_file(), list(tmp_path.iterdir())
    shown = yaml.safe_load(run([helm, "show", "chart", str(archive)]).stdout)
    assert (shown["name"], shown["version"], shown["appVersion"]) == ("app-rust", "0.1.0", "0.1.0")
    # The archive installs the same manifests as the directory.
    case = CASES_BY_NAME["defaults"]
    assert parse(helm_template(helm, case, chart=archive)) == parse(helm_template(helm, case))


def test_helm4_install_dry_run_client_without_cluster(helm4):
    proc = run([helm4, "install", "--dry-run=client", "--debug", "app-rust", str(CHART)])
    out = proc.stdout
    assert "STATUS: pending-install" in out
    assert "kind: StatefulSet" in out
    assert "kubectl exec --namespace default pod/app-rust-0 -- cat /app/data/visits" in out


@pytest.mark.parametrize("framework", ["kubernetes", "helm"])
def test_checkov_has_no_unlisted_failures_on_defaults(framework, render, chart_copy, tmp_path):
    if framework == "kubernetes":
        target = tmp_path / "manifests"
        target.mkdir()
        (target / "defaults.yaml").write_text(render("defaults").text)
    else:  # checkov runs `helm template` on the chart itself (needs a `helm` on PATH)
        tool("helm")
        target = chart_copy
    proc = run([tool("checkov"), "-d", str(target), "--framework", framework,
                "--skip-download", "--quiet", "-o", "json"], check=False, cwd=tmp_path)
    assert proc.returncode in (0, 1), proc.stderr
    report = json.loads(proc.stdout)
    reports = report if isinstance(report, list) else [report]
    summary = reports[0]["summary"]
    assert summary["passed"] > 100 and summary["parsing_errors"] == 0, summary  # the checks really ran
    failed = [(c["check_id"], c["resource"]) for rep in reports for c in rep["results"]["failed_checks"]]
    skips = []
    for line in (HERE / "checkov-skips.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            check_id, pattern, reason = line.split(None, 2)
            assert len(reason) > 20, f"skip {check_id} needs a real reason"
            skips.append((check_id, pattern))
    unlisted = [f for f in failed if not any(f[0] == c and fnmatch.fnmatch(f[1], p) for c, p in skips)]
    assert not unlisted, f"checkov failures not in checkov-skips.txt: {unlisted}"
    stale = [s for s in skips if not any(f[0] == s[0] and fnmatch.fnmatch(f[1], s[1]) for f in failed)]
    assert not stale, f"skips matching no finding (remove them): {stale}"


def test_readme_parameters_table_is_generated_from_values(tmp_path):
    readme = tmp_path / "README.md"
    shutil.copy(CHART / "README.md", readme)
    run([tool("readme-generator"), "--values", str(CHART / "values.yaml"), "--readme", str(readme)])
    assert readme.read_text() == (CHART / "README.md").read_text(), (
        "charts/app-rust/README.md parameters table is stale: run "
        "readme-generator --values charts/app-rust/values.yaml --readme charts/app-rust/README.md"
    )


# --------------------------------------------------------------------------------------------
# Values schema
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad, complaint",
    [
        ("replicaCount=-1", "/replicaCount"),
        ("unknownKey=1", "unknownKey"),
        ("service.type=Bogus", "/service/type"),
        ("service.nodePort=70000", "/service/nodePort"),
        ("podManagementPolicy=Sometimes", "/podManagementPolicy"),
        ("updateStrategy.type=Recreate", "/updateStrategy/type"),
        ("persistentVolumeClaimRetentionPolicy.whenDeleted=Keep", "whenDeleted"),
        ("image.pullPolicy=Sometimes", "/image/pullPolicy"),
        ("config.unknownSetting=1", "unknownSetting"),
        ("config.logFormat=xml", "/config/logFormat"),
        ("persistence.size=lots", "/persistence/size"),
        ("persistence.unknown=1", "unknown"),
        ("secret.stringData.bad-name=x", "bad-name"),
        ("podAntiAffinityPreset=sometimes", "/podAntiAffinityPreset"),
        ("replicaCount=three", "/replicaCount"),
    ],
)
@pytest.mark.parametrize("helm_name", ["helm3", "helm4"])
def test_schema_rejects_bad_values(helm_name, bad, complaint):
    proc = run([tool(helm_name), "template", "app-rust", str(CHART), "--set", bad], check=False)
    assert proc.returncode != 0, f"--set {bad} was accepted"
    # Helm 4 names the value as a JSON pointer (/service/type), Helm 3 with dots (service.type).
    dotted = complaint.strip("/").replace("/", ".")
    assert "schema" in proc.stderr and (complaint in proc.stderr or dotted in proc.stderr), proc.stderr


# Objects whose content is a Kubernetes type passed through verbatim (validated by
# kubernetes-validate --strict on the rendered output) or a free-form string map.
PASS_THROUGH = {"global", "affinity.nodeAffinity", "affinity.podAffinity", "affinity.podAntiAffinity",
                "lifecycle.preStop", "lifecycle.postStart", "podSecurityContext.seLinuxOptions",
                "podSecurityContext.appArmorProfile", "podSecurityContext.windowsOptions",
                "containerSecurityContext.seLinuxOptions", "containerSecurityContext.appArmorProfile",
                "containerSecurityContext.windowsOptions"}


def test_schema_is_strict_everywhere():
    schema = json.loads((CHART / "values.schema.json").read_text())
    loose = []

    def walk(node: dict, path: str):
        if not isinstance(node, dict):
            return
        for sub in node.get("anyOf", []):
            walk(sub, path)
        if node.get("type") == "object" or "properties" in node:
            if "properties" in node:
                if node.get("additionalProperties") is not False:
                    loose.append(path)
            elif "additionalProperties" not in node and path not in PASS_THROUGH:
                loose.append(path)
            for key, sub in node.get("properties", {}).items():
                walk(sub, f"{path}.{key}" if path else key)
        if isinstance(node.get("items"), dict):
            walk(node["items"], f"{path}[]")

    walk(schema, "")
    # Lists of Kubernetes objects (tolerations, envFrom, extraVolumes, ...) are passed through.
    loose = [p for p in loose if not p.endswith("[]")]
    assert not loose, f"objects in values.schema.json that accept unknown keys: {loose}"


def test_kube_version_constraint(helm4):
    proc = run([helm4, "template", "app-rust", str(CHART), "--kube-version", "1.24.0"], check=False)
    assert proc.returncode != 0 and "kubeVersion" in proc.stderr + proc.stdout, proc.stderr
    run([helm4, "template", "app-rust", str(CHART), "--kube-version", "1.25.0"])


@pytest.mark.parametrize(
    "bad, complaint",
    [
        (("terminationGracePeriodSeconds=5",), "must exceed config.shutdownTimeoutMs"),
        (("terminationGracePeriodSeconds=20", "config.shutdownTimeoutMs=20000"), "must exceed config.shutdownTimeoutMs"),
        (("hooks.activeDeadlineSeconds=60",), "must exceed hooks.postInstall.waitMs"),
        (("persistence.accessModes={ReadWriteOncePod,ReadWriteOnce}",), "ReadWriteOncePod"),
    ],
)
def test_cross_value_checks_fail_early(helm4, bad, complaint):
    args = [a for s in bad for a in ("--set", s)]
    proc = run([helm4, "template", "app-rust", str(CHART), *args], check=False)
    assert proc.returncode != 0 and complaint in proc.stderr, proc.stderr


def test_schema_accepts_every_matrix_values_file(render):
    for name in CASE_NAMES:
        assert render(name).docs


# --------------------------------------------------------------------------------------------
# StatefulSet semantics
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case_name", CASE_NAMES)
def test_headless_service_governs_the_statefulset(case_name, render):
    r = render(case_name)
    sts = r.sts
    headless = r.one("Service", sts["spec"]["serviceName"])
    assert headless["metadata"]["name"] == f"{sts['metadata']['name']}-headless"
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["publishNotReadyAddresses"] is True
    assert headless["spec"]["selector"] == sts["spec"]["selector"]["matchLabels"]
    assert [p["targetPort"] for p in headless["spec"]["ports"]] == ["http"]


@pytest.mark.parametrize("port", [8080, 9090])
def test_one_port_value_drives_the_listen_address_and_every_port(port, helm4):
    extra = ["--set", f"containerPorts.http={port}"]
    r = Rendered(CASES_BY_NAME["defaults"], helm_template(helm4, CASES_BY_NAME["defaults"], extra=extra))
    assert r.container["ports"] == [{"name": "http", "containerPort": port, "protocol": "TCP"}]
    assert env_of(r.container)["APP_LISTEN"]["value"] == f"0.0.0.0:{port}"
    headless = r.one("Service", r.sts["spec"]["serviceName"])
    assert [p["port"] for p in headless["spec"]["ports"]] == [port]
    (test_pod,) = r.kinds("Pod")
    urls = [a for a in test_pod["spec"]["containers"][0]["args"] if a.startswith("http://")]
    assert len(urls) == 2 * r.sts["spec"]["replicas"], urls
    assert all(re.match(rf"http://[^/]+:{port}/", u) for u in urls), urls


@pytest.mark.parametrize("case_name", CASE_NAMES)
def test_selector_is_only_name_and_instance(case_name, render):
    r = render(case_name)
    selector = r.sts["spec"]["selector"]["matchLabels"]
    assert set(selector) == {"app.kubernetes.io/name", "app.kubernetes.io/instance"}
    assert selector["app.kubernetes.io/instance"] == r.case.release
    pod_labels = r.sts["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= pod_labels.items()
    for svc in r.kinds("Service"):
        assert svc["spec"]["selector"] == selector
    for pdb in r.kinds("PodDisruptionBudget"):
        assert pdb["spec"]["selector"]["matchLabels"] == selector


@pytest.mark.parametrize("case_name", CASE_NAMES)
def test_data_volume_is_mounted_at_the_data_dir(case_name, render):
    r = render(case_name)
    c = r.container
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    assert mounts["data"] == "/app/data"
    assert env_of(c)["DATA_DIR"]["value"] == "/app/data"
    volumes = {v["name"]: v for v in r.sts["spec"]["template"]["spec"]["volumes"]}
    claims = r.sts["spec"].get("volumeClaimTemplates", [])
    if r.case.name == "persistence-off":
        assert claims == []
        assert "emptyDir" in volumes["data"]
    else:
        assert [t["metadata"]["name"] for t in claims] == ["data"]
        assert "data" not in volumes  # the claim template provides it


@pytest.mark.parametrize("case_name", CASE_NAMES)
def test_probes_target_health_endpoints_never_root(case_name, render):
    c = render(case_name).container
    probes = {k: c[k] for k in ("startupProbe", "livenessProbe", "readinessProbe")}
    for name, probe in probes.items():
        assert probe["httpGet"]["port"] == "http", name
        assert probe["httpGet"]["path"] not in ("/", ""), name
    assert probes["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert probes["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert probes["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]


@pytest.mark.parametrize("case_name", CASE_NAMES)
def test_pod_environment_follows_the_contract(case_name, render):
    r = render(case_name)
    env = env_of(r.container)
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    assert env["CONFIG_FILE"]["value"] == "/etc/app-rust/config.json"
    assert env["APP_PEER_SERVICE"]["value"] == r.sts["spec"]["serviceName"]
    assert env["APP_REPLICAS"]["value"] == str(r.sts["spec"]["replicas"])
    start = r.sts["spec"].get("ordinals", {}).get("start", 0)
    assert env["APP_ORDINAL_START"]["value"] == str(start)
    expected_domain = "cluster.example" if case_name == "other-namespace" else "cluster.local"
    assert env["APP_CLUSTER_DOMAIN"]["value"] == expected_domain
    mounts = {m["name"]: m for m in r.container["volumeMounts"]}
    assert mounts["config"]["mountPath"] == "/etc/app-rust" and mounts["config"]["readOnly"]
    assert mounts["tmp"]["mountPath"] == "/tmp"
    config_volume = {v["name"]: v for v in r.sts["spec"]["template"]["spec"]["volumes"]}["config"]
    assert config_volume["configMap"]["name"] == r.sts["metadata"]["name"]
    assert config_volume["configMap"]["items"] == [{"key": "config.json", "path": "config.json"}]


def test_defaults(render):
    r = render("defaults")
    spec = r.sts["spec"]
    assert r.sts["metadata"]["name"] == "app-rust"
    assert spec["replicas"] == 3
    assert spec["podManagementPolicy"] == "Parallel"
    assert spec["updateStrategy"] == {"type": "RollingUpdate"}  # no alpha/beta maxUnavailable
    assert "ordinals" not in spec  # k8s 1.27+ field only when asked for
    assert spec["persistentVolumeClaimRetentionPolicy"] == {"whenDeleted": "Retain", "whenScaled": "Retain"}
    assert spec["minReadySeconds"] == 0 and spec["revisionHistoryLimit"] == 10
    claim = spec["volumeClaimTemplates"][0]
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert "storageClassName" not in claim["spec"]  # the cluster default class
    c = r.container
    assert c["image"] == "app-rust:0.1.0"
    assert c["imagePullPolicy"] == "IfNotPresent"
    assert c["args"] == ["serve"]
    svc = r.one("Service", "app-rust")
    assert svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["ports"][0]["port"] == 8080 and "nodePort" not in svc["spec"]["ports"][0]
    assert r.one("PodDisruptionBudget")["spec"] == {
        "maxUnavailable": 1, "selector": spec["selector"]}
    assert not r.kinds("Ingress") and not r.kinds("Secret") and not r.kinds("ServiceMonitor")
    pod_annotations = spec["template"]["metadata"]["annotations"]
    assert not any(k.startswith("vault.hashicorp.com/") for k in pod_annotations)
    sa = r.one("ServiceAccount", "app-rust")
    assert sa["automountServiceAccountToken"] is False
    assert spec["template"]["spec"]["serviceAccountName"] == "app-rust"


@pytest.mark.parametrize("case_name", CASE_NAMES)
def test_every_pod_is_hardened_and_has_resources(case_name, render):
    r = render(case_name)
    specs = pod_specs(r)
    assert len(specs) == 4  # StatefulSet, pre-install Job, post-install Job, test Pod
    for where, spec in specs:
        assert spec["automountServiceAccountToken"] is False, where
        psc = spec["securityContext"]
        assert psc["runAsNonRoot"] is True and psc["runAsUser"] == 10001, where
        assert psc["seccompProfile"] == {"type": "RuntimeDefault"}, where
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["runAsNonRoot"] is True and sc["runAsUser"] == 10001, where
            assert sc["runAsGroup"] == 10001, where
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["allowPrivilegeEscalation"] is False, where
            assert sc["capabilities"]["drop"] == ["ALL"] and "add" not in sc["capabilities"], where
            assert sc["seccompProfile"] == {"type": "RuntimeDefault"}, where
            res = c["resources"]
            assert {"cpu", "memory"} <= set(res["requests"]) and {"cpu", "memory"} <= set(res["limits"]), where
            assert c["image"] == r.container["image"], f"{where} must use the app's own image"
    assert r.sts["spec"]["template"]["spec"]["securityContext"]["fsGroup"] == 10001


# --------------------------------------------------------------------------------------------
# The matrix: each case's own knob
# --------------------------------------------------------------------------------------------


def test_persistence_off_uses_emptydir_and_notes_warn(render, helm4):
    r = render("persistence-off")
    assert "volumeClaimTemplates" not in r.sts["spec"]
    data = {v["name"]: v for v in r.sts["spec"]["template"]["spec"]["volumes"]}["data"]
    assert data["emptyDir"]["sizeLimit"] == "1Gi"
    notes = run([helm4, "install", "--dry-run=client", "app-rust", str(CHART),
                 "-f", str(VALUES_DIR / "persistence-off.yaml")]).stdout
    assert "persistence.enabled=false" in notes and "LOST" in notes
    defaults_notes = run([helm4, "install", "--dry-run=client", "app-rust", str(CHART)]).stdout
    assert "LOST" not in defaults_notes and "data-app-rust-<ordinal>" in defaults_notes


def test_nodeport_with_fixed_port(render, helm4):
    svc = render("nodeport").one("Service", "app-rust")
    assert svc["spec"]["type"] == "NodePort"
    assert svc["spec"]["ports"][0]["nodePort"] == 30080
    assert svc["spec"]["externalTrafficPolicy"] == "Local"
    notes = run([helm4, "install", "--dry-run=client", "app-rust", str(CHART),
                 "-f", str(VALUES_DIR / "nodeport.yaml")]).stdout
    assert "minikube service app-rust --namespace default" in notes


def test_ordered_ready(render):
    assert render("ordered-ready").sts["spec"]["podManagementPolicy"] == "OrderedReady"


def test_on_delete_has_no_rolling_update_block(render):
    assert render("on-delete").sts["spec"]["updateStrategy"] == {"type": "OnDelete"}


def test_partition_canary(render):
    r = render("partition-canary")
    spec = r.sts["spec"]
    assert spec["replicas"] == 5
    assert spec["updateStrategy"] == {
        "type": "RollingUpdate", "rollingUpdate": {"partition": 4, "maxUnavailable": 2}}
    assert spec["ordinals"] == {"start": 0}  # explicitly set, so rendered even though 0


def test_retention_delete(render):
    assert render("retention-delete").sts["spec"]["persistentVolumeClaimRetentionPolicy"] == {
        "whenDeleted": "Delete", "whenScaled": "Delete"}


def test_vault_agent_injector_annotations(render):
    r = render("vault")
    pod = r.sts["spec"]["template"]
    ann = pod["metadata"]["annotations"]
    assert ann["vault.hashicorp.com/agent-inject"] == "true"
    assert ann["vault.hashicorp.com/role"] == "app-rust-reader"
    assert ann["vault.hashicorp.com/agent-inject-secret-app-rust.env"] == "secret/data/app-rust/config"
    assert ann["vault.hashicorp.com/agent-inject-template-app-rust.env"].startswith('{{- with secret "secret/data/app-rust/config"')
    # The default token is not mounted: the agent authenticates with a projected token volume.
    assert ann["vault.hashicorp.com/agent-service-account-token-volume-name"] == "vault-token"
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    assert volumes["vault-token"]["projected"]["sources"][0]["serviceAccountToken"]["path"] == "token"
    assert pod["spec"]["automountServiceAccountToken"] is False
    assert pod["spec"]["serviceAccountName"] == "app-rust"


def test_service_monitor_needs_both_the_flag_and_the_api(render, helm4):
    r = render("monitoring")
    sm = r.one("ServiceMonitor")
    assert sm["apiVersion"] == "monitoring.coreos.com/v1"
    assert sm["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert sm["spec"]["namespaceSelector"] == {"matchNames": ["default"]}
    assert sm["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "15s",
                                         "scrapeTimeout": "5s", "honorLabels": False}]
    # It selects exactly the headless Service (every replica once, ready or not).
    selected = [s["metadata"]["name"] for s in r.kinds("Service")
                if sm["spec"]["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()]
    assert selected == ["app-rust-headless"]
    # Enabled but the CRD is not served: nothing rendered, so installs do not fail.
    case = CASES_BY_NAME["monitoring"]
    no_api = Case("monitoring-no-api", case.values)
    assert "ServiceMonitor" not in {d["kind"] for d in parse(helm_template(helm4, no_api))}
    # API served but not enabled: nothing rendered either.
    api_only = Case("api-only", "defaults.yaml", api_versions=case.api_versions)
    assert "ServiceMonitor" not in {d["kind"] for d in parse(helm_template(helm4, api_only))}


@pytest.mark.parametrize("helm_name", ["helm3", "helm4"])
def test_sixty_character_release_name_is_refused_by_helm_itself(helm_name):
    helm = tool(helm_name)
    for args in (["template"], ["template", "--is-upgrade"]):
        proc = run([helm, *args, LONG_RELEASE, str(CHART)], check=False)
        assert proc.returncode != 0 and "must not be longer than 53" in proc.stderr, proc.stderr
    if helm_name == "helm4":
        proc = run([helm, "install", "--dry-run=client", LONG_RELEASE, str(CHART)], check=False)
        assert proc.returncode != 0 and "must not be longer than 53" in proc.stderr, proc.stderr


@pytest.mark.parametrize("case_name", ["long-release-name", "long-fullname-override"])
def test_long_names_fit_every_kubernetes_limit(case_name, render):
    r = render(case_name)
    name = r.sts["metadata"]["name"]
    # The StatefulSet controller labels each pod controller-revision-hash="<sts>-<hash>", the
    # hash being up to 10 characters, and a label value is at most 63: so <sts> <= 52.
    assert 50 <= len(name) <= 52 and not name.endswith("-")
    if case_name == "long-release-name":
        assert name == fullname(r.case) == f"{MAX_RELEASE}-app-rust"[:52].rstrip("-")
        assert r.sts["spec"]["selector"]["matchLabels"]["app.kubernetes.io/instance"] == MAX_RELEASE
    else:
        override = yaml.safe_load((VALUES_DIR / r.case.values).read_text())["fullnameOverride"]
        assert len(override) == 60 and name == override[:52].rstrip("-")
    assert r.sts["spec"]["serviceName"] == f"{name}-headless"
    replicas = r.sts["spec"]["replicas"]
    for i in range(replicas):
        assert len(f"{name}-{i}") <= 63  # pod name and hostname label
        assert len(f"data-{name}-{i}") <= 63  # PVC name
    assert len(f"{name}-{'9' * 10}") <= 63  # controller-revision-hash label value
    for d in r.docs:
        assert len(d["metadata"]["name"]) <= 63, d["metadata"]["name"]
        assert re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", d["metadata"]["name"]), d["metadata"]["name"]
        for v in d["metadata"].get("labels", {}).values():
            assert len(str(v)) <= 63
    # Hook and test names are derived from the capped name and stay distinct.
    hook_names = [d["metadata"]["name"] for d in r.docs if "helm.sh/hook" in d["metadata"].get("annotations", {})]
    assert len(set(hook_names)) == len(hook_names) - 1  # the check-config Job and ConfigMap share one


def test_another_namespace_reaches_every_name(render):
    r = render("other-namespace")
    for d in r.docs:
        assert d["metadata"]["namespace"] == "visits-prod", d["metadata"]["name"]
    assert r.sts["spec"]["ordinals"] == {"start": 1}
    test_pod = r.hook("Pod", "test")
    urls = test_pod["spec"]["containers"][0]["args"][2:]
    assert urls[0] == "http://app-rust-1.app-rust-headless.visits-prod.svc.cluster.example:8080/readyz"
    assert urls[-1] == "http://app-rust-3.app-rust-headless.visits-prod.svc.cluster.example:8080/visits"


# --------------------------------------------------------------------------------------------
# Hooks and helm test
# --------------------------------------------------------------------------------------------


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
    # Same configuration environment as serve, as the first replica.
    app_env = env_of(r.container)
    hook_env = env_of(c)
    for k in ("CONFIG_FILE", "DATA_DIR", "APP_PEER_SERVICE", "APP_REPLICAS", "APP_ORDINAL_START",
              "APP_CLUSTER_DOMAIN", "POD_NAMESPACE"):
        assert hook_env[k] == app_env[k], k
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
    a = default.sts["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
    b = everything.sts["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
    assert re.fullmatch(r"[0-9a-f]{64}", a) and a != b


def test_config_file_keys_override_and_null_values_fall_back_to_the_file(helm4):
    case = Case("null-config", "defaults.yaml", set_args=("config.greeting=null", "config.timezone=UTC"))
    r = Rendered(case, helm_template(helm4, case))
    cfg = json.loads(r.one("ConfigMap", "app-rust")["data"]["config.json"])
    assert cfg["greeting"] == "Hello from app-rust"  # from files/config.json
    assert cfg["timezone"] == "UTC"


APP_BINARY = ROOT / "target" / "debug" / "app-rust"


def container_env(r: Rendered, container: dict, pod_name: str) -> dict:
    """The environment Kubernetes would give the container (downward API and Secrets resolved)."""
    env = {"PATH": "/usr/bin:/bin"}
    secrets = {d["metadata"]["name"]: d["stringData"] for d in r.kinds("Secret")}
    for e in container["env"]:
        if "value" in e:
            env[e["name"]] = e["value"]
        elif "fieldRef" in e["valueFrom"]:
            field = e["valueFrom"]["fieldRef"]["fieldPath"]
            env[e["name"]] = {"metadata.name": pod_name, "metadata.namespace": r.sts["metadata"]["namespace"]}[field]
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
    assert env["CONFIG_FILE"] == "/etc/app-rust/config.json" and env["DATA_DIR"] == "/app/data"
    env["CONFIG_FILE"], env["DATA_DIR"] = str(config_file), str(data_dir)
    return run([str(APP_BINARY), "check-config"], check=False, env=env)


@pytest.mark.parametrize("case_name", CASE_NAMES)
def test_app_accepts_the_rendered_configuration(case_name, render, tmp_path):
    r = render(case_name)
    sts = r.sts
    start = sts["spec"].get("ordinals", {}).get("start", 0)
    config_json = r.one("ConfigMap", sts["metadata"]["name"])["data"]["config.json"]
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
    assert effective["replicas"] == sts["spec"]["replicas"]
    assert effective["ordinalStart"] == start
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


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_hook_test_and_probe_urls_answer_on_a_real_app(render, tmp_path):
    """Serve the real app on 127.0.0.1 and run the chart's own probe commands and probe paths
    against it (host names rewritten to the loopback address; everything else as rendered)."""
    r = render("defaults")
    port = free_port()
    config = tmp_path / "config.json"
    config.write_text(r.one("ConfigMap", "app-rust")["data"]["config.json"])
    (tmp_path / "data").mkdir()
    env = {"PATH": "/usr/bin:/bin", "CONFIG_FILE": str(config), "DATA_DIR": str(tmp_path / "data"),
           "APP_LISTEN": f"127.0.0.1:{port}", "POD_NAME": "app-rust-0"}
    server = subprocess.Popen([str(APP_BINARY), "serve"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    try:
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
        assert server.wait(timeout=20) == 0, server.stderr.read()
        proc = run([str(APP_BINARY), "probe", "--timeout-ms=500", probe_urls[-1]], check=False)
        assert proc.returncode == 1
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()


# --------------------------------------------------------------------------------------------
# Every knob lands where it should ("everything" case)
# --------------------------------------------------------------------------------------------


def test_every_knob_lands_where_it_should(render):
    r = render("everything")
    name = "app-rust-visits"
    sts = r.sts
    spec = sts["spec"]
    pod = spec["template"]
    ps = pod["spec"]
    c = r.container
    # names, namespaceOverride, labels, annotations
    assert sts["metadata"]["name"] == name
    assert all(d["metadata"]["namespace"] == "visits-ns" for d in r.docs if d["kind"] != "ServiceMonitor")
    assert spec["selector"]["matchLabels"] == {"app.kubernetes.io/name": "visits",
                                               "app.kubernetes.io/instance": "app-rust"}
    for d in r.docs:
        assert d["metadata"]["labels"]["team"] == "web", d["kind"]
        assert d["metadata"]["labels"]["helm.sh/chart"] == "app-rust-0.1.0"
        assert d["metadata"]["annotations"]["owner"] == "web-team", d["kind"]
    assert sts["metadata"]["annotations"]["sts-note"] == "yes"
    # image
    assert c["image"] == ("registry.example.com/apps/app-rust@sha256:"
                          "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
    assert c["imagePullPolicy"] == "Always"
    for _, s in pod_specs(r):
        assert s["imagePullSecrets"] == [{"name": "regcred"}]
    # StatefulSet knobs
    assert spec["replicas"] == 4 and spec["minReadySeconds"] == 7 and spec["revisionHistoryLimit"] == 3
    assert ps["terminationGracePeriodSeconds"] == 45
    assert pod["metadata"]["annotations"]["pod-note"] == "yes"
    assert pod["metadata"]["labels"]["tier"] == "frontend"
    assert "tier" not in spec["selector"]["matchLabels"]
    assert ps["priorityClassName"] == "high-priority"
    assert ps["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert ps["tolerations"][0]["key"] == "dedicated"
    assert ps["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"][0]["weight"] == 100
    tsc = ps["topologySpreadConstraints"][0]
    assert tsc["topologyKey"] == "topology.kubernetes.io/zone"
    assert tsc["labelSelector"] == {"matchLabels": spec["selector"]["matchLabels"]}
    assert c["lifecycle"] == {"preStop": {"sleep": {"seconds": 5}}}
    # ServiceAccount
    sa = r.one("ServiceAccount", "visits-sa")
    assert sa["metadata"]["annotations"]["sa-note"] == "yes"
    assert ps["serviceAccountName"] == "visits-sa"
    assert r.hook("Job", "post-install")["spec"]["template"]["spec"]["serviceAccountName"] == "visits-sa"
    assert r.hook("Pod", "test")["spec"]["serviceAccountName"] == "visits-sa"
    # resources and probe timings
    assert c["resources"] == {"requests": {"cpu": "100m", "memory": "64Mi"},
                              "limits": {"cpu": "1", "memory": "256Mi"}}
    assert c["startupProbe"]["failureThreshold"] == 50 and c["startupProbe"]["periodSeconds"] == 3
    assert c["livenessProbe"]["periodSeconds"] == 11 and c["livenessProbe"]["timeoutSeconds"] == 3
    assert c["readinessProbe"]["successThreshold"] == 2 and c["readinessProbe"]["initialDelaySeconds"] == 3
    # Secret through the named template, extraEnv, envFrom, extra volumes
    secret = r.one("Secret", name)
    assert secret["stringData"] == {"API_TOKEN": "s3cr3t", "APP_GREETING": "from-secret"}
    env = env_of(c)
    for key in ("API_TOKEN", "APP_GREETING"):
        assert env[key]["valueFrom"]["secretKeyRef"] == {"name": name, "key": key}
    assert "checksum/secret" in pod["metadata"]["annotations"]
    assert env["EXTRA_ONE"]["value"] == "1"
    assert c["envFrom"] == [{"configMapRef": {"name": "shared-env"}}]
    assert {"name": "extra", "emptyDir": {}} in ps["volumes"]
    assert {"name": "extra", "mountPath": "/extra"} in c["volumeMounts"]
    # persistence
    claim = spec["volumeClaimTemplates"][0]
    assert claim["metadata"]["name"] == "data"
    assert claim["metadata"]["annotations"] == {"backup": "daily"}
    assert claim["metadata"]["labels"]["keep"] == "true"
    assert claim["spec"]["storageClassName"] == "fast-ssd"
    assert claim["spec"]["accessModes"] == ["ReadWriteOncePod"]
    assert claim["spec"]["resources"]["requests"]["storage"] == "5Gi"
    # client Service
    svc = r.one("Service", name)
    assert svc["spec"]["type"] == "LoadBalancer"
    assert svc["spec"]["ports"][0]["port"] == 80 and svc["spec"]["ports"][0]["nodePort"] == 31000
    assert svc["spec"]["ports"][0]["targetPort"] == "http"
    assert svc["spec"]["loadBalancerSourceRanges"] == ["10.0.0.0/8"]
    assert svc["spec"]["externalTrafficPolicy"] == "Local" and svc["spec"]["sessionAffinity"] == "ClientIP"
    assert svc["metadata"]["annotations"]["lb-note"] == "yes"
    assert r.one("Service", f"{name}-headless")["metadata"]["annotations"]["headless-note"] == "yes"
    # Ingress
    ing = r.one("Ingress", name)
    assert ing["spec"]["ingressClassName"] == "nginx"
    assert ing["spec"]["tls"] == [{"hosts": ["visits.example.com"], "secretName": "visits-tls"}]
    rule = ing["spec"]["rules"][0]
    assert rule["host"] == "visits.example.com"
    assert rule["http"]["paths"][0]["backend"]["service"] == {"name": name, "port": {"name": "http"}}
    assert ing["metadata"]["annotations"]["ingress-note"] == "yes"
    # NetworkPolicy
    np = r.one("NetworkPolicy", name)
    assert r.one("NetworkPolicy", f"{name}-hooks")
    assert np["spec"]["podSelector"]["matchLabels"] == spec["selector"]["matchLabels"]
    assert np["spec"]["policyTypes"] == ["Ingress", "Egress"]
    sources = np["spec"]["ingress"][0]["from"]
    assert {"podSelector": {"matchLabels": spec["selector"]["matchLabels"]}} in sources
    assert sources[-1]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] == "ingress-nginx"
    egress = np["spec"]["egress"]
    assert {"port": 53, "protocol": "UDP"} in egress[0]["ports"]
    assert egress[-1] == {"to": [{"ipBlock": {"cidr": "10.1.0.0/16"}}]}
    # PDB
    assert r.one("PodDisruptionBudget", name)["spec"]["minAvailable"] == 2
    assert "maxUnavailable" not in r.one("PodDisruptionBudget", name)["spec"]
    # hooks
    post = r.hook("Job", "post-install")
    assert post["spec"]["backoffLimit"] == 2 and post["spec"]["activeDeadlineSeconds"] == 60
    assert post["spec"]["template"]["spec"]["containers"][0]["args"][1] == "--wait-ms=5000"
    assert r.hook("Pod", "test")["spec"]["containers"][0]["args"][1] == "--wait-ms=7000"
    # ServiceMonitor: in its own namespace, watching the release namespace
    sm = r.one("ServiceMonitor")
    assert sm["metadata"]["namespace"] == "monitoring"
    assert sm["spec"]["namespaceSelector"] == {"matchNames": ["visits-ns"]}
    assert sm["spec"]["endpoints"][0] == {"port": "http", "path": "/metrics", "interval": "1m",
                                          "scrapeTimeout": "20s", "honorLabels": True}


@pytest.mark.parametrize("case_name", CASE_NAMES)
def test_hook_and_test_pods_are_never_selected_as_replicas(case_name, render):
    r = render(case_name)
    selector = r.sts["spec"]["selector"]["matchLabels"].items()
    hooks = r.kinds("Job") + r.kinds("Pod")
    assert len(hooks) == 3
    for obj in hooks:
        template = obj["spec"]["template"]["metadata"] if obj["kind"] == "Job" else obj["metadata"]
        labels = template["labels"]
        # Otherwise Services would route clients to it and the StatefulSet could adopt it.
        assert not selector <= labels.items(), obj["metadata"]["name"]
        assert labels["app.kubernetes.io/instance"] == r.case.release
        assert labels["app.kubernetes.io/component"] in ("hook", "test")


def test_closed_network_policy_still_admits_peers_hooks_and_tests(render):
    r = render("everything")
    sources = r.one("NetworkPolicy", r.sts["metadata"]["name"])["spec"]["ingress"][0]["from"]
    for obj in [r.hook("Job", "post-install"), r.hook("Pod", "test")]:
        labels = (obj["spec"]["template"]["metadata"] if obj["kind"] == "Job" else obj["metadata"])["labels"]
        admitted = [
            src for src in sources if "podSelector" in src
            and src["podSelector"]["matchLabels"].items() <= labels.items()
        ]
        assert admitted, f"{obj['metadata']['name']} could not reach the replicas"


def test_network_policy_can_be_disabled(helm4):
    case = Case("no-netpol", "defaults.yaml", set_args=("networkPolicy.enabled=false",))
    assert "NetworkPolicy" not in {d["kind"] for d in parse(helm_template(helm4, case))}


@pytest.mark.parametrize("case_name", CASE_NAMES)
def test_hook_and_test_pods_accept_no_ingress(case_name, render):
    r = render(case_name)
    np = r.one("NetworkPolicy", f"{r.sts['metadata']['name']}-hooks")
    assert np["spec"]["policyTypes"] == ["Ingress"] and "ingress" not in np["spec"]
    for obj in r.kinds("Job") + r.kinds("Pod"):
        labels = (obj["spec"]["template"]["metadata"] if obj["kind"] == "Job" else obj["metadata"])["labels"]
        assert np["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    assert not np["spec"]["podSelector"]["matchLabels"].items() <= r.sts["spec"]["template"]["metadata"]["labels"].items()


def test_default_network_policy_allows_http_from_anywhere_only(render):
    r = render("defaults")
    np = r.one("NetworkPolicy", "app-rust")
    assert np["spec"]["policyTypes"] == ["Ingress"]
    assert np["spec"]["ingress"] == [{"ports": [{"port": "http", "protocol": "TCP"}]}]


def test_pod_anti_affinity_preset(render, helm4):
    soft = render("defaults").sts["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    term = soft["preferredDuringSchedulingIgnoredDuringExecution"][0]["podAffinityTerm"]
    assert term["topologyKey"] == "kubernetes.io/hostname"
    assert term["labelSelector"]["matchLabels"] == render("defaults").sts["spec"]["selector"]["matchLabels"]
    case = Case("hard", "defaults.yaml", set_args=("podAntiAffinityPreset=hard",))
    hard = Rendered(case, helm_template(helm4, case)).sts["spec"]["template"]["spec"]["affinity"]
    assert hard["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]["topologyKey"] == "kubernetes.io/hostname"
    case = Case("none", "defaults.yaml", set_args=("podAntiAffinityPreset=",))
    assert "affinity" not in Rendered(case, helm_template(helm4, case)).sts["spec"]["template"]["spec"]
    # An explicit affinity replaces the preset (the "everything" case).
    explicit = render("everything").sts["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
    assert explicit["preferredDuringSchedulingIgnoredDuringExecution"][0]["weight"] == 100
    assert "visits" in str(explicit)


def test_zero_replicas_render_no_readiness_hook_and_no_helm_test(helm4, tmp_path):
    case = Case("zero", "defaults.yaml", set_args=("replicaCount=0",))
    r = Rendered(case, helm_template(helm4, case))
    assert r.sts["spec"]["replicas"] == 0
    assert not r.kinds("Pod")  # no replica to probe: `probe` needs at least one URL
    assert [j["metadata"]["name"] for j in r.kinds("Job")] == ["app-rust-check-config"]
    manifest = tmp_path / "zero.yaml"
    manifest.write_text(r.text)
    run([tool("kubernetes-validate"), "--strict", "--quiet", "-k", "1.35.0", str(manifest)])


def test_image_pull_secrets_accept_names_and_objects(helm4):
    case = Case("pull", "defaults.yaml", set_args=("image.pullSecrets[0]=by-name", "image.pullSecrets[1].name=by-object"))
    r = Rendered(case, helm_template(helm4, case))
    for where, spec in pod_specs(r):
        assert spec["imagePullSecrets"] == [{"name": "by-name"}, {"name": "by-object"}], where


def test_storage_class_dash_means_no_class(helm4):
    case = Case("no-class", "defaults.yaml", set_args=("persistence.storageClass=-",))
    r = Rendered(case, helm_template(helm4, case))
    assert r.sts["spec"]["volumeClaimTemplates"][0]["spec"]["storageClassName"] == ""


# --------------------------------------------------------------------------------------------
# Immutable fields across chart versions
# --------------------------------------------------------------------------------------------


def immutable_parts(r: Rendered) -> dict:
    spec = r.sts["spec"]
    return {
        "selector": spec["selector"],
        "volumeClaimTemplates": spec.get("volumeClaimTemplates"),
        "serviceName": spec["serviceName"],
        "name": r.sts["metadata"]["name"],
        "podManagementPolicy": spec["podManagementPolicy"],
    }


@pytest.mark.parametrize("case_name", ["defaults", "everything", "long-release-name", "persistence-off"])
def test_selector_and_claim_templates_are_stable_across_chart_versions(case_name, chart_copy, render, helm4):
    chart_yaml = chart_copy / "Chart.yaml"
    meta = yaml.safe_load(chart_yaml.read_text())
    text = chart_yaml.read_text()
    text = text.replace(f"version: {meta['version']}", "version: 0.2.0")
    text = text.replace(f'appVersion: "{meta["appVersion"]}"', 'appVersion: "0.2.0"')
    chart_yaml.write_text(text)
    case = CASES_BY_NAME[case_name]
    bumped = Rendered(case, helm_template(helm4, case, chart=chart_copy))
    current = render(case_name)
    # The bump really took effect (otherwise this test could not fail)...
    assert bumped.sts["metadata"]["labels"]["helm.sh/chart"] == "app-rust-0.2.0"
    assert bumped.sts["metadata"]["labels"]["helm.sh/chart"] != current.sts["metadata"]["labels"]["helm.sh/chart"]
    # ...yet everything the API server refuses to change is identical.
    assert immutable_parts(bumped) == immutable_parts(current)
