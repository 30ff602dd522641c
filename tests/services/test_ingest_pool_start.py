"""The ingest pool's workers never re-run the parent's main module.

A flow-run process runs ``python -m prefect.engine``; multiprocessing would make every worker
import it again (seconds of CPU each, and any import-time side effect repeated).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

MAIN = """
import os, sys
from pathlib import Path
marks = Path(sys.argv[1])
(marks / f"imported-{os.getpid()}").touch()   # import-time side effect

from app.documents.classify_pool import classify_pool

if __name__ == "__main__":
    with classify_pool(2) as pool:
        pids = {pool.submit(os.getpid).result() for _ in range(20)}
    print(len(pids - {os.getpid()}))
"""


def test_workers_do_not_import_the_parent_main_module(tmp_path: Path) -> None:
    pkg = tmp_path / "fakeengine"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "engine.py").write_text(MAIN)
    marks = tmp_path / "marks"
    marks.mkdir()
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{tmp_path}"}
    out = subprocess.run(
        [sys.executable, "-m", "fakeengine.engine", str(marks)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    assert int(out.stdout.strip()) >= 1  # the work ran in worker processes
    imported = sorted(p.name for p in marks.iterdir())
    assert len(imported) == 1, imported  # only the parent itself ran the module
