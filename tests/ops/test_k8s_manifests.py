"""The Kubernetes manifests (deployments/k8s): rendered, schema-valid, and consistent with the app.

Rendering is a minimal Kustomize in pure Python for the features the overlays use (resources,
namespace, images, strategic-merge patches by name or by kind + label selector); any other
kustomization field fails the test, so the renderer cannot silently ignore one. Schemas are the
vendored Kubernetes OpenAPI schemas of the ``kubernetes-validate`` package (strict: unknown
fields are errors). Probe paths are checked against the FastAPI routes and ports against
docker/entrypoint.sh, which starts every role.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from app.deployments import POOLS
from app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deployments" / "k8s"
OVERLAYS = ("homolog", "production")
K8S_VERSION = "1.33.0"  # the oldest minor the manifests target (docs/kubernetes.md)
ENTRYPOINT = (ROOT / "docker" / "entrypoint.sh").read_text(encoding="utf-8")
LAG_METRIC = "contab_pool_queue_lag_seconds"
KNOWN_FIELDS = {"apiVersion", "kind", "resources", "namespace", "images", "patches"}
CLUSTER_SCOPED = {"Namespace"}
POOL_LIMITS = {
    pool: cfg["concurrency_limit"]
    for pool, cfg in yaml.safe_load((ROOT / "deployments" / "pools.yaml").read_text())[
        "pools"
    ].items()
}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|_KEY$|TOKEN|CONNECTION_URL")

Resource = dict[str, Any]


# ---------------------------------------------------------------- minimal kustomize


def merge(base: Any, patch: Any) -> Any:
    """Strategic merge: maps merge recursively (null deletes), lists of named items merge by
    ``name`` (containers, env, volumes, volumeMounts), other lists are replaced."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    named = isinstance(base, list) and isinstance(patch, list)
    if named and all(isinstance(i, dict) and "name" in i for i in [*base, *patch]):
        items = {i["name"]: i for i in base}
        for item in patch:
            items[item["name"]] = (
                merge(items[item["name"]], item) if item["name"] in items else item
            )
        return list(items.values())
    return copy.deepcopy(patch)


def _selected(res: Resource, target: dict[str, str]) -> bool:
    if "kind" in target and res["kind"] != target["kind"]:
        return False
    if "name" in target and res["metadata"]["name"] != target["name"]:
        return False
    labels = res["metadata"].get("labels", {})
    for pair in filter(None, target.get("labelSelector", "").split(",")):
        key, _, value = pair.partition("=")
        if labels.get(key.strip()) != value.strip():
            return False
    return True


def _set_images(node: Any, images: list[dict[str, str]]) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "image" and isinstance(value, str):
                for img in images:
                    if value.split(":")[0] == img["name"]:
                        node[key] = f"{img.get('newName', img['name'])}:{img['newTag']}"
            else:
                _set_images(value, images)
    elif isinstance(node, list):
        for item in node:
            _set_images(item, images)


def render(directory: Path) -> list[Resource]:
    """The resources ``kubectl kustomize directory`` produces, for the features used here."""
    kz = yaml.safe_load((directory / "kustomization.yaml").read_text(encoding="utf-8"))
    unknown = set(kz) - KNOWN_FIELDS
    assert not unknown, f"{directory}: kustomization fields the test renderer lacks: {unknown}"
    out: list[Resource] = []
    for entry in kz.get("resources", []):
        path = (directory / entry).resolve()
        if path.is_dir():
            out += render(path)
        else:
            out += [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]
    for patch_entry in kz.get("patches", []):
        docs = list(yaml.safe_load_all((directory / patch_entry["path"]).read_text("utf-8")))
        assert len(docs) == 1, f"{patch_entry['path']}: a `patches` file holds one patch"
        patch = docs[0]
        target = patch_entry.get("target") or {
            "kind": patch["kind"],
            "name": patch["metadata"]["name"],
        }
        hits = [i for i, res in enumerate(out) if _selected(res, target)]
        assert hits, f"{directory}: patch {patch_entry['path']} matches nothing"
        body = {k: v for k, v in patch.items() if k not in {"apiVersion", "kind", "metadata"}}
        meta = {k: v for k, v in patch["metadata"].items() if k != "name"}
        for i in hits:
            out[i] = merge(out[i], {**body, "metadata": meta} if meta else body)
    _set_images(out, kz.get("images", []))
    if "namespace" in kz:
        for res in out:
            if res["kind"] not in CLUSTER_SCOPED:
                res["metadata"]["namespace"] = kz["namespace"]
    return out


@pytest.fixture(scope="module", params=OVERLAYS)
def overlay(request: pytest.FixtureRequest) -> tuple[str, list[Resource]]:
    return request.param, render(K8S / "overlays" / request.param)


