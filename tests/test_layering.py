"""Layering: which package may import which, read from the source (AST, nothing is imported).

- ``app/fiscal`` holds pure rules: no database, orchestrator, web framework, cloud, cache or HTTP
  client, no ORM ``models``, and of ``app`` only ``app.fiscal`` and ``app.errors``.
- Prefect and FastAPI (with Starlette under it) stay in the glue: ``app/api``, the operator
  modules that drive Prefect (named ``app/prefect_*.py``) and ``app/smoke.py``; everything else
  under ``app`` is plain Python.
- Domain packages never import the API, ``flows`` or ``tasks``, and their imports of each other
  form no cycle (the arrows all point one way).
- Routes call services and never the ORM ``models`` directly; no module under ``app`` exceeds
  400 lines.

Each rule is a function of a source root, so the self-tests at the bottom run it on a small fake
tree with one forbidden import and show it fails.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

DOMAIN_PACKAGES = (
    "app.documents",
    "app.files",
    "app.empresas",
    "app.obligations",
    "app.document_requests",
    "app.guides",
    "app.notifications",
    "app.platform",
    "app.backup",
    "app.orders",
)
FISCAL_FORBIDDEN = (
    "sqlalchemy",
    "prefect",
    "fastapi",
    "starlette",
    "boto3",
    "botocore",
    "redis",
    "httpx",
    "models",
)
FISCAL_ALLOWED_APP = ("app.fiscal", "app.errors")
FRAMEWORKS = ("prefect", "fastapi", "starlette")
# The only places under app/ that may import FRAMEWORKS (path prefixes relative to the root).
FRAMEWORK_GLUE = ("app/api/", "app/prefect_", "app/smoke.py")
DOMAIN_FORBIDDEN = ("app.api", "flows", "tasks")
MAX_LINES = 400


@dataclass(frozen=True)
class Import:
    """One imported module, where it is imported from."""

    module: str  # the importing module, dotted
    path: str  # its file, relative to the root
    line: int
    target: str  # the imported module, dotted

    def __str__(self) -> str:
        return f"{self.path}:{self.line} {self.module} imports {self.target}"


def _module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(root: Path, dotted: str) -> bool:
    base = root.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def _sources(root: Path, folder: str) -> list[Path]:
    return sorted(p for p in (root / folder).rglob("*.py") if "__pycache__" not in p.parts)


def imports_of(root: Path, path: Path) -> Iterator[Import]:
    """Every import in ``path`` (module level or not), resolved to a module name."""
    module = _module_name(root, path)
    rel = path.relative_to(root).as_posix()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text("utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, rel, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = {f"{base}.{a.name}" for a in node.names}
            for target in sorted({t if _is_module(root, t) else base for t in targets}):
                yield Import(module, rel, node.lineno, target)


def _under(target: str, packages: tuple[str, ...]) -> bool:
    return any(target == p or target.startswith(p + ".") for p in packages)


def _imports(root: Path, folder: str) -> Iterator[Import]:
    for path in _sources(root, folder):
        yield from imports_of(root, path)


def fiscal_violations(root: Path) -> list[str]:
    """Imports that make ``app/fiscal`` impure."""
    out = []
    for imp in _imports(root, "app/fiscal"):
        is_app = imp.target == "app" or imp.target.startswith("app.")
        if _under(imp.target, FISCAL_FORBIDDEN) or (
            is_app and not _under(imp.target, FISCAL_ALLOWED_APP)
        ):
            out.append(str(imp))
    return out


def framework_violations(root: Path) -> list[str]:
    """Prefect/FastAPI/Starlette imported under ``app`` outside the glue modules."""
    return [
        str(imp)
        for imp in _imports(root, "app")
        if _under(imp.target, FRAMEWORKS) and not imp.path.startswith(FRAMEWORK_GLUE)
    ]


def domain_violations(root: Path) -> list[str]:
    """Domain packages importing the API, flows or tasks."""
    return [
        str(imp)
        for pkg in DOMAIN_PACKAGES
        for imp in _imports(root, pkg.replace(".", "/"))
        if _under(imp.target, DOMAIN_FORBIDDEN)
    ]


def domain_graph(root: Path) -> dict[str, dict[str, Import]]:
    """{package: {imported package: one witnessing import}} between domain packages."""
    graph: dict[str, dict[str, Import]] = {pkg: {} for pkg in DOMAIN_PACKAGES}
    for pkg in DOMAIN_PACKAGES:
        if not (root / pkg.replace(".", "/")).is_dir():
            continue
        for imp in _imports(root, pkg.replace(".", "/")):
            for other in DOMAIN_PACKAGES:
                if other != pkg and _under(imp.target, (other,)):
                    graph[pkg].setdefault(other, imp)
    return graph


def tangles(graph: dict[str, dict[str, Import]]) -> list[list[str]]:
    """Groups of packages that reach each other (strongly connected, two or more), sorted."""
    reach = {a: _reachable(graph, a) for a in graph}
    groups = {frozenset(b for b in reach[a] if a in reach[b]) | {a} for a in graph}
    return sorted(sorted(g) for g in groups if len(g) > 1)


def _reachable(graph: dict[str, dict[str, Import]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in graph.get(todo.pop(), {}):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def find_cycle(graph: dict[str, dict[str, Import]]) -> list[str]:
    """One cycle of ``graph`` as [a, b, …, a], or [] when it has none (depth-first search)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    path: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, {})):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = 2
        return []

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return []


def cycle_violations(root: Path) -> list[str]:
    """For each tangle of domain packages: its members, then one cycle in it arrow by arrow."""
    graph = domain_graph(root)
    out = []
    for group in tangles(graph):
        inside = {a: {b: i for b, i in graph[a].items() if b in group} for a in group}
        cycle = find_cycle(inside)
        out.append("tangle: " + ", ".join(group))
        out.extend(f"{a} → {b}: {graph[a][b]}" for a, b in zip(cycle, cycle[1:], strict=False))
    return out


