"""Every knob landing where it should, network policies, and fields that must stay immutable."""

from __future__ import annotations


import pytest
import yaml

from conftest import CASE_NAMES, CASES_BY_NAME, Case, Rendered, helm_template, parse, run, env_of, pod_specs, tool  # noqa: E501


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
    # Every object in the release namespace, except those given their own namespace below.
    own_namespace = {("ServiceMonitor", "app-rust-visits"), ("PrometheusRule", "app-rust-visits"),
                     ("ConfigMap", "app-rust-visits-dashboard")}
    assert all(d["metadata"]["namespace"] == "visits-ns" for d in r.docs
               if (d["kind"], d["metadata"]["name"]) not in own_namespace)
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
    # PrometheusRule and dashboard: each in its own namespace too
    assert r.one("PrometheusRule")["metadata"]["namespace"] == "monitoring"
    assert r.one("ConfigMap", "app-rust-visits-dashboard")["metadata"]["namespace"] == "grafana"


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