def find(resources: list[Resource], kind: str, name: str) -> Resource:
    hits = [r for r in resources if r["kind"] == kind and r["metadata"]["name"] == name]
    assert len(hits) == 1, f"{kind}/{name}: {len(hits)} found"
    return hits[0]


def pod_spec(res: Resource) -> dict[str, Any]:
    return res["spec"]["template"]["spec"]


def containers(resources: list[Resource]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{r['kind']}/{r['metadata']['name']}", c)
        for r in resources
        if r["kind"] in {"Deployment", "Job"}
        for c in pod_spec(r)["containers"]
    ]


def port_number(container: dict[str, Any], port: int | str) -> int:
    """A probe's port (a number or a container port's name) as a number."""
    if isinstance(port, int):
        return port
    return next(int(p["containerPort"]) for p in container["ports"] if p["name"] == port)


def entrypoint_default(variable: str) -> int:
    """The default port docker/entrypoint.sh uses, e.g. ${API_PORT:-8000} -> 8000."""
    match = re.search(r"\$\{" + variable + r":-(\d+)\}", ENTRYPOINT)
    assert match, f"{variable} not in docker/entrypoint.sh"
    return int(match.group(1))


def config(resources: list[Resource]) -> dict[str, str]:
    return dict(find(resources, "ConfigMap", "contab-config")["data"])


# ---------------------------------------------------------------- validity


