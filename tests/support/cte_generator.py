"""Synthetic CT-e 4.00 documents and CT-e events (procEventoCTe) for tests.

Valid against the CT-e 4.00 XSDs shipped by nfelib (MOC CT-e 4.00: cteProc = CTe + protCTe;
procEventoCTe = eventoCTe + retEventoCTe, Id "ID" + tpEvento + chave + nSeqEvento(3)). Like
:mod:`tests.support.generator`, the Signature elements are placeholders, not real signatures.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from lxml import etree

from app.fiscal.chave import build_chave, parse_chave
from tests.support.generator import UF_CODES, _b64, _digits, _signature, element, fill

__all__ = ["CTE_NS", "embed_cte_event", "make_cte", "make_cte_event"]

CTE_NS = "http://www.portalfiscal.inf.br/cte"
_NSMAP: Any = {None: CTE_NS}


def _el(parent: etree._Element, tag: str, text: object = None, **attrs: str) -> etree._Element:
    return element(CTE_NS, parent, tag, text, **attrs)


def _fill(parent: etree._Element, *pairs: tuple[str, object]) -> None:
    fill(CTE_NS, parent, *pairs)


def _party(parent: etree._Element, tag: str, cnpj: str, ender: str, uf: str) -> None:
    el = _el(parent, tag)
    _fill(el, ("CNPJ", cnpj), ("IE", "ISENTO"), ("xNome", f"PARTE SINTETICA {cnpj}"))
    end = _el(el, ender)
    _fill(
        end,
        ("xLgr", "Rua dos Conhecimentos"),
        ("nro", "10"),
        ("xBairro", "Centro"),
        ("cMun", UF_CODES[uf][1]),
        ("xMun", "Capital"),
        ("CEP", "01001000"),
        ("UF", uf),
    )


def make_cte(
    emit_cnpj: str,
    rem_cnpj: str,
    dest_cnpj: str,
    competencia: str = "2026-05",
    numero: int = 1,
    *,
    uf: str = "SP",
    value: Decimal = Decimal("500.00"),
    cstat: int = 100,
) -> bytes:
    """A cteProc (CT-e 4.00 rodoviário normal, tomador = remetente) as UTF-8 bytes."""
    cuf, cmun = UF_CODES[uf]
    cct = _digits(f"cte{emit_cnpj}{numero}", 8)
    chave = build_chave(
        cuf=cuf,
        aamm=competencia[2:4] + competencia[5:7],
        cnpj=emit_cnpj,
        modelo=57,
        serie=1,
        numero=numero,
        cnf=cct,
    )
    cte = etree.Element(f"{{{CTE_NS}}}CTe", nsmap=_NSMAP)
    inf = _el(cte, "infCte", versao="4.00", Id=f"CTe{chave}")
    ide = _el(inf, "ide")
    _fill(
        ide,
        ("cUF", cuf),
        ("cCT", cct),
        ("CFOP", "5353"),
        ("natOp", "PRESTACAO DE SERVICO DE TRANSPORTE"),
        ("mod", "57"),
        ("serie", "1"),
        ("nCT", numero),
        ("dhEmi", f"{competencia}-12T10:00:00-03:00"),
        ("tpImp", "1"),
        ("tpEmis", "1"),
        ("cDV", chave[-1]),
        ("tpAmb", "1"),
        ("tpCTe", "0"),
        ("procEmi", "0"),
        ("verProc", "contab-generator 1.0"),
        ("cMunEnv", cmun),
        ("xMunEnv", "CAPITAL"),
        ("UFEnv", uf),
        ("modal", "01"),
        ("tpServ", "0"),
        ("cMunIni", cmun),
        ("xMunIni", "CAPITAL"),
        ("UFIni", uf),
        ("cMunFim", cmun),
        ("xMunFim", "CAPITAL"),
        ("UFFim", uf),
        ("retira", "1"),
        ("indIEToma", "9"),
    )
    _el(_el(ide, "toma3"), "toma", "0")
    emit = _el(inf, "emit")
    _fill(emit, ("CNPJ", emit_cnpj), ("IE", "123456789"), ("xNome", f"TRANSPORTADORA {emit_cnpj}"))
    end = _el(emit, "enderEmit")
    _fill(
        end,
        ("xLgr", "Rua da Transportadora"),
        ("nro", "1"),
        ("xBairro", "Centro"),
        ("cMun", cmun),
        ("xMun", "CAPITAL"),
        ("CEP", "01001000"),
        ("UF", uf),
    )
    _el(emit, "CRT", "3")
    _party(inf, "rem", rem_cnpj, "enderReme", uf)
    _party(inf, "dest", dest_cnpj, "enderDest", uf)
    money = f"{value:.2f}"
    prest = _el(inf, "vPrest")
    _fill(prest, ("vTPrest", money), ("vRec", money))
    icms = _el(_el(_el(inf, "imp"), "ICMS"), "ICMS00")
    tax = f"{(value * Decimal('0.12')).quantize(Decimal('0.01'))}"
    _fill(icms, ("CST", "00"), ("vBC", money), ("pICMS", "12.00"), ("vICMS", tax))
    norm = _el(inf, "infCTeNorm")
    carga = _el(norm, "infCarga")
    _fill(carga, ("vCarga", "3000.00"), ("proPred", "MERCADORIAS DIVERSAS"))
    _fill(_el(carga, "infQ"), ("cUnid", "01"), ("tpMed", "PESO BRUTO"), ("qCarga", "100.0000"))
    _el(_el(_el(norm, "infDoc"), "infNFe"), "chave", _nfe_chave(rem_cnpj, competencia, cuf))
    _el(_el(norm, "infModal", versaoModal="4.00"), "rodo").append(_rntrc())
    supl = _el(cte, "infCTeSupl")
    _el(supl, "qrCodCTe", f"https://nfe.fazenda.sp.gov.br/CTeConsulta/qrCode?chCTe={chave}&tpAmb=1")
    _signature(cte, f"CTe{chave}")
    root = etree.Element(f"{{{CTE_NS}}}cteProc", nsmap=_NSMAP, versao="4.00")
    root.append(cte)
    prot = _el(_el(root, "protCTe", versao="4.00"), "infProt")
    _fill(
        prot,
        ("tpAmb", "1"),
        ("verAplic", "SP-CTe-2024"),
        ("chCTe", chave),
        ("dhRecbto", f"{competencia}-12T10:00:05-03:00"),
        ("nProt", f"1{cuf}{_digits('prot' + chave, 12)}"),
        ("digVal", _b64("digest" + chave)),
        ("cStat", cstat),
        ("xMotivo", "Autorizado o uso do CT-e"),
    )
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _rntrc() -> etree._Element:
    el = etree.Element(f"{{{CTE_NS}}}RNTRC")
    el.text = "12345678"
    return el


def _nfe_chave(cnpj: str, competencia: str, cuf: str) -> str:
    return build_chave(
        cuf=cuf,
        aamm=competencia[2:4] + competencia[5:7],
        cnpj=cnpj,
        modelo=55,
        serie=1,
        numero=1,
        cnf=_digits("nfe" + cnpj, 8),
    )


# tpEvento → (detEvento child, descEvento, extra fields) (MOC CT-e 4.00, "Eventos do CT-e").
_EVENTS: dict[str, tuple[str, str]] = {
    "110111": ("evCancCTe", "Cancelamento"),
    "110110": ("evCCeCTe", "Carta de Correcao"),
    "610110": ("evPrestDesacordo", "Prestacao do Servico em Desacordo"),
}


def make_cte_event(
    chave: str,
    tp_evento: str = "110111",
    *,
    seq: int = 1,
    cstat: int = 135,
    author: str | None = None,
) -> bytes:
    """procEventoCTe of ``tp_evento`` (cancellation, CC-e or desacordo) registered with cstat."""
    key = parse_chave(chave)
    ev_id = f"ID{tp_evento}{key.chave}{seq:03d}"
    dh = f"{key.competencia}-20T09:00:00-03:00"
    root = etree.Element(f"{{{CTE_NS}}}procEventoCTe", nsmap=_NSMAP, versao="4.00")
    evento = _el(root, "eventoCTe", versao="4.00")
    inf = _el(evento, "infEvento", Id=ev_id)
    _fill(
        inf,
        ("cOrgao", key.cuf),
        ("tpAmb", "1"),
        ("CNPJ", author or key.cnpj),
        ("chCTe", key.chave),
        ("dhEvento", dh),
        ("tpEvento", tp_evento),
        ("nSeqEvento", seq),
    )
    tag, desc = _EVENTS[tp_evento]
    det = _el(_el(inf, "detEvento", versaoEvento="4.00"), tag)
    _el(det, "descEvento", desc)
    if tp_evento == "110111":
        _fill(
            det,
            ("nProt", f"1{key.cuf}{_digits('prot' + key.chave, 12)}"),
            ("xJust", "Erro na emissao do conhecimento"),
        )
    elif tp_evento == "110110":
        corr = _el(det, "infCorrecao")
        _fill(
            corr,
            ("grupoAlterado", "compl"),
            ("campoAlterado", "xObs"),
            ("valorAlterado", "Entrega no periodo da manha"),
        )
        _el(
            det,
            "xCondUso",
            "A Carta de Correcao e disciplinada pelo Art. 58-B do CONVENIO/SINIEF 06/89",
        )
    else:
        _fill(
            det,
            ("indDesacordoOper", "1"),
            ("xObs", "Servico prestado em desacordo com o contratado"),
        )
    _signature(evento, ev_id)
    ret = _el(_el(root, "retEventoCTe", versao="4.00"), "infEvento")
    _fill(
        ret,
        ("tpAmb", "1"),
        ("verAplic", "SP-CTe-2024"),
        ("cOrgao", key.cuf),
        ("cStat", cstat),
        ("xMotivo", "Evento registrado e vinculado a CT-e"),
        ("chCTe", key.chave),
        ("tpEvento", tp_evento),
        ("xEvento", desc),
        ("nSeqEvento", seq),
        ("dhRegEvento", dh[:17] + "30" + dh[19:]),
        ("nProt", f"1{key.cuf}{_digits('ev' + ev_id, 12)}"),
    )
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def embed_cte_event(cte_proc: bytes, event: bytes, *, whole: bool = False) -> bytes:
    """Append an event's retEventoCTe (or the whole procEventoCTe) inside cteProc."""
    proc = etree.fromstring(cte_proc)
    ev = etree.fromstring(event)
    part = ev if whole else ev.find(f"{{{CTE_NS}}}retEventoCTe")
    if part is None:
        raise ValueError("evento sem retEventoCTe")
    proc.append(part)
    return etree.tostring(proc, xml_declaration=True, encoding="UTF-8")
