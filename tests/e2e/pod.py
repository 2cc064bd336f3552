"""One pod of the set: what the StatefulSet controller and the kubelet would run for one
ordinal, derived from the rendered pod template and the objects it references (ConfigMaps,
Secrets, claim templates). Every field is checked against the allow-list (``allowlist``):
a field the podman replica run cannot honour raises ``Unsupported``.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field

from allowlist import Unsupported, only, require


def is_hook(doc: dict) -> bool:
    """A Helm hook or test: not installed with the release, so no pod can reference it."""
    return "helm.sh/hook" in (doc.get("metadata", {}).get("annotations") or {})


@dataclass
class Probe:
    kind: str  # startup, liveness, readiness
    path: str
    port_name: str | int
    container_port: int
    headers: dict[str, str]
    initial_delay: float
    period: float
    timeout: float
    success_threshold: int
    failure_threshold: int


@dataclass(frozen=True)
class ObjectRef:
    """Where a pod takes data from a ConfigMap or Secret: read when the pod is created, from
    the objects as they are then (the kubelet does not read them from the pod's revision)."""

    kind: str  # "ConfigMap" or "Secret"
    name: str
    key: str | None = None  # one key (env valueFrom), or None (a whole volume)
    items: tuple[tuple[str, str, int], ...] = ()  # volume items: (key, path, mode)
    mode: int = 0o644


@dataclass
class Mount:
    kind: str  # "files" (ConfigMap/Secret/downwardAPI), "tmpfs" (emptyDir), "claim" (volumeClaimTemplate)
    volume: str
    path: str
    read_only: bool
    files: dict[str, tuple[bytes, int]] = field(default_factory=dict)  # relpath -> (data, mode)
    tmpfs_size: str | None = None
    claim: str | None = None  # claim template name
    source: ObjectRef | None = None  # ConfigMap/Secret volumes: files re-read at pod creation


@dataclass
class PodSpec:
    """What the StatefulSet controller and the kubelet would run for one ordinal."""

    ordinal: int
    name: str
    namespace: str
    revision: str
    image: str
    command: list[str] | None
    args: list[str] | None
    env: list[tuple[str, str]]  # as rendered: object references resolved from the same release
    env_refs: dict[str, ObjectRef]  # variables re-read from the objects at pod creation
    pod_ip_env: list[str]  # variables that get the pod's IP (downward API status.podIP)
    mounts: list[Mount]
    ports: dict[str, int]  # port name -> containerPort
    probes: dict[str, Probe]
    labels: dict[str, str]
    annotations: dict[str, str]
    user: str | None
    groups: list[int]
    read_only_root: bool
    cap_drop: list[str]
    cap_add: list[str]
    no_new_privileges: bool
    memory_limit: str | None
    cpu_limit: str | None
    stop_timeout: int
    dns_names: list[str]  # network aliases: the names the cluster's DNS would serve for it
    dns_search: list[str]

    def claim_name(self, mount: Mount) -> str:
        return f"{mount.claim}-{self.name.rsplit('-', 1)[0]}-{self.ordinal}"


@dataclass
class PodTemplate:
    """What every pod of the set shares: the rendered pod template and where it stands."""

    documents: list[dict]  # the whole release, for the objects the template references
    sts_name: str
    namespace: str
    service_name: str
    labels: dict[str, str]
    annotations: dict[str, str]
    spec: dict  # the pod template's spec
    claim_templates: dict[str, dict]
    revision: str
    cluster_domain: str


def _quantity_to_podman_memory(q: str) -> str:
    units = {"Ki": "k", "Mi": "m", "Gi": "g"}
    for suffix, podman in units.items():
        if q.endswith(suffix):
            return q[: -len(suffix)] + podman
    require(q.isdigit(), f"memory quantity {q!r}: only plain bytes, Ki, Mi or Gi are supported")
    return q + "b"


def _quantity_to_cpus(q: str) -> str:
    if q.endswith("m"):
        return str(int(q[:-1]) / 1000)
    return str(float(q))


def find_object(documents: list[dict], kind: str, name: str, namespace: str) -> dict | None:
    for d in documents:
        md = d.get("metadata", {})
        if (
            d.get("kind") == kind
            and md.get("name") == name
            and md.get("namespace", namespace) == namespace
            and not is_hook(d)
        ):
            return d
    return None


def _config_source(documents: list[dict], kind: str, name: str, namespace: str) -> dict[str, bytes]:
    """The data of a rendered ConfigMap or Secret (a reference to a missing one is an error,
    as the kubelet would leave the pod in CreateContainerConfigError)."""
    doc = find_object(documents, kind, name, namespace)
    if doc is None:
        raise Unsupported(
            f"the pod template references {kind} {name!r}, which the chart does not render; "
            "the kubelet would never start the container"
        )
    data: dict[str, bytes] = {}
    if kind == "ConfigMap":
        only(doc, {"apiVersion", "kind", "metadata", "data", "immutable"}, f"ConfigMap {name}")
        for k, v in (doc.get("data") or {}).items():
            data[k] = str(v).encode()
    else:
        only(doc, {"apiVersion", "kind", "metadata", "type", "data", "stringData", "immutable"}, f"Secret {name}")
        require(doc.get("type", "Opaque") == "Opaque", f"Secret {name}: only type Opaque is supported")
        for k, v in (doc.get("data") or {}).items():
            data[k] = base64.b64decode(v)
        for k, v in (doc.get("stringData") or {}).items():
            data[k] = str(v).encode()
    return data


def volume_files(documents: list[dict], ref: ObjectRef, namespace: str) -> dict[str, tuple[bytes, int]]:
    """The files of a ConfigMap or Secret volume, from the objects in `documents`."""
    data = _config_source(documents, ref.kind, ref.name, namespace)
    if not ref.items:
        return {k: (d, ref.mode) for k, d in data.items()}
    files = {}
    for key, path, mode in ref.items:
        require(key in data, f"{ref.kind} {ref.name} has no key {key!r}")
        files[path] = (data[key], mode)
    return files


def env_value(documents: list[dict], ref: ObjectRef, namespace: str) -> str:
    """One variable from a ConfigMap or Secret key, from the objects in `documents`."""
    data = _config_source(documents, ref.kind, ref.name, namespace)
    require(ref.key in data, f"{ref.kind} {ref.name} has no key {ref.key!r}")
    return data[ref.key].decode()


def _downward_api_files(
    volume: dict, pod_name: str, namespace: str, labels: dict, annotations: dict, where: str
) -> dict[str, tuple[bytes, int]]:
    """A downwardAPI volume's files: pod name, namespace, one label or one annotation each."""
    src = only(volume, {"items", "defaultMode"}, where)
    mode = int(src.get("defaultMode", 0o644))
    files = {}
    for j, item in enumerate(src.get("items") or []):
        only(item, {"path", "fieldRef", "mode"}, f"{where}.items[{j}]")
        fr = only(item["fieldRef"], {"fieldPath", "apiVersion"}, f"{where}.items[{j}].fieldRef")
        field_path = fr["fieldPath"]
        if field_path == "metadata.name":
            value = pod_name
        elif field_path == "metadata.namespace":
            value = namespace
        elif m := re.fullmatch(r"metadata\.(annotations|labels)\['([^']+)'\]", field_path):
            source = annotations if m.group(1) == "annotations" else labels
            require(m.group(2) in source, f"{where}.items[{j}]: the pod has no {m.group(1)[:-1]} {m.group(2)!r}")
            value = source[m.group(2)]
        else:
            raise Unsupported(f"{where}.items[{j}]: downward API field {field_path!r} is not run here")
        files[item["path"]] = (value.encode(), int(item.get("mode", mode)))
    return files


def _check_scheduling(affinity: dict, where: str) -> None:
    """All the pods run on one machine, which plays a single node. Preferred (soft) affinity
    terms only weigh the scheduler's choice of node and are met trivially with one node; a
    required term could leave pods Pending or place them differently, so it is refused."""
    only(affinity, {"nodeAffinity", "podAffinity", "podAntiAffinity"}, where)
    for kind, terms in affinity.items():
        only(terms or {}, {"preferredDuringSchedulingIgnoredDuringExecution"}, f"{where}.{kind}")


def derive_pod(t: PodTemplate, ordinal: int) -> PodSpec:
    """The pod the controller would create for `ordinal`, every field checked."""
    pod_name = f"{t.sts_name}-{ordinal}"
    where = f"pod {pod_name}"
    only(
        t.spec,
        {
            "serviceAccountName",  # identity for the API server, which does not exist here
            "automountServiceAccountToken",
            "terminationGracePeriodSeconds",
            "securityContext",
            "containers",
            "volumes",
            "affinity",
        },
        f"{where}.spec",
    )
    _check_scheduling(t.spec.get("affinity") or {}, f"{where}.spec.affinity")
    require(
        t.spec.get("automountServiceAccountToken") is False,
        f"{where}: automountServiceAccountToken must be false (no API token can be mounted here)",
    )
    containers = t.spec.get("containers") or []
    require(len(containers) == 1, f"{where}: exactly one container is supported, found {len(containers)}")
    c = only(
        containers[0],
        {
            "name",
            "image",
            "imagePullPolicy",
            "command",
            "args",
            "ports",
            "env",
            "envFrom",
            "startupProbe",
            "livenessProbe",
            "readinessProbe",
            "resources",
            "securityContext",
            "volumeMounts",
        },
        f"{where}.containers[0]",
    )
    cw = f"{where} container {c['name']}"
    require(c.get("imagePullPolicy", "IfNotPresent") in ("IfNotPresent", "Never"), f"{cw}: imagePullPolicy {c.get('imagePullPolicy')!r}: no registry can be reached here, the image must be local")
    ports = _ports(c, cw)
    env, env_refs, pod_ip_env = _env(t, c, pod_name, cw)
    fqdn_suffix = f"{t.service_name}.{t.namespace}.svc.{t.cluster_domain}"
    return PodSpec(
        ordinal=ordinal,
        name=pod_name,
        namespace=t.namespace,
        revision=t.revision,
        image=c["image"],
        command=c.get("command"),
        args=c.get("args"),
        env=env,
        env_refs=env_refs,
        pod_ip_env=pod_ip_env,
        mounts=_mounts(t, c, pod_name, where, cw),
        ports=ports,
        probes=_probes(c, ports, cw),
        labels={**t.labels, "statefulset.kubernetes.io/pod-name": pod_name, "apps.kubernetes.io/pod-index": str(ordinal)},
        annotations=dict(t.annotations),
        stop_timeout=int(t.spec.get("terminationGracePeriodSeconds", 30)),
        # The pod's own A record and the headless Service's name (one A record per pod).
        dns_names=[f"{pod_name}.{fqdn_suffix}", fqdn_suffix],
        # What the kubelet writes into a pod's resolv.conf, so short names resolve as in a cluster.
        dns_search=[f"{t.namespace}.svc.{t.cluster_domain}", f"svc.{t.cluster_domain}", t.cluster_domain],
        **_security(t.spec, c, where, cw),
        **_limits(c, cw),
    )


def _security(pod_spec: dict, c: dict, where: str, cw: str) -> dict:
    """The pod's and the container's securityContext, merged as Kubernetes merges them."""
    psc = only(
        pod_spec.get("securityContext") or {},
        {"runAsNonRoot", "runAsUser", "runAsGroup", "fsGroup", "fsGroupChangePolicy", "seccompProfile"},
        f"{where}.spec.securityContext",
    )
    csc = only(
        c.get("securityContext") or {},
        {"runAsNonRoot", "runAsUser", "runAsGroup", "readOnlyRootFilesystem", "allowPrivilegeEscalation", "privileged", "capabilities", "seccompProfile"},
        f"{cw}.securityContext",
    )
    merged = {**psc, **csc}  # the container's settings win, as in Kubernetes
    for sc_where, sc in ((f"{where}.spec.securityContext", psc), (f"{cw}.securityContext", csc)):
        if "seccompProfile" in sc:
            only(sc["seccompProfile"], {"type"}, f"{sc_where}.seccompProfile")
            require(sc["seccompProfile"]["type"] == "RuntimeDefault", f"{sc_where}: seccompProfile {sc['seccompProfile']['type']!r}: only RuntimeDefault (podman's default profile)")
    require(not merged.get("privileged", False), f"{cw}: privileged containers are not run here")
    uid = merged.get("runAsUser")
    gid = merged.get("runAsGroup")
    if merged.get("runAsNonRoot"):
        # The kubelet refuses to start a container that would run as root.
        require(uid is not None and int(uid) != 0, f"{cw}: runAsNonRoot needs a numeric non-zero runAsUser")
    caps = only(csc.get("capabilities") or {}, {"drop", "add"}, f"{cw}.securityContext.capabilities")
    return {
        "user": None if uid is None else (f"{uid}:{gid}" if gid is not None else str(uid)),
        "groups": [int(psc["fsGroup"])] if "fsGroup" in psc else [],
        "read_only_root": bool(merged.get("readOnlyRootFilesystem", False)),
        "cap_drop": list(caps.get("drop") or []),
        "cap_add": list(caps.get("add") or []),
        "no_new_privileges": merged.get("allowPrivilegeEscalation") is False,
    }


def _ports(c: dict, cw: str) -> dict[str, int]:
    """Port name (or number) -> containerPort."""
    ports: dict[str, int] = {}
    for i, p in enumerate(c.get("ports") or []):
        only(p, {"name", "containerPort", "protocol"}, f"{cw}.ports[{i}]")
        require(p.get("protocol", "TCP") == "TCP", f"{cw}.ports[{i}]: only TCP")
        ports[p.get("name") or str(p["containerPort"])] = int(p["containerPort"])
    return ports


def _env(t: PodTemplate, c: dict, pod_name: str, cw: str) -> tuple[list[tuple[str, str]], dict[str, ObjectRef], list[str]]:
    """The container's environment as rendered (envFrom first, then env), the variables to
    re-read from their objects at pod creation, and those that get the pod's IP."""
    fields = {"metadata.name": pod_name, "metadata.namespace": t.namespace}
    env: list[tuple[str, str]] = []
    env_refs: dict[str, ObjectRef] = {}
    pod_ip_env: list[str] = []
    for i, src in enumerate(c.get("envFrom") or []):
        only(src, {"configMapRef", "secretRef", "prefix"}, f"{cw}.envFrom[{i}]")
        for key, kind in (("configMapRef", "ConfigMap"), ("secretRef", "Secret")):
            if key in src:
                ref = only(src[key], {"name", "optional"}, f"{cw}.envFrom[{i}].{key}")
                if find_object(t.documents, kind, ref["name"], t.namespace) is None and ref.get("optional"):
                    continue
                for k, v in _config_source(t.documents, kind, ref["name"], t.namespace).items():
                    env.append((src.get("prefix", "") + k, v.decode()))
    for i, e in enumerate(c.get("env") or []):
        only(e, {"name", "value", "valueFrom"}, f"{cw}.env[{i}]")
        if "valueFrom" not in e:
            env.append((e["name"], str(e.get("value", ""))))
            continue
        vf = only(e["valueFrom"], {"fieldRef", "configMapKeyRef", "secretKeyRef"}, f"{cw}.env[{i}].valueFrom")
        if "fieldRef" in vf:
            fr = only(vf["fieldRef"], {"fieldPath", "apiVersion"}, f"{cw}.env[{i}].valueFrom.fieldRef")
            if fr["fieldPath"] == "status.podIP":
                pod_ip_env.append(e["name"])  # known once the pod has its address
                env.append((e["name"], ""))
                continue
            require(fr["fieldPath"] in fields, f"{cw}.env[{i}]: downward API field {fr['fieldPath']!r} is not known here (only {sorted(fields)} and status.podIP)")
            env.append((e["name"], fields[fr["fieldPath"]]))
        else:
            key, kind = ("configMapKeyRef", "ConfigMap") if "configMapKeyRef" in vf else ("secretKeyRef", "Secret")
            ref = only(vf[key], {"name", "key", "optional"}, f"{cw}.env[{i}].valueFrom.{key}")
            data = _config_source(t.documents, kind, ref["name"], t.namespace)
            require(ref["key"] in data, f"{cw}.env[{i}]: {kind} {ref['name']} has no key {ref['key']!r}")
            env.append((e["name"], data[ref["key"]].decode()))
            env_refs[e["name"]] = ObjectRef(kind, ref["name"], key=ref["key"])
    return env, env_refs, pod_ip_env


def _mounts(t: PodTemplate, c: dict, pod_name: str, where: str, cw: str) -> list[Mount]:
    """The container's volume mounts: claims, tmpfs for emptyDir, files for the rest; every
    pod volume must be mounted."""
    volumes: dict[str, dict] = {}
    for i, v in enumerate(t.spec.get("volumes") or []):
        only(v, {"name", "configMap", "secret", "emptyDir", "downwardAPI"}, f"{where}.spec.volumes[{i}]")
        volumes[v["name"]] = v
    mounts: list[Mount] = []
    for i, m in enumerate(c.get("volumeMounts") or []):
        mw = f"{cw}.volumeMounts[{i}]"
        only(m, {"name", "mountPath", "readOnly"}, mw)
        vname, path, ro = m["name"], m["mountPath"], bool(m.get("readOnly", False))
        if vname in t.claim_templates:
            require(vname not in volumes, f"{mw}: {vname!r} is both a pod volume and a claim template")
            mounts.append(Mount("claim", vname, path, ro, claim=vname))
            continue
        require(vname in volumes, f"{mw}: no volume or claim template named {vname!r}")
        v = volumes[vname]
        if "emptyDir" in v:
            ed = only(v["emptyDir"] or {}, {"sizeLimit", "medium"}, f"{where}.volumes.{vname}.emptyDir")
            size = ed.get("sizeLimit")
            mounts.append(Mount("tmpfs", vname, path, ro, tmpfs_size=_quantity_to_podman_memory(size) if size else None))
            continue
        if "downwardAPI" in v:
            files = _downward_api_files(v["downwardAPI"], pod_name, t.namespace, t.labels, t.annotations, f"{where}.volumes.{vname}")
            # Pod fields belong to the pod (its template's revision); the volume is read-only.
            mounts.append(Mount("files", vname, path, True, files=files))
            continue
        kind, key = ("ConfigMap", "configMap") if "configMap" in v else ("Secret", "secret")
        src = only(v[key], {"name", "secretName", "items", "defaultMode", "optional"}, f"{where}.volumes.{vname}.{key}")
        source_name = src.get("name") or src.get("secretName")
        mode = int(src.get("defaultMode", 0o644))
        items = []
        for j, item in enumerate(src.get("items") or []):
            only(item, {"key", "path", "mode"}, f"{where}.volumes.{vname}.{key}.items[{j}]")
            items.append((item["key"], item["path"], int(item.get("mode", mode))))
        ref = ObjectRef(kind, source_name, items=tuple(items), mode=mode)
        # ConfigMap and Secret volumes are always read-only in Kubernetes.
        mounts.append(Mount("files", vname, path, True, files=volume_files(t.documents, ref, t.namespace), source=ref))
    mounted = {m.volume for m in mounts}
    unused = sorted(set(volumes) - mounted)
    require(not unused, f"{where}: volumes {unused} are not mounted by the container")
    return mounts


def _probes(c: dict, ports: dict[str, int], cw: str) -> dict[str, Probe]:
    """The container's httpGet probes, with Kubernetes' defaults."""
    probes: dict[str, Probe] = {}
    for kind in ("startup", "liveness", "readiness"):
        p = c.get(f"{kind}Probe")
        if not p:
            continue
        pw = f"{cw}.{kind}Probe"
        only(p, {"httpGet", "initialDelaySeconds", "periodSeconds", "timeoutSeconds", "successThreshold", "failureThreshold"}, pw)
        require("httpGet" in p, f"{pw}: only httpGet probes are run here")
        hg = only(p["httpGet"], {"path", "port", "scheme", "httpHeaders"}, f"{pw}.httpGet")
        require(hg.get("scheme", "HTTP") == "HTTP", f"{pw}: only scheme HTTP")
        port = hg["port"]
        if isinstance(port, str) and not port.isdigit():
            require(port in ports, f"{pw}: named port {port!r} is not a container port")
            container_port = ports[port]
        else:
            container_port = int(port)
        probes[kind] = Probe(
            kind=kind,
            path=hg.get("path", "/"),
            port_name=port,
            container_port=container_port,
            headers={h["name"]: h["value"] for h in hg.get("httpHeaders") or []},
            initial_delay=float(p.get("initialDelaySeconds", 0)),
            period=float(p.get("periodSeconds", 10)),
            timeout=float(p.get("timeoutSeconds", 1)),
            success_threshold=int(p.get("successThreshold", 1)),
            failure_threshold=int(p.get("failureThreshold", 3)),
        )
    return probes


def _limits(c: dict, cw: str) -> dict:
    """The container's limits as podman flags; requests only inform the scheduler, which does
    not exist here."""
    res = only(c.get("resources") or {}, {"requests", "limits"}, f"{cw}.resources")
    only(res.get("requests") or {}, {"cpu", "memory"}, f"{cw}.resources.requests")
    limits = only(res.get("limits") or {}, {"cpu", "memory"}, f"{cw}.resources.limits")
    return {
        "memory_limit": _quantity_to_podman_memory(str(limits["memory"])) if "memory" in limits else None,
        "cpu_limit": _quantity_to_cpus(str(limits["cpu"])) if "cpu" in limits else None,
    }
