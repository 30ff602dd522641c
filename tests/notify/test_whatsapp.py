"""The WhatsApp channel against a local server playing the Cloud API contract."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from app.errors import ChannelError
from app.notify.base import Link, Message, RateLimited
from app.notify.whatsapp import WhatsAppChannel, WhatsAppConfig
from tests.support.messages import GUIA_CONTEXT
from tests.support.whatsapp_fake import WhatsAppFake

CLIENT = "5511987654321"


def guia(to: str = "+55 (11) 98765-4321", links: tuple[Link, ...] = ()) -> Message:
    return Message(
        channel="whatsapp",
        to=to,
        template="guia_disponivel",
        idempotency_key="guia:7:DAS:2026-05:whatsapp",
        context=dict(GUIA_CONTEXT),
        links=links,
    )


@pytest.fixture
def config(wa_fake: WhatsAppFake) -> WhatsAppConfig:
    return WhatsAppConfig(
        api_key=wa_fake.token, phone_number_id=wa_fake.phone_number_id, base_url=wa_fake.base_url
    )


@pytest.fixture
def channel(config: WhatsAppConfig) -> Iterator[WhatsAppChannel]:
    with WhatsAppChannel(config) as channel:
        yield channel


def test_template_reaches_the_api_with_auth_and_contract_body(
    wa_fake: WhatsAppFake, channel: WhatsAppChannel
) -> None:
    result = channel.send(guia())

    [sent] = wa_fake.messages
    assert result.provider_id == sent.wamid and result.provider_id.startswith("wamid.")
    assert result.sandboxed is False
    assert sent.headers["authorization"] == f"Bearer {wa_fake.token}"
    assert sent.body["messaging_product"] == "whatsapp"
    assert sent.body["to"] == CLIENT
    assert sent.body["type"] == "template"
    assert sent.body["biz_opaque_callback_data"] == "guia:7:DAS:2026-05:whatsapp"
    template = sent.body["template"]
    assert template["name"] == "guia_disponivel"
    assert template["language"] == {"code": "pt_BR"}
    [body] = template["components"]
    assert [p["text"] for p in body["parameters"]] == [
        "Ana Souza",
        "DAS",
        "Padaria Pão Quente Ltda",
        "05/2026",
        "22/06/2026",
        "R$ 1.234,56",
    ]


def test_guide_pdf_goes_as_document_header_and_portal_link_as_url_button(
    wa_fake: WhatsAppFake, channel: WhatsAppChannel
) -> None:
    links = (
        Link("https://files.example.com.br/g/7.pdf?sig=abc", filename="DAS-2026-05.pdf"),
        Link("https://portal.example.com.br/guias/7?src=wa"),
    )
    channel.send(guia(links=links))

    header, _body, button = wa_fake.messages[0].body["template"]["components"]
    assert header == {
        "type": "header",
        "parameters": [
            {
                "type": "document",
                "document": {
                    "link": "https://files.example.com.br/g/7.pdf?sig=abc",
                    "filename": "DAS-2026-05.pdf",
                },
            }
        ],
    }
    assert button == {
        "type": "button",
        "sub_type": "url",
        "index": "0",
        "parameters": [{"type": "text", "text": "guias/7?src=wa"}],
    }


def test_multiline_values_are_flattened_to_valid_parameters(
    wa_fake: WhatsAppFake, channel: WhatsAppChannel
) -> None:
    message = Message(
        channel="whatsapp",
        to=CLIENT,
        template="lembrete_solicitacao",
        idempotency_key="sol:1",
        context={
            "nome": "Ana",
            "empresa": "Padaria\n  Pão     Quente",
            "competencia": "2026-05",
            "itens_faltantes": ["Extrato bancário", "Folha\tde pagamento"],
        },
    )
    channel.send(message)  # the fake rejects newlines/tabs/5+ spaces with error 100
    params = wa_fake.messages[0].body["template"]["components"][0]["parameters"]
    assert [p["text"] for p in params][1:] == [
        "Padaria Pão Quente",
        "05/2026",
        "Extrato bancário; Folha de pagamento",
    ]


def test_wrong_token_is_not_retried_forever_as_permanent(
    wa_fake: WhatsAppFake, config: WhatsAppConfig
) -> None:
    with WhatsAppChannel(replace(config, api_key="errado")) as channel:
        with pytest.raises(ChannelError) as info:
            channel.send(guia())
    # Code 190: the message is fine, the credentials are not -> transient (fix key, retry).
    assert info.value.details["http_status"] == 401
    assert info.value.details["api_code"] == 190
    assert info.value.permanent is False
    assert wa_fake.messages == []


def test_429_is_rate_limited_honouring_retry_after(
    wa_fake: WhatsAppFake, channel: WhatsAppChannel
) -> None:
    wa_fake.fail_next(2, status=429, retry_after=7)

    for _ in range(2):
        with pytest.raises(RateLimited) as info:
            channel.send(guia())
        assert info.value.code == "limite_de_taxa"
        assert info.value.permanent is False
        assert info.value.retry_after == 7

    channel.send(guia())
    assert len(wa_fake.messages) == 1


def test_5xx_is_transient(wa_fake: WhatsAppFake, channel: WhatsAppChannel) -> None:
    wa_fake.fail_next(1, status=503)
    with pytest.raises(ChannelError) as info:
        channel.send(guia())
    assert (info.value.permanent, info.value.code) == (False, "falha_temporaria")


def test_unreachable_api_is_transient(config: WhatsAppConfig, wa_fake: WhatsAppFake) -> None:
    wa_fake.stop()
    with WhatsAppChannel(config) as channel, pytest.raises(ChannelError) as info:
        channel.send(guia())
    assert (info.value.permanent, info.value.code) == (False, "falha_temporaria")


@pytest.mark.parametrize(
    ("api_code", "permanent", "code"),
    [
        (131026, True, "destinatario_invalido"),
        (131050, True, "opt_out"),
        (131047, True, "falha_permanente"),
        (131051, True, "falha_permanente"),
        (132000, True, "falha_permanente"),
        (132001, True, "falha_permanente"),
        (100, True, "falha_permanente"),
        (131000, False, "falha_temporaria"),
        (130429, False, "limite_de_taxa"),
        (131056, False, "limite_de_taxa"),
        (80007, False, "limite_de_taxa"),
    ],
)
def test_cloud_api_error_codes_map_to_stable_codes(
    wa_fake: WhatsAppFake, channel: WhatsAppChannel, api_code: int, permanent: bool, code: str
) -> None:
    wa_fake.fail_number(CLIENT, code=api_code)
    with pytest.raises(ChannelError) as info:
        channel.send(guia())
    assert (info.value.permanent, info.value.code) == (permanent, code)
    assert info.value.details["api_code"] == api_code


def test_server_side_throughput_limit_surfaces_as_rate_limited(
    wa_fake: WhatsAppFake, channel: WhatsAppChannel
) -> None:
    wa_fake.rate_limit(rate_per_s=0.001, burst=3)
    outcomes: list[str] = []
    for _ in range(5):
        try:
            channel.send(guia())
            outcomes.append("ok")
        except RateLimited as exc:
            outcomes.append(f"{exc.code}:{exc.details['api_code']}")
    assert outcomes == ["ok"] * 3 + ["limite_de_taxa:130429"] * 2


def test_invalid_phone_fails_permanently_without_calling_the_api(
    wa_fake: WhatsAppFake, channel: WhatsAppChannel
) -> None:
    with pytest.raises(ChannelError) as info:
        channel.send(guia(to="(00) 1234"))
    assert (info.value.permanent, info.value.code) == (True, "destinatario_invalido")
    assert wa_fake.requests == 0


def test_unknown_template_fails_permanently(
    wa_fake: WhatsAppFake, channel: WhatsAppChannel
) -> None:
    with pytest.raises(ChannelError) as info:
        channel.send(replace(guia(), template="nao_aprovado"))
    assert info.value.permanent
    assert wa_fake.requests == 0


def test_sandbox_sends_only_to_the_allow_list(
    wa_fake: WhatsAppFake, config: WhatsAppConfig
) -> None:
    sandbox = replace(config, sandbox=True, allow_list=frozenset({"(11) 98765-4321"}))
    with WhatsAppChannel(sandbox) as channel:
        allowed = channel.send(guia(to="+5511987654321"))
        skipped = channel.send(guia(to="21 99999-0000"))

    assert allowed.sandboxed is False
    assert skipped.sandboxed is True and skipped.provider_id.startswith("sandbox.")
    assert [m.body["to"] for m in wa_fake.messages] == [CLIENT]
    assert wa_fake.requests == 1