def route_model_violations(root: Path) -> list[str]:
    """Route modules importing the ORM ``models``."""
    return [str(i) for i in _imports(root, "app/api/routes") if _under(i.target, ("models",))]


def length_violations(root: Path) -> list[str]:
    """Modules under ``app`` longer than MAX_LINES."""
    out = []
    for path in _sources(root, "app"):
        lines = len(path.read_text("utf-8").splitlines())
        if lines > MAX_LINES:
            out.append(f"{path.relative_to(root).as_posix()}: {lines} lines")
    return out


def _explain(violations: list[str]) -> str:
    return "\n".join(violations)


def test_fiscal_is_pure() -> None:
    assert fiscal_violations(ROOT) == [], _explain(fiscal_violations(ROOT))


def test_frameworks_stay_in_the_glue() -> None:
    assert framework_violations(ROOT) == [], _explain(framework_violations(ROOT))


def test_domain_packages_do_not_import_api_flows_or_tasks() -> None:
    assert domain_violations(ROOT) == [], _explain(domain_violations(ROOT))


def test_domain_packages_form_no_import_cycle() -> None:
    found = cycle_violations(ROOT)
    assert found == [], "cycle between domain packages:\n" + _explain(found)


def test_routes_do_not_import_models() -> None:
    assert route_model_violations(ROOT) == [], _explain(route_model_violations(ROOT))


def test_no_module_under_app_exceeds_400_lines() -> None:
    assert length_violations(ROOT) == [], _explain(length_violations(ROOT))


# --- self-tests: each rule fails on a fake tree with one forbidden import ----------------------


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.relative_to(root).parents:
            if parent != Path(".") and not (root / parent / "__init__.py").exists():
                (root / parent / "__init__.py").write_text("")
        path.write_text(text)
    return root


CLEAN = {
    "app/errors.py": "class AppError(Exception): ...\n",
    "app/fiscal/das.py": "from app.errors import AppError\nfrom app.fiscal import simples\n",
    "app/fiscal/simples.py": "from decimal import Decimal\nfrom .das import AppError\n",
    "app/guides/generation.py": "import sqlalchemy\nfrom app.fiscal.das import AppError\n"
    "from app.obligations import tarefas\nfrom models import Guide\n",
    "app/obligations/tarefas.py": "from app.fiscal import das\n",
    "app/api/routes/guides.py": "from fastapi import APIRouter\nfrom app.guides import generation\n",
    "app/prefect_ops.py": "from prefect.client.orchestration import get_client\n",
    "models/__init__.py": "Guide = object\n",
    "tasks/guides.py": "from prefect import task\nfrom app.guides import generation\n",
}

RULES: dict[str, Callable[[Path], list[str]]] = {
    "fiscal": fiscal_violations,
    "framework": framework_violations,
    "domain": domain_violations,
    "cycle": cycle_violations,
    "routes": route_model_violations,
    "length": length_violations,
}

FORBIDDEN = [
    ("fiscal", "app/fiscal/bad.py", "from sqlalchemy.orm import Session\n"),
    ("fiscal", "app/fiscal/bad.py", "def f():\n    import redis\n"),
    ("fiscal", "app/fiscal/bad.py", "import httpx\n"),
    ("fiscal", "app/fiscal/bad.py", "from models import Guide\n"),
    ("fiscal", "app/fiscal/bad.py", "from app.guides import generation\n"),
    ("fiscal", "app/fiscal/bad.py", "from app import guides\n"),
    ("fiscal", "app/fiscal/sub/bad.py", "from ...guides import generation\n"),
    ("framework", "app/guides/bad.py", "from prefect import flow\n"),
    ("framework", "app/bad.py", "import fastapi\n"),
    ("framework", "app/fiscal/bad.py", "from starlette.requests import Request\n"),
    ("domain", "app/guides/bad.py", "from app.api.routes import guides\n"),
    ("domain", "app/platform/bad.py", "from tasks.guides import generate_batch\n"),
    ("domain", "app/documents/bad.py", "import flows.documents\n"),
    ("cycle", "app/obligations/bad.py", "from app.guides import generation\n"),
    ("routes", "app/api/routes/bad.py", "from models import Guide\n"),
    ("length", "app/guides/bad.py", "x = 1\n" * (MAX_LINES + 1)),
]


def test_clean_fake_tree_passes_every_rule(tmp_path: Path) -> None:
    root = _tree(tmp_path, CLEAN)
    assert {name: rule(root) for name, rule in RULES.items()} == {name: [] for name in RULES}


@pytest.mark.parametrize(("rule", "rel", "text"), FORBIDDEN, ids=[f[0] for f in FORBIDDEN])
def test_rule_fails_on_a_forbidden_import(tmp_path: Path, rule: str, rel: str, text: str) -> None:
    root = _tree(tmp_path, {**CLEAN, rel: text})
    found = RULES[rule](root)
    assert found, f"rule {rule!r} missed {rel}"
    assert any("bad.py" in line for line in found), found


def test_cycle_is_printed_arrow_by_arrow(tmp_path: Path) -> None:
    root = _tree(tmp_path, {**CLEAN, "app/obligations/back.py": "import app.guides.generation\n"})
    assert cycle_violations(root) == [
        "tangle: app.guides, app.obligations",
        "app.guides → app.obligations: app/guides/generation.py:3 app.guides.generation "
        "imports app.obligations.tarefas",
        "app.obligations → app.guides: app/obligations/back.py:1 app.obligations.back "
        "imports app.guides.generation",
    ]
