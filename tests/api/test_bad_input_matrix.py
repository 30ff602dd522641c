"""Bad input matrix: every mutating route answers malformed input with a 4xx and a stable code.

For each POST/PATCH/PUT/DELETE route of the OpenAPI schema, an office token sends invalid ids,
broken JSON, wrong types, missing fields, huge strings and broken multipart bodies. The answer is
never a 5xx; an error is always ``{"erro": {"codigo", "mensagem"}}`` with a snake_case code; and
input that cannot be valid is always refused with a 4xx.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from app.notify.webhook import SIGNATURE_HEADER, sign_webhook
from app.settings import get_settings
from tests.api.conftest import auth
from tests.api.test_scope_matrix import CASES, World, build_world, in_process_client
from tests.support.api import error_body, error_code, error_details, error_message

CODE = re.compile(r"^[a-z][a-z0-9]*(_[a-z0-9]+)*$")
HUGE = "x" * 20_000
BAD_IDS = ("-1", "0", str(2**63), str(2**64), "abc", "1.5", "9" * 40)
MUTATING = {"POST", "PATCH", "PUT", "DELETE"}
WEBHOOK = "/api/whatsapp/webhook"


@pytest.fixture
def http() -> Iterator[Any]:
    """An HTTP client of the app that reports crashes as 500 answers."""
    with in_process_client() as client:
        yield client


@pytest.fixture
def world(seeded: dict[str, Any]) -> World:
    """Real rows of every kind for empresa A and empresa B."""
    return build_world(seeded)


@dataclass
class Probe:
    """One malformed request and whether it can possibly be valid."""

    label: str
    url: str
    kwargs: dict[str, Any]
    must_fail: bool


def _resolve(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in schema:
        return _resolve(spec, spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]])
    for alt in schema.get("anyOf", []):
        if alt.get("type") != "null":
            return _resolve(spec, alt)
    return schema


def _types(schema: dict[str, Any]) -> set[str]:
    alts = schema.get("anyOf", [schema])
    return {a.get("type", "any") for a in alts} - {"null"}


def _is_file(schema: dict[str, Any]) -> bool:
    alts = schema.get("anyOf", [schema])
    for a in alts:
        inner = a.get("items", a)
        if "contentMediaType" in inner or inner.get("format") == "binary":
            return True
    return False


def _wrong(schema: dict[str, Any]) -> Any:
    """A JSON value no reading of this property's schema accepts."""
    return [1, 2] if "object" in _types(schema) else {"x": 1}


def _probes(spec: dict[str, Any], method: str, path: str, objs: dict[str, Any]) -> Iterator[Probe]:
    op = spec["paths"][path][method.lower()]
    case = CASES[(method, path)]
    good_params = {p: (objs[k] if k in objs else k) for p, k in case.params.items()}
    url = path.format(**good_params)
    base: dict[str, Any] = {}
    if case.query:
        base["params"] = case.query(objs)
    if case.json:
        base["json"] = case.json(objs)
    if case.data:
        base["data"] = case.data(objs)
    if case.files:
        base["files"] = case.files(objs)

    for param in op.get("parameters", []):
        if param["in"] != "path":
            continue
        for bad in BAD_IDS if "integer" in _types(param["schema"]) else ("../x", "Ç" * 3000):
            bad_url = path.format(**(good_params | {param["name"]: bad}))
            yield Probe(f"{param['name']}={bad[:20]}", bad_url, base, True)

    body = op.get("requestBody")
    if body is None:
        for name, value in (base.get("params") or {}).items():
            yield Probe(f"?{name}=longo", url, base | {"params": {name: HUGE[:8000]}}, False)
        return
    required_body = bool(body.get("required"))
    media, content = next(iter(body["content"].items()))
    schema = _resolve(spec, content["schema"])
    props: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", []))
    if media == "application/json":
        valid = base.get("json", {})
        hdr = {"Content-Type": "application/json"}
        yield Probe("json quebrado", url, {"content": b'{"nope', "headers": hdr}, True)
        tops: tuple[Any, ...] = ([], "texto", 1, True)
        for top in tops:
            yield Probe(f"json {top!r}", url, {"json": top}, True)
        if not required_body:
            yield Probe("json null", url, {"json": None}, False)
        if required:
            yield Probe("json {}", url, {"json": {}}, True)
        for name, prop in props.items():
            yield Probe(f"{name} tipo errado", url, {"json": valid | {name: _wrong(prop)}}, True)
            if "string" in _types(prop):
                yield Probe(f"{name} enorme", url, {"json": valid | {name: HUGE}}, False)
            if name in required:
                rest = {k: v for k, v in valid.items() if k != name}
                yield Probe(f"{name} ausente", url, {"json": rest}, True)
    else:  # multipart/form-data
        mp = "multipart/form-data"
        file_fields = [n for n, p in props.items() if _is_file(p)]
        text_fields = [n for n in props if n not in file_fields]
        must = bool(required)
        yield Probe("multipart vazio", url, {"content": b"--b--\r\n",
                    "headers": {"Content-Type": f"{mp}; boundary=b"}}, must)  # fmt: skip
        yield Probe("multipart sem boundary", url,
                    {"content": b"garbage", "headers": {"Content-Type": mp}}, must)  # fmt: skip
        yield Probe("sem corpo", url, {}, must)
        yield Probe("json em rota multipart", url, {"json": {"x": 1}}, must)
        data = base.get("data", {})
        for name in file_fields:
            for label, upload in (
                ("vazio", ("vazio.pdf", b"", "application/pdf")),
                ("nome enorme", ("n" * 5000 + ".pdf", b"%PDF-1.4 x", "application/pdf")),
                ("nome com barras", ("../../etc/passwd", b"%PDF-1.4 x", "application/pdf")),
            ):
                yield Probe(
                    f"{name} {label}", url, {"data": data, "files": [(name, upload)]}, False
                )
            if name in required:
                yield Probe(f"{name} como texto", url, {"data": data | {name: "abc"}}, True)
        for name in text_fields:
            for value in ("abc", "NaN", "Infinity", "-1", "1e999", "ontem", HUGE):
                files = base.get("files")
                kwargs = {"data": data | {name: value}} | ({"files": files} if files else {})
                yield Probe(f"{name}={value[:10]}", url, kwargs, False)


