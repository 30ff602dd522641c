"""Prefect automations as code: deployments/automations.yaml applied idempotently.

`apply_automations()` is called by `deploy()` (so by `contab deploy` and `make dev`): each
automation of the file is created, or updated in place when it changed, matched by name; ours
carry the tag ``contab`` and those no longer in the file are deleted; duplicates of one name left
by an interrupted apply are removed. An automation an operator disabled stays disabled.
The file is a template: ``${NAME:-default}`` is replaced from the environment before parsing,
and ``deployment: <flow>/<deployment>`` in an action becomes that deployment's id.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "AUTOMATIONS_FILE",
    "AutomationsReport",
    "OWN_TAG",
    "apply_automations",
    "load_automations",
    "read_own_automations",
]

AUTOMATIONS_FILE = Path(__file__).resolve().parent.parent / "deployments" / "automations.yaml"
OWN_TAG = "contab"
_VAR = re.compile(r"\$\{([A-Z][A-Z0-9_]*)(?::-([^}]*))?\}")


def expand(text: str, env: Mapping[str, str]) -> str:
    """Replace ``${NAME:-default}`` / ``${NAME}`` from ``env`` (an unset NAME without default
    is an error: an automation must never be applied half-configured)."""

    def repl(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        value = env.get(name) or default
        if value is None:
            raise ValueError(f"automations.yaml: variável {name} não definida e sem padrão")
        return value

    return _VAR.sub(repl, text)


def load_automations(
    path: Path = AUTOMATIONS_FILE, env: Mapping[str, str] | None = None
) -> list[dict[str, Any]]:
    """The automations of the file, variables expanded (deployment names not yet resolved)."""
    data = yaml.safe_load(expand(path.read_text(), os.environ if env is None else env))
    autos: list[dict[str, Any]] = data.get("automations") or []
    names = [a["name"] for a in autos]
    if len(names) != len(set(names)):
        raise ValueError("automations.yaml: nomes de automação repetidos")
    return autos


def _resolved_core(auto: dict[str, Any], deployment_ids: Mapping[str, Any]) -> Any:
    """An AutomationCore (validated by Prefect's own schema) with deployment names resolved."""
    from prefect.events.schemas.automations import AutomationCore

    body = {**auto, "tags": sorted({*auto.get("tags", []), OWN_TAG})}
    actions = []
    for action in body.get("actions", []):
        action = dict(action)
        name = action.pop("deployment", None)
        if name is not None:
            if name not in deployment_ids:
                raise ValueError(f"automação {auto['name']}: implantação {name} não existe")
            action["deployment_id"] = str(deployment_ids[name])
        actions.append(action)
    body["actions"] = actions
    return AutomationCore.model_validate(body)


def _comparable(core: Any) -> dict[str, Any]:
    from prefect.events.schemas.automations import AutomationCore

    dumped: dict[str, Any] = AutomationCore.model_validate(core.model_dump(mode="json")).model_dump(
        mode="json", exclude={"enabled"}
    )
    dumped["tags"] = sorted(dumped.get("tags") or [])
    trigger = dumped.get("trigger") or {}
    for key in ("match", "match_related"):  # the server may answer "x" as ["x"]
        spec = trigger.get(key)
        if isinstance(spec, dict):
            trigger[key] = {k: sorted([v] if isinstance(v, str) else v) for k, v in spec.items()}
    for key in ("after", "expect", "for_each"):
        if isinstance(trigger.get(key), list):
            trigger[key] = sorted(trigger[key])
    return dumped


@dataclass
class AutomationsReport:
    """What an apply changed (names)."""

    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


async def _deployment_ids(client: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    flows = {f.id: f.name for f in await client.read_flows()}
    for dep in await client.read_deployments():
        out[f"{flows.get(dep.flow_id, '?')}/{dep.name}"] = dep.id
    return out


async def read_own_automations(client: Any) -> list[Any]:
    """Every automation on the server that this project manages (tag ``contab``)."""
    return [a for a in await client.read_automations() if OWN_TAG in (a.tags or [])]


async def _apply(autos: list[dict[str, Any]]) -> AutomationsReport:
    from prefect.client.orchestration import get_client

    report = AutomationsReport()
    async with get_client() as client:
        ids = await _deployment_ids(client)
        declared = {a["name"]: _resolved_core(a, ids) for a in autos}
        by_name: dict[str, list[Any]] = {}
        for existing in await read_own_automations(client):
            by_name.setdefault(existing.name, []).append(existing)
        for name, core in declared.items():
            current, *extra = by_name.pop(name, []) or [None]
            for dup in extra:  # left by an interrupted apply: one automation per name
                await client.delete_automation(dup.id)
            if current is None:
                await client.create_automation(core)
                report.created.append(name)
                continue
            core.enabled = current.enabled  # an operator's pause survives a deploy
            if _comparable(core) == _comparable(current):
                report.unchanged.append(name)
            else:
                await client.update_automation(current.id, core)
                report.updated.append(name)
        for name, stale in by_name.items():  # removed from the file: must not keep acting
            for auto in stale:
                await client.delete_automation(auto.id)
            report.removed.append(name)
    return report


def apply_automations(
    path: Path = AUTOMATIONS_FILE, env: Mapping[str, str] | None = None
) -> AutomationsReport:
    """Create/update/delete the server's automations so they match the file (after deploy:
    actions may name deployments)."""
    return asyncio.run(_apply(load_automations(path, env)))