def test_every_rendered_resource_is_valid_for_the_target_kubernetes(overlay) -> None:  # type: ignore[no-untyped-def]
    name, resources = overlay
    assert resources
    for res in resources:
        try:
            kubernetes_validate.validate(res, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{name}: {res['kind']}/{res['metadata']['name']}: {exc.message}")
    keys = [(r["kind"], r["metadata"]["name"]) for r in resources]
    assert len(keys) == len(set(keys)), "duplicate resources"
    namespaces = {r["metadata"].get("namespace") for r in resources if r["kind"] != "Namespace"}
    assert namespaces == {find(resources, "Namespace", next(iter(namespaces)))["metadata"]["name"]}


def test_image_is_the_release_image_everywhere(overlay) -> None:  # type: ignore[no-untyped-def]
    _, resources = overlay
    images = {c["image"] for _, c in containers(resources)}
    assert len(images) == 1 and next(iter(images)).startswith("ghcr.io/"), images


# ---------------------------------------------------------------- probes and ports vs the app


def test_api_probes_are_routes_of_the_app_on_the_uvicorn_port(overlay) -> None:  # type: ignore[no-untyped-def]
    from app.api.main import app

    _, resources = overlay
    paths = app.openapi()["paths"]
    get_routes = {path for path, ops in paths.items() if "get" in ops}
    api = find(resources, "Deployment", "contab-api")
    (container,) = pod_spec(api)["containers"]
    assert container["args"] == ["api"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/api/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/api/health"  # cached check
    uvicorn_port = entrypoint_default("API_PORT")
    assert "API_PORT" not in config(resources)
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        get = container[probe]["httpGet"]
        assert get["path"] in get_routes, f"{probe}: {get['path']} is not a GET route"
        assert port_number(container, get["port"]) == uvicorn_port
    service = find(resources, "Service", "contab-api")
    (port,) = service["spec"]["ports"]
    assert port_number(container, port["targetPort"]) == uvicorn_port
    assert (
        service["spec"]["selector"].items() <= api["spec"]["template"]["metadata"]["labels"].items()
    )


def test_prefect_server_probes_and_the_api_url_every_pod_uses(overlay) -> None:  # type: ignore[no-untyped-def]
    _, resources = overlay
    server = find(resources, "Deployment", "contab-prefect-server")
    (container,) = pod_spec(server)["containers"]
    assert container["args"] == ["prefect-server"]
    port = entrypoint_default("PREFECT_SERVER_API_PORT")
    assert "http://127.0.0.1:${PREFECT_SERVER_API_PORT:-4200}/api/health" in ENTRYPOINT
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["path"] == "/api/health"
        assert port_number(container, container[probe]["httpGet"]["port"]) == port
    service = find(resources, "Service", "contab-prefect-server")
    assert config(resources)["PREFECT_API_URL"] == (
        f"http://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}/api"
    )
    assert port_number(container, service["spec"]["ports"][0]["targetPort"]) == port
    db_url = next(
        e for e in container["env"] if e["name"] == "PREFECT_SERVER_DATABASE_CONNECTION_URL"
    )
    assert "secretKeyRef" in db_url["valueFrom"]


def test_one_worker_deployment_and_autoscaler_per_pool(overlay) -> None:  # type: ignore[no-untyped-def]
    name, resources = overlay
    workers = [
        r for r in resources
        if r["kind"] == "Deployment" and r["metadata"]["labels"]["app.kubernetes.io/component"] == "worker"
    ]  # fmt: skip
    assert sorted(w["metadata"]["labels"]["contab.io/pool"] for w in workers) == sorted(POOLS)
    health_port = entrypoint_default("PREFECT_WORKER_WEBSERVER_PORT")
    assert "--with-healthcheck" in ENTRYPOINT and "/health" in ENTRYPOINT
    for worker in workers:
        pool = worker["metadata"]["labels"]["contab.io/pool"]
        assert "replicas" not in worker["spec"]  # the autoscaler owns it
        spec = pod_spec(worker)
        (container,) = spec["containers"]
        # a unique worker name per pod, from the downward API
        assert container["args"] == ["worker", pool, "--name", "$(POD_NAME)"]
        env = {e["name"]: e for e in container["env"]}
        assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
        assert int(env["PREFECT_WORKER_WEBSERVER_PORT"]["value"]) == health_port
        for probe in ("startupProbe", "livenessProbe"):
            get = container[probe]["httpGet"]
            assert get["path"] == "/health" and port_number(container, get["port"]) == health_port
        assert spec["terminationGracePeriodSeconds"] >= 300  # running flows drain on SIGTERM

        hpa = find(resources, "HorizontalPodAutoscaler", worker["metadata"]["name"])
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1", "kind": "Deployment", "name": worker["metadata"]["name"]
        }  # fmt: skip
        (metric,) = hpa["spec"]["metrics"]
        assert metric["external"]["metric"]["name"] == LAG_METRIC
        assert metric["external"]["metric"]["selector"]["matchLabels"] == {"pool": pool}
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        # the pool's ceiling is exact only when the pods' own slots add up to at most its limit
        slots = int(env["WORKER_LIMIT"]["value"])
        limit = POOL_LIMITS[pool]
        assert hpa["spec"]["maxReplicas"] * slots <= limit, (
            f"{name}/{pool}: {hpa['spec']['maxReplicas']} pods x {slots} slots > limit {limit}"
        )
        if name == "production":
            assert hpa["spec"]["minReplicas"] >= 2  # two workers per pool, on two nodes


def test_release_jobs_migrate_deploy_and_smoke_the_api_service(overlay) -> None:  # type: ignore[no-untyped-def]
    _, resources = overlay
    args = {
        r["metadata"]["name"]: pod_spec(r)["containers"][0]["args"]
        for r in resources
        if r["kind"] == "Job"
    }
    assert args["contab-migrate"] == ["migrate"]
    assert args["contab-deploy"] == ["deploy"]
    smoke = args["contab-smoke"]
    assert smoke[:2] == ["contab", "smoke"]
    url = smoke[smoke.index("--url") + 1]
    service = find(resources, "Service", "contab-api")
    assert url == f"http://{service['metadata']['name']}:{service['spec']['ports'][0]['port']}"
    for job in (r for r in resources if r["kind"] == "Job"):
        assert pod_spec(job)["restartPolicy"] == "Never"
        assert job["metadata"]["labels"]["contab.io/release-job"] == "true"


# ---------------------------------------------------------------- resources and secrets


def test_every_container_has_requests_and_limits(overlay) -> None:  # type: ignore[no-untyped-def]
    _, resources = overlay
    for where, c in containers(resources):
        for kind in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(c["resources"].get(kind, {})), f"{where}: {kind}"
        assert c["securityContext"]["allowPrivilegeEscalation"] is False, where


def test_secrets_come_from_secrets_never_literal_values(overlay) -> None:  # type: ignore[no-untyped-def]
    _, resources = overlay
    assert not [r for r in resources if r["kind"] == "Secret"], "Secrets are created out of band"
    secret_settings = {
        name for name, f in Settings.model_fields.items() if "SecretStr" in str(f.annotation)
    }
    data = config(resources)
    assert not secret_settings & set(data), "a secret setting in the ConfigMap"
    assert not [k for k in data if SECRET_NAME.search(k)]
    for where, c in containers(resources):
        for e in c.get("env", []):
            if SECRET_NAME.search(e["name"]):
                assert "secretKeyRef" in e.get("valueFrom", {}), f"{where}: {e['name']} literal"
        refs = [s for s in c.get("envFrom", []) if "secretRef" in s]
        if "prefect-server" not in where:
            assert [s["secretRef"]["name"] for s in refs] == ["contab-secrets"], where


def test_production_configuration_passes_contab_check(overlay) -> None:  # type: ignore[no-untyped-def]
    """ConfigMap + the Secret's keys (placeholders here) make a configuration `contab check`
    accepts; homolog is simply a valid, non-production configuration."""
    name, resources = overlay
    values: dict[str, Any] = dict(config(resources))
    for field, info in Settings.model_fields.items():
        if "SecretStr" in str(info.annotation):
            values[field] = "x" * 48
    settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
    assert settings.APP_ENV == name
    assert settings.redis_topology == "sentinel"
    assert settings.problems() == []
