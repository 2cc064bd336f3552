"""StatefulSet semantics over every values case, and each case's own knob."""

from __future__ import annotations

import json
import re

import pytest
import yaml

from conftest import CASE_NAMES, CASES_BY_NAME, CHART, LONG_RELEASE, MAX_RELEASE, VALUES_DIR, Case, Rendered, helm_template, parse, run, env_of, fullname, pod_specs, tool  # noqa: E501


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
    assert env["POD_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    assert env["CONFIG_FILE"]["value"] == "/etc/app-rust-revision/config.json"
    assert env["APP_PEER_SERVICE"]["value"] == r.sts["spec"]["serviceName"]
    # Nothing that changes when scaling: the members are looked up, not counted in advance.
    assert "APP_REPLICAS" not in env and "APP_ORDINAL_START" not in env
    expected_domain = "cluster.example" if case_name == "other-namespace" else "cluster.local"
    assert env["APP_CLUSTER_DOMAIN"]["value"] == expected_domain
    mounts = {m["name"]: m for m in r.container["volumeMounts"]}
    assert mounts["config"]["mountPath"] == "/etc/app-rust" and mounts["config"]["readOnly"]
    assert mounts["tmp"]["mountPath"] == "/tmp"
    volumes = {v["name"]: v for v in r.sts["spec"]["template"]["spec"]["volumes"]}
    assert volumes["config"]["configMap"]["name"] == r.sts["metadata"]["name"]
    # This revision's configuration: the pod template's annotation, as a file.
    assert mounts["revision-config"]["mountPath"] == "/etc/app-rust-revision"
    assert mounts["revision-config"]["readOnly"]
    assert volumes["revision-config"]["downwardAPI"]["items"] == [
        {"path": "config.json", "fieldRef": {"fieldPath": "metadata.annotations['app-rust/config.json']"}}
    ]
    assert volumes["config"]["configMap"]["items"] == [{"key": "config.json", "path": "config.json"}]


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


def pod_template(helm4, *set_args: str) -> dict:
    case = Case("scaling", "defaults.yaml", set_args=set_args)
    return Rendered(case, helm_template(helm4, case)).sts["spec"]["template"]


def test_scaling_never_changes_the_pod_template(helm4):
    """A changed pod template is a new revision, and the controller replaces every replica:
    scaling must change `spec.replicas` and nothing else."""
    templates = [yaml.safe_dump(pod_template(helm4, f"replicaCount={n}"), sort_keys=True) for n in (1, 3, 7)]
    assert templates[0] == templates[1] == templates[2]
    assert "replicaCount" not in templates[0] and "APP_REPLICAS" not in templates[0]


def test_a_config_change_is_a_new_revision_that_carries_its_configuration(helm4):
    before = pod_template(helm4)
    after = pod_template(helm4, "config.greeting=Canary")
    assert yaml.safe_dump(before, sort_keys=True) != yaml.safe_dump(after, sort_keys=True), "the pods must roll"
    key = "app-rust/config.json"
    old, new = (json.loads(t["metadata"]["annotations"][key]) for t in (before, after))
    assert old["greeting"] == "Hello from app-rust" and new["greeting"] == "Canary"
    assert {k: v for k, v in old.items() if k != "greeting"} == {k: v for k, v in new.items() if k != "greeting"}
    # The rest of the template is the same: only the configuration it carries changed.
    for t in (before, after):
        del t["metadata"]["annotations"][key]
    assert before == after