def _check(r: Any, probe: Probe) -> str | None:
    """A description of what is wrong with the answer, or None."""
    if r.status_code >= 500:
        return f"{r.status_code} {r.text[:160]}"
    if probe.must_fail and not 400 <= r.status_code < 500:
        return f"accepted ({r.status_code}) input that cannot be valid"
    if r.status_code >= 400:
        try:
            err = error_body(r)
        except (ValueError, AssertionError):
            return f"{r.status_code} without the error envelope: {r.text[:160]}"
        if not isinstance(err.get("mensagem"), str) or not CODE.match(str(err.get("codigo"))):
            return f"bad error envelope {err}"
    return None


def test_mutating_routes_answer_bad_input_with_4xx_and_a_stable_code(
    http: Any,
    seeded: dict[str, Any],
    world: World,
) -> None:
    spec = http.get("/api/openapi.json").json()
    office = auth(seeded["office"])
    problems: list[str] = []
    routes = sorted(
        (m.upper(), p) for p, ops in spec["paths"].items() for m in ops if m.upper() in MUTATING
    )
    assert len(routes) >= 15  # the matrix really runs over the API
    for method, path in routes:
        if path == WEBHOOK:
            continue  # signature-authenticated: see the webhook tests below
        for probe in _probes(spec, method, path, world["a"]):
            kwargs = dict(probe.kwargs)
            kwargs["headers"] = office | kwargs.get("headers", {})
            r = http.request(method, probe.url, **kwargs)
            wrong = _check(r, probe)
            if wrong:
                problems.append(f"{method} {path} [{probe.label}]: {wrong}")
    assert not problems, f"{len(problems)} bad answers:\n" + "\n".join(problems)


def test_get_routes_with_absurd_ids_are_4xx_or_empty(
    http: Any,
    seeded: dict[str, Any],
    world: World,
) -> None:
    office = auth(seeded["office"])
    problems = []
    for path in (
        "/api/documentos",
        "/api/guias",
        "/api/tarefas",
        "/api/solicitacoes",
        "/api/pedidos",
    ):
        for bad in BAD_IDS:
            r = http.get(path, params={"empresa_id": bad}, headers=office)
            if r.status_code >= 500 or (r.status_code == 200 and _has_rows(r.json())):
                problems.append(f"GET {path}?empresa_id={bad[:20]}: {r.status_code} {r.text[:100]}")
            elif r.status_code >= 400 and not CODE.match(_code(r)):
                problems.append(f"GET {path}?empresa_id={bad[:20]}: envelope {r.text[:100]}")
    spec = http.get("/api/openapi.json").json()
    for path, ops in sorted(spec["paths"].items()):
        params = [p for p in ops.get("get", {}).get("parameters", []) if p["in"] == "path"]
        if not params or "integer" not in _types(params[0]["schema"]):
            continue
        for bad in BAD_IDS:
            names = {p["name"]: "0" for p in params} | {params[0]["name"]: bad}
            r = http.get(path.format(**names), headers=office)
            if not 400 <= r.status_code < 500 or not CODE.match(_code(r)):
                problems.append(f"GET {path} ({bad[:20]}): {r.status_code} {r.text[:100]}")
    assert not problems, "\n".join(problems)


