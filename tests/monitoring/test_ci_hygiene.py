"""CI hygiene from the guide (§4.1, §12): CODEOWNERS gives every area that needs a reviewed PR an
owner beyond the default, names only existing paths, and `make test` carries the coverage gate."""

from __future__ import annotations

import re
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CODEOWNERS = ROOT / ".github" / "CODEOWNERS"
OWNER = re.compile(r"^@[A-Za-z0-9-]+(/[A-Za-z0-9_.-]+)?$")

# guide §4.1 "Pull Requests exigidos para" → files of this repository in that area
REVIEWED = {
    "migrations de banco": ["migrations/env.py", "alembic.ini", "app/migrate.py"],
    "alterações em jobs": [
        "flows/guides.py",
        "tasks/defaults.py",
        "prefect.yaml",
        "deployments/automations.yaml",
        "deployments/pools.yaml",
    ],
    "integrações externas": ["app/notify/email.py", "app/notify/whatsapp.py", "app/storage/s3.py"],
    "modelos de documento ou obrigação": [
        "models/obligations.py",
        "models/documents.py",
        "models/document_requests.py",
        "app/fiscal/data/obligations.toml",
        "app/fiscal/data/request_templates.toml",
        "app/obligations/catalogue.py",
        "app/notify/templates/lembrete_solicitacao.txt.j2",
    ],
}


def _rules() -> list[tuple[str, list[str]]]:
    rules = []
    for line in CODEOWNERS.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        pattern, *owners = line.split()
        rules.append((pattern, owners))
    return rules


def _matches(pattern: str, path: str) -> bool:
    """The subset of CODEOWNERS patterns this file uses: ``*``, ``/dir/`` and ``/file``."""
    if pattern == "*":
        return True
    assert pattern.startswith("/"), f"padrão sem âncora: {pattern}"
    anchored = pattern[1:]
    if anchored.endswith("/"):
        return path.startswith(anchored)
    return fnmatch(path, anchored)


def _owners(path: str) -> list[str]:
    found: list[str] = []
    for pattern, owners in _rules():  # the last matching pattern wins
        if _matches(pattern, path):
            found = owners
    return found


def test_codeowners_is_well_formed_and_names_existing_paths() -> None:
    rules = _rules()
    assert rules[0][0] == "*", "a regra padrão vem primeiro (a última que casa vence)"
    for pattern, owners in rules:
        assert owners, f"{pattern} sem dono"
        assert all(OWNER.match(o) for o in owners), (pattern, owners)
        if pattern != "*":
            assert (ROOT / pattern.lstrip("/")).exists(), f"{pattern} não existe no repositório"


def test_every_area_of_the_guide_needs_a_review_beyond_the_default() -> None:
    default = set(_rules()[0][1])
    for area, paths in REVIEWED.items():
        for path in paths:
            assert (ROOT / path).exists(), path
            owners = set(_owners(path))
            assert owners - default, f"{area}: {path} só tem o dono padrão"


def test_make_test_carries_the_coverage_gate() -> None:
    makefile = (ROOT / "Makefile").read_text()
    target = makefile.split("\ntest:", 1)[1].split("\n\n", 1)[0]
    assert "--cov " in target and "--cov-fail-under=$(COVERAGE_MIN)" in target
    gate = re.search(r"^COVERAGE_MIN \?= (\d+)$", makefile, re.M)
    assert gate and 0 < int(gate.group(1)) <= 100
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert "[tool.coverage.run]" in pyproject
    docs = (ROOT / "docs" / "monitoring.md").read_text()
    assert f"COVERAGE_MIN` is {gate.group(1)}" in docs, "docs/monitoring.md explica o valor do gate"
    assert "Require review from Code Owners" in docs
