"""Print parse/extract/validate figures for generated NF-e documents (no assertions).

Run: ``.venv/bin/python bench/parse_baseline.py``. "baseline" is lxml alone: one hardened parse,
or one ``XMLSchema.validate`` with a pre-compiled schema; "ours" is the full public call.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the synthetic documents come from tests/support

from app.fiscal.nfe import parse_bytes, validate  # noqa: E402
from app.fiscal.nfe.schemas import get_schema  # noqa: E402
from app.fiscal.xmlsec import make_parser  # noqa: E402
from tests.support.generator import make_nfe  # noqa: E402


def _per_call_ms(fn: Callable[[], object], n: int) -> float:
    fn()
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t0) / n)
    return best * 1e3


def main() -> None:
    """Print one line per document size."""
    parser = make_parser()
    schema = get_schema("nfe/schemas/v4_0/procNFe_v4.00.xsd")
    for items in (8, 120):
        data = make_nfe("11222333000181", "99888777000136", items=items, value=Decimal("5000"))
        n = 2000 if items < 50 else 200
        tree, doc = parse_bytes(data)
        parse = _per_call_ms(lambda d=data: etree.fromstring(d, parser), n)
        ours_parse = _per_call_ms(lambda d=data: parse_bytes(d), n)
        xsd = _per_call_ms(lambda t=tree: schema.validate(t), n)
        ours_validate = _per_call_ms(lambda d=doc, t=tree: validate(d, t), n)
        print(
            f"{len(data) / 1024:6.1f} KiB  parse {parse:.3f} ms  parse+extract {ours_parse:.3f} ms"
            f"  | xsd {xsd:.3f} ms  validate {ours_validate:.3f} ms"
            f"  (validate speed = {xsd / ours_validate:.0%} of bare XSD)"
        )


if __name__ == "__main__":
    main()