def _has_rows(body: Any) -> bool:
    return bool(body["itens"])


@pytest.fixture
def webhook_secret(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A configured WhatsApp app secret and verify token."""
    monkeypatch.setenv("WHATSAPP_APP_SECRET", "segredo-webhook")
    monkeypatch.setenv("WHATSAPP_VERIFY_TOKEN", "verifica-123")
    get_settings.cache_clear()
    yield "segredo-webhook"
    get_settings.cache_clear()


def test_webhook_refuses_malformed_signatures_and_payloads(
    http: Any, clean_db: None, webhook_secret: str
) -> None:
    problems = []
    for header in ("", "sha256=", "sha1=abc", "sha256=" + "0" * 64, "sha256=é"):
        r = http.post(
            WEBHOOK, content=b'{"entry": []}', headers={SIGNATURE_HEADER: header.encode("latin-1")}
        )
        if r.status_code != 401 or not CODE.match(error_code(r)):
            problems.append(f"signature {header!r}: {r.status_code} {r.text[:100]}")
    bodies: list[bytes] = [
        b"not json", b"[]", b'"x"', b"null", b'{"entry": "x"}', b'{"entry": [1]}',
        b'{"entry": [{"changes": "x"}]}', b'{"entry": [{"changes": [{"value": []}]}]}',
        b'{"entry": [{"changes": [{"value": {"statuses": [{"id": 1, "status": {}}]}}]}]}',
        b'{"entry": [{"changes": [{"value": {"statuses": [{"id": "w", "status": "read",'
        b' "timestamp": "amanha", "errors": "x"}]}}]}]}',
    ]  # fmt: skip
    for raw in bodies:
        r = http.post(
            WEBHOOK, content=raw, headers={SIGNATURE_HEADER: sign_webhook(webhook_secret, raw)}
        )
        if r.status_code >= 500 or (r.status_code >= 400 and not CODE.match(_code(r))):
            problems.append(f"signed body {raw[:60]!r}: {r.status_code} {r.text[:100]}")
    for token in ("errado", "verificação", "x" * 5000):
        params = {"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": "42"}
        r = http.get(WEBHOOK, params=params)
        if r.status_code != 403:
            problems.append(f"verify_token {token[:12]!r}: {r.status_code} {r.text[:100]}")
    assert not problems, "\n".join(problems)


def _code(r: Any) -> str:
    try:
        return error_code(r)
    except (ValueError, KeyError, AssertionError):
        return ""


# ------------------------------------------------------------------------------ strict dates

# pydantic's lax mode reads 0 as 1970-01-01, numbers as Unix timestamps and "20260510" as a
# datetime of 1970: every date a request carries is ISO text or a 422 data_invalida.
LAX_DATES = (
    "0", "1", "-1", "1700000000", "1.5", "20260510", "2026-5-1", "10/05/2026", "2026-02-30",
    "2026-13-01", "0000-01-01", "2026-05-10x", "２０２６-０５-１０", "hoje", "", "x" * 300,
    "0001-01-01", "1899-12-31", "2101-01-01",  # outside 1900–2100: typos, or an overflow
)  # fmt: skip
LAX_DATE_ONLY = ("2026-05-10T00:00:00", "2026-05-10 00:00", "2026-05-10T10:00:00Z")
# Every date/date-time a request carries; the walk below must find exactly these.
DATE_INPUTS = {
    ("GET", "/api/tarefas", "vencimento_de"): "date",
    ("GET", "/api/tarefas", "vencimento_ate"): "date",
    ("POST", "/api/guias/{guide_id}/pagamento", "pago_em"): "date-time",
    ("POST", "/api/feriados", "dia"): "date",
    ("GET", "/api/pedidos", "vencimento_de"): "date",
    ("GET", "/api/pedidos", "vencimento_ate"): "date",
}


def _date_inputs(spec: dict[str, Any]) -> dict[tuple[str, str, str], tuple[str, str]]:
    """(method, path, name) → (where, format) of every date or date-time input of the API."""
    found: dict[tuple[str, str, str], tuple[str, str]] = {}
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            for param in op.get("parameters", []):
                fmt = {a.get("format") for a in param["schema"].get("anyOf", [param["schema"]])}
                for f in fmt & {"date", "date-time"}:
                    found[(method.upper(), path, param["name"])] = (param["in"], f)
            for media, content in op.get("requestBody", {}).get("content", {}).items():
                schema = _resolve(spec, content["schema"])
                for name, prop in schema.get("properties", {}).items():
                    fmt = {a.get("format") for a in prop.get("anyOf", [prop])}
                    for f in fmt & {"date", "date-time"}:
                        found[(method.upper(), path, name)] = (media, f)
    return found


def test_every_date_input_is_known() -> None:
    from app.api.main import create_app

    found = _date_inputs(create_app().openapi())
    assert {k: f for k, (_, f) in found.items()} == DATE_INPUTS, (
        "a new date input: add it to DATE_INPUTS (and type it IsoDate / IsoDateTime)"
    )


def test_date_inputs_accept_only_iso_dates(http: Any, seeded: dict[str, Any], world: World) -> None:
    spec = http.get("/api/openapi.json").json()
    office = auth(seeded["office"])
    problems: list[str] = []
    for (method, path, name), (where, fmt) in sorted(_date_inputs(spec).items()):
        case = CASES[(method, path)]
        url = path.format(**{p: world["a"][k] for p, k in case.params.items()})
        bad_values: tuple[Any, ...] = LAX_DATES + (LAX_DATE_ONLY if fmt == "date" else ())
        for bad in bad_values + ((0, 1700000000, 1.5, True) if where == "application/json" else ()):
            if bad == "" and where == "multipart/form-data":
                continue  # an empty optional form field is an absent one (FastAPI)
            if where == "query":
                r = http.request(method, url, params={name: bad}, headers=office)
            elif where == "multipart/form-data":
                data = (case.data(world["a"]) if case.data else {}) | {name: bad}
                r = http.request(method, url, data=data, headers=office)
            else:  # a JSON body field: lax strings and bare numbers alike
                body = (case.json(world["a"]) if case.json else {}) | {name: bad}
                r = http.request(method, url, json=body, headers=office)
            err = r.json().get("erro", {})
            if r.status_code != 422 or err.get("codigo") != "data_invalida":
                problems.append(
                    f"{method} {path} {name}={str(bad)[:20]!r}: {r.status_code} {r.text[:120]}"
                )
            elif name not in err.get("mensagem", ""):
                problems.append(f"{method} {path} {name}: message names no parameter: {err}")
    assert not problems, "\n".join(problems)


def test_date_query_answers(http: Any, seeded: dict[str, Any]) -> None:
    office = auth(seeded["office"])
    r = http.get("/api/tarefas", params={"vencimento_de": "0"}, headers=office)
    assert r.status_code == 422
    assert error_code(r) == "data_invalida"
    assert error_message(r) == "Data inválida em vencimento_de: use o formato AAAA-MM-DD."
    assert [e["campo"] for e in error_details(r)["erros"]] == ["query.vencimento_de"]
    both = http.get("/api/tarefas?vencimento_de=0&vencimento_ate=1700000000", headers=office)
    message = error_message(both)
    assert error_code(both) == "data_invalida"
    assert "vencimento_de" in message and "vencimento_ate" in message
    # another kind of error alongside: the generic code, every error listed
    mixed = http.get("/api/tarefas?vencimento_de=0&limite=abc", headers=office)
    assert mixed.status_code == 422 and error_code(mixed) == "requisicao_invalida"
    assert len(error_details(mixed)["erros"]) == 2
    for good in ("2026-06-22", "2024-02-29"):
        ok = http.get("/api/tarefas", params={"vencimento_de": good}, headers=office)
        assert ok.status_code == 200, ok.text


def test_payment_date_is_iso(http: Any, seeded: dict[str, Any], world: World) -> None:
    from datetime import UTC, datetime

    office = auth(seeded["office"])
    gid = world["a"]["guia"]
    # 1970-01-01, 2023-11-14, 1970-08-23 before; year 1 with an offset overflowed to a 500
    for bad in ("0", "1700000000", "20260510", "0001-01-01T00:00:00+00:01", "9999-12-31T23:59"):
        r = http.post(f"/api/guias/{gid}/pagamento", data={"pago_em": bad}, headers=office)
        assert r.status_code == 422 and error_code(r) == "data_invalida", r.text
        assert "pago_em" in error_message(r)
    r = http.post(
        f"/api/guias/{gid}/pagamento", data={"pago_em": "2026-05-10T14:30:00-03:00"}, headers=office
    )
    assert r.status_code == 200, r.text
    paid = datetime.fromisoformat(r.json()["pago_em"])
    assert paid == datetime(2026, 5, 10, 17, 30, tzinfo=UTC)


def test_body_dates_refuse_numbers() -> None:
    """The types every request date uses: a JSON integer or a lax string is never a date."""
    from datetime import UTC, date, datetime

    from pydantic import BaseModel, ValidationError

    from app.api.schemas import IsoDate, IsoDateTime

    class Body(BaseModel):
        dia: IsoDate | None = None
        quando: IsoDateTime | None = None

    assert Body.model_validate_json('{"dia": "2026-05-10"}').dia == date(2026, 5, 10)
    got = Body.model_validate_json('{"quando": "2026-05-10T10:00:00Z"}').quando
    assert got == datetime(2026, 5, 10, 10, tzinfo=UTC)
    assert Body.model_validate_json('{"quando": "2026-05-10"}').quando == datetime(2026, 5, 10)
    for raw in ('{"dia": 0}', '{"dia": 1700000000}', '{"dia": "0"}', '{"dia": 1.5}',
                '{"dia": "2026-05-10T00:00:00"}', '{"quando": 0}', '{"quando": "1700000000"}',
                '{"quando": true}', '{"dia": [2026, 5, 10]}'):  # fmt: skip
        with pytest.raises(ValidationError) as info:
            Body.model_validate_json(raw)
        assert {e["type"] for e in info.value.errors()} == {"data_invalida"}, raw
    assert Body(dia=date(2026, 5, 10)).dia == date(2026, 5, 10)  # Python callers pass dates


COMPETENCIA_QUERIES = (
    ("/api/tarefas", "competencia"),
    ("/api/solicitacoes", "competencia"),
    ("/api/guias", "competencia"),
    ("/api/documentos", "competencia"),
)


def test_competencia_inputs_are_validated(http: Any, seeded: dict[str, Any], world: World) -> None:
    office = auth(seeded["office"])
    problems: list[str] = []
    receitas = f"/api/empresas/{world['a']['empresa']}/receitas"
    queries = [(p, {n: "{}"}) for p, n in COMPETENCIA_QUERIES] + [
        (receitas, {"inicio": "{}", "fim": "2026-06"}),
        (receitas, {"inicio": "2026-01", "fim": "{}"}),
    ]
    for path, template in queries:
        for bad in ("0", "2026-13", "2026-5-1", "1700000000", "2026-05-10", "x" * 300):
            params = {k: v.format(bad) for k, v in template.items()}
            r = http.get(path, params=params, headers=office)
            if r.status_code != 422 or error_code(r) != "competencia_invalida":
                problems.append(f"GET {path} {params}: {r.status_code} {r.text[:120]}")
        ok = http.get(path, params={k: v.format("2026-05") for k, v in template.items()},
                      headers=office)  # fmt: skip
        if ok.status_code != 200:
            problems.append(f"GET {path} 2026-05: {ok.status_code} {ok.text[:120]}")
    bodies = (
        ("POST", receitas, {"anexo": "I", "origem": "ajuste", "valor": "1"}, "competencia"),
        ("POST", f"/api/empresas/{world['a']['empresa']}/folha", {"valor": "1"}, "competencia"),
        ("PATCH", f"/api/empresas/{world['a']['empresa']}", {"tem_empregados": True}, "vigencia"),
    )
    for method, path, body, name in bodies:
        for bad, code in ((202605, "requisicao_invalida"), (0, "requisicao_invalida"),
                          ("0", "competencia_invalida"), ("2026-13", "competencia_invalida")):  # fmt: skip
            r = http.request(method, path, json=body | {name: bad}, headers=office)
            if r.status_code != 422 or error_code(r) != code:
                problems.append(f"{method} {path} {name}={bad!r}: {r.status_code} {r.text[:120]}")
    assert not problems, "\n".join(problems)
