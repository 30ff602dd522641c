"""Synthetic NF-e / NFC-e documents and NF-e events for tests, demos and benchmarks.

Output is valid against the official 4.00 XSDs shipped by nfelib (PL_010f) and internally
consistent: the chave (with a correct DV) matches Id, protocol, emitter, AAMM, modelo, série and
número; totals are the sum of the items (ICMS 18 %, PIS 1.65 %, COFINS 7.6 %, rounded half-up
per item). Everything is deterministic given the inputs (cNF, nProt and digests derive from a
hash of them). The ``Signature`` elements are structurally valid but are NOT real signatures:
digests and the signature value are placeholders and there is no real certificate.
"""

from __future__ import annotations

import base64
import hashlib
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from lxml import etree

from app.fiscal.chave import build_chave, parse_chave

__all__ = ["UF_CODES", "embed_cancellation", "make_cancel_event", "make_cce_event", "make_nfe"]

NFE_NS = "http://www.portalfiscal.inf.br/nfe"
DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"
CENT = Decimal("0.01")
_NFE_NSMAP: Any = {None: NFE_NS}  # default namespace (lxml-stubs types keys as str only)
_DSIG_NSMAP: Any = {None: DSIG_NS}

# IBGE codes: UF → (cUF, capital's município code). Source: IBGE "Códigos dos municípios".
UF_CODES: dict[str, tuple[str, str]] = {
    "RO": ("11", "1100205"), "AC": ("12", "1200401"), "AM": ("13", "1302603"),
    "RR": ("14", "1400100"), "PA": ("15", "1501402"), "AP": ("16", "1600303"),
    "TO": ("17", "1721000"), "MA": ("21", "2111300"), "PI": ("22", "2211001"),
    "CE": ("23", "2304400"), "RN": ("24", "2408102"), "PB": ("25", "2507507"),
    "PE": ("26", "2611606"), "AL": ("27", "2704302"), "SE": ("28", "2800308"),
    "BA": ("29", "2927408"), "MG": ("31", "3106200"), "ES": ("32", "3205309"),
    "RJ": ("33", "3304557"), "SP": ("35", "3550308"), "PR": ("41", "4106902"),
    "SC": ("42", "4205407"), "RS": ("43", "4314902"), "MS": ("50", "5002704"),
    "MT": ("51", "5103403"), "GO": ("52", "5208707"), "DF": ("53", "5300108"),
}  # fmt: skip
# CFOP first digit → tpNF (Ajuste SINIEF 07/2001 CFOP table: 1-3 entradas, 5-7 saídas).
TP_NF_BY_CFOP = {"1": "0", "2": "0", "3": "0", "5": "1", "6": "1", "7": "1"}
# MOC cStat texts used in the generated protocol.
XMOTIVO = {
    "100": "Autorizado o uso da NF-e",
    "150": "Autorizado o uso da NF-e, autorizacao fora de prazo",
    "110": "Uso Denegado",
    "301": "Uso Denegado: Irregularidade fiscal do emitente",
    "302": "Uso Denegado: Irregularidade fiscal do destinatario",
    "135": "Evento registrado e vinculado a NF-e",
}
TAX_RATES = {"icms": Decimal("18.00"), "pis": Decimal("1.65"), "cofins": Decimal("7.60")}
CCE_CONDITIONS = (
    "A Carta de Correcao e disciplinada pelo paragrafo 1o-A do art. 7o do Convenio S/N, de 15 de"
    " dezembro de 1970 e pode ser utilizada para regularizacao de erro ocorrido na emissao de"
    " documento fiscal, desde que o erro nao esteja relacionado com: I - as variaveis que"
    " determinam o valor do imposto tais como: base de calculo, aliquota, diferenca de preco,"
    " quantidade, valor da operacao ou da prestacao; II - a correcao de dados cadastrais que"
    " implique mudanca do remetente ou do destinatario; III - a data de emissao ou de saida."
)


def _digits(seed: str, n: int) -> str:
    return str(int(hashlib.sha256(seed.encode()).hexdigest(), 16))[-n:].zfill(n)


def _b64(seed: str, size: int = 20) -> str:
    digest = hashlib.sha256(seed.encode()).digest()
    return base64.b64encode((digest * (size // len(digest) + 1))[:size]).decode()


def _money(value: Decimal) -> str:
    return str(value.quantize(CENT, ROUND_HALF_UP))


def element(
    ns: str, parent: etree._Element, tag: str, text: object = None, **attrs: str
) -> etree._Element:
    """A child ``tag`` of ``parent`` in namespace ``ns``, with its text and attributes."""
    el = etree.SubElement(parent, f"{{{ns}}}{tag}", attrs)
    if text is not None:
        el.text = str(text)
    return el


def fill(ns: str, parent: etree._Element, *pairs: tuple[str, object]) -> None:
    """One child per (tag, text) pair, in order."""
    for tag, text in pairs:
        element(ns, parent, tag, text)


def _el(parent: etree._Element, tag: str, text: object = None, **attrs: str) -> etree._Element:
    return element(NFE_NS, parent, tag, text, **attrs)


def _fill(parent: etree._Element, *pairs: tuple[str, object]) -> None:
    fill(NFE_NS, parent, *pairs)


def _signature(parent: etree._Element, ref_id: str) -> None:
    """Append a schema-valid placeholder ds:Signature (not a real signature)."""
    d = f"{{{DSIG_NS}}}"
    sig = etree.SubElement(parent, d + "Signature", nsmap=_DSIG_NSMAP)
    info = etree.SubElement(sig, d + "SignedInfo")
    c14n = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
    etree.SubElement(info, d + "CanonicalizationMethod", Algorithm=c14n)
    etree.SubElement(info, d + "SignatureMethod", Algorithm=DSIG_NS + "rsa-sha1")
    ref = etree.SubElement(info, d + "Reference", URI=f"#{ref_id}")
    transforms = etree.SubElement(ref, d + "Transforms")
    etree.SubElement(transforms, d + "Transform", Algorithm=DSIG_NS + "enveloped-signature")
    etree.SubElement(transforms, d + "Transform", Algorithm=c14n)
    etree.SubElement(ref, d + "DigestMethod", Algorithm=DSIG_NS + "sha1")
    etree.SubElement(ref, d + "DigestValue").text = _b64("digest" + ref_id)
    etree.SubElement(sig, d + "SignatureValue").text = _b64("sig" + ref_id, 256)
    key = etree.SubElement(etree.SubElement(sig, d + "KeyInfo"), d + "X509Data")
    etree.SubElement(key, d + "X509Certificate").text = _b64("cert" + ref_id, 600)


def _party_doc(parent: etree._Element, doc: str) -> None:
    _el(parent, "CPF" if len(doc) == 11 else "CNPJ", doc)


def _address(parent: etree._Element, tag: str, uf: str) -> None:
    end = _el(parent, tag)
    _fill(
        end,
        ("xLgr", "Rua das Notas Sinteticas"),
        ("nro", "100"),
        ("xBairro", "Centro"),
        ("cMun", UF_CODES[uf][1]),
        ("xMun", "Capital"),
        ("UF", uf),
        ("CEP", "01001000"),
        ("cPais", "1058"),
        ("xPais", "BRASIL"),
    )


def _split(total: Decimal, n: int) -> list[Decimal]:
    each = (total / n).quantize(CENT, ROUND_HALF_UP)
    return [each] * (n - 1) + [total - each * (n - 1)]


def _item(inf: etree._Element, n: int, value: Decimal, cfop: str) -> dict[str, Decimal]:
    taxes = {k: (value * rate / 100).quantize(CENT, ROUND_HALF_UP) for k, rate in TAX_RATES.items()}
    det = _el(inf, "det", nItem=str(n))
    prod = _el(det, "prod")
    _fill(
        prod,
        ("cProd", f"P{n:05d}"),
        ("cEAN", "SEM GTIN"),
        ("xProd", f"PRODUTO SINTETICO {n}"),
        ("NCM", "84713012"),
        ("CFOP", cfop),
        ("uCom", "UN"),
        ("qCom", "1.0000"),
        ("vUnCom", _money(value)),
        ("vProd", _money(value)),
        ("cEANTrib", "SEM GTIN"),
        ("uTrib", "UN"),
        ("qTrib", "1.0000"),
        ("vUnTrib", _money(value)),
        ("indTot", "1"),
    )
    imposto = _el(det, "imposto")
    icms = _el(_el(imposto, "ICMS"), "ICMS00")
    _fill(
        icms,
        ("orig", "0"),
        ("CST", "00"),
        ("modBC", "3"),
        ("vBC", _money(value)),
        ("pICMS", f"{TAX_RATES['icms']:.4f}"),
        ("vICMS", _money(taxes["icms"])),
    )
    for group, key in (("PIS", "pis"), ("COFINS", "cofins")):
        g = _el(_el(imposto, group), f"{group}Aliq")
        _fill(
            g,
            ("CST", "01"),
            ("vBC", _money(value)),
            (f"p{group}", f"{TAX_RATES[key]:.4f}"),
            (f"v{group}", _money(taxes[key])),
        )
    return taxes


def make_nfe(
    emit_cnpj: str,
    dest_cnpj: str | None,
    competencia: str = "2026-05",
    numero: int = 1,
    serie: int = 1,
    modelo: int = 55,
    items: int = 8,
    value: Decimal = Decimal("1000.00"),
    *,
    with_protocol: bool = True,
    cstat: int = 100,
    uf: str = "SP",
    dest_uf: str | None = None,
    cfop: str | None = None,
    tp_amb: int = 1,
    dia: int = 10,
    namespace: bool = True,
) -> bytes:
    """A schema-valid nfeProc (or bare NFe when ``with_protocol=False``) as UTF-8 bytes."""
    dest_uf = dest_uf or uf
    cuf, cmun = UF_CODES[uf]
    cfop = cfop or ("5102" if dest_uf == uf else "6102")
    aamm = competencia[2:4] + competencia[5:7]
    cnf = _digits(f"{emit_cnpj}{serie}{numero}{modelo}", 8)
    chave = build_chave(
        cuf=cuf, aamm=aamm, cnpj=emit_cnpj, modelo=modelo, serie=serie, numero=numero, cnf=cnf
    )
    dh_emi = f"{competencia}-{dia:02d}T10:00:00-03:00"
    nfe = etree.Element(f"{{{NFE_NS}}}NFe", nsmap=_NFE_NSMAP)
    inf = _el(nfe, "infNFe", Id=f"NFe{chave}", versao="4.00")
    ide = _el(inf, "ide")
    nfce = modelo == 65
    _fill(
        ide,
        ("cUF", cuf),
        ("cNF", cnf),
        ("natOp", "VENDA DE MERCADORIA" if TP_NF_BY_CFOP[cfop[0]] == "1" else "DEVOLUCAO"),
        ("mod", modelo),
        ("serie", serie),
        ("nNF", numero),
        ("dhEmi", dh_emi),
        ("tpNF", TP_NF_BY_CFOP[cfop[0]]),
        ("idDest", "1" if dest_uf == uf else "2"),
        ("cMunFG", cmun),
        ("tpImp", "4" if nfce else "1"),
        ("tpEmis", "1"),
        ("cDV", chave[-1]),
        ("tpAmb", tp_amb),
        ("finNFe", "1"),
        ("indFinal", "1" if nfce else "0"),
        ("indPres", "1"),
        ("procEmi", "0"),
        ("verProc", "contab-generator 1.0"),
    )
    emit = _el(inf, "emit")
    _party_doc(emit, emit_cnpj)
    _el(emit, "xNome", f"EMITENTE SINTETICO {emit_cnpj}")
    _address(emit, "enderEmit", uf)
    _fill(emit, ("IE", "ISENTO"), ("CRT", "3"))
    if dest_cnpj:
        dest = _el(inf, "dest")
        _party_doc(dest, dest_cnpj)
        _el(dest, "xNome", f"DESTINATARIO SINTETICO {dest_cnpj}")
        _address(dest, "enderDest", dest_uf)
        _el(dest, "indIEDest", "9")
    totals = dict.fromkeys(TAX_RATES, Decimal(0))
    for n, item_value in enumerate(_split(value, items), start=1):
        for k, v in _item(inf, n, item_value, cfop).items():
            totals[k] += v
    tot = _el(_el(inf, "total"), "ICMSTot")
    zero = "0.00"
    _fill(
        tot,
        ("vBC", _money(value)),
        ("vICMS", _money(totals["icms"])),
        ("vICMSDeson", zero),
        ("vFCP", zero),
        ("vBCST", zero),
        ("vST", zero),
        ("vFCPST", zero),
        ("vFCPSTRet", zero),
        ("vProd", _money(value)),
        ("vFrete", zero),
        ("vSeg", zero),
        ("vDesc", zero),
        ("vII", zero),
        ("vIPI", zero),
        ("vIPIDevol", zero),
        ("vPIS", _money(totals["pis"])),
        ("vCOFINS", _money(totals["cofins"])),
        ("vOutro", zero),
        ("vNF", _money(value)),
    )
    _el(_el(inf, "transp"), "modFrete", "9")
    det_pag = _el(_el(inf, "pag"), "detPag")
    _fill(det_pag, ("tPag", "01"), ("vPag", _money(value)))
    _signature(nfe, f"NFe{chave}")
    root = nfe
    if with_protocol:
        root = etree.Element(f"{{{NFE_NS}}}nfeProc", nsmap=_NFE_NSMAP, versao="4.00")
        root.append(nfe)
        prot = _el(_el(root, "protNFe", versao="4.00"), "infProt")
        _fill(
            prot,
            ("tpAmb", tp_amb),
            ("verAplic", "SP_NFE_PL009_V4"),
            ("chNFe", chave),
            ("dhRecbto", f"{competencia}-{dia:02d}T10:00:05-03:00"),
            ("nProt", f"1{cuf}{_digits('prot' + chave, 12)}"),
            ("digVal", _b64("digest" + f"NFe{chave}")),
            ("cStat", cstat),
            ("xMotivo", XMOTIVO.get(str(cstat), "Rejeicao")),
        )
    if not namespace:
        _strip_namespaces(root)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _strip_namespaces(root: etree._Element) -> None:
    for el in root.iter():
        el.tag = etree.QName(el).localname
    etree.cleanup_namespaces(root)


def _event(
    chave: str,
    tp_evento: str,
    detail: list[tuple[str, object]],
    desc: str,
    *,
    seq: int,
    dh_evento: str,
    cstat: int,
    tp_amb: int,
) -> bytes:
    key = parse_chave(chave)
    ev_id = f"ID{tp_evento}{key.chave}{seq:02d}"
    root = etree.Element(f"{{{NFE_NS}}}procEventoNFe", nsmap=_NFE_NSMAP, versao="1.00")
    evento = _el(root, "evento", versao="1.00")
    inf = _el(evento, "infEvento", Id=ev_id)
    _fill(inf, ("cOrgao", key.cuf), ("tpAmb", tp_amb))
    _party_doc(inf, key.cnpj)
    _fill(
        inf,
        ("chNFe", key.chave),
        ("dhEvento", dh_evento),
        ("tpEvento", tp_evento),
        ("nSeqEvento", seq),
        ("verEvento", "1.00"),
    )
    det = _el(inf, "detEvento", versao="1.00")
    _el(det, "descEvento", desc)
    _fill(det, *detail)
    _signature(evento, ev_id)
    ret = _el(_el(root, "retEvento", versao="1.00"), "infEvento")
    _fill(
        ret,
        ("tpAmb", tp_amb),
        ("verAplic", "SP_EVENTOS_PL_100"),
        ("cOrgao", key.cuf),
        ("cStat", cstat),
        ("xMotivo", XMOTIVO.get(str(cstat), "Rejeicao")),
        ("chNFe", key.chave),
        ("tpEvento", tp_evento),
        ("xEvento", f"{desc} registrado"),
        ("nSeqEvento", seq),
        ("dhRegEvento", dh_evento[:17] + "30" + dh_evento[19:]),
        ("nProt", f"1{key.cuf}{_digits('ev' + ev_id, 12)}"),
    )
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def make_cancel_event(
    chave: str,
    n_prot: str | None = None,
    *,
    dh_evento: str | None = None,
    cstat: int = 135,
    tp_amb: int = 1,
    justificativa: str = "Cancelamento por erro de digitacao no pedido",
) -> bytes:
    """procEventoNFe for event 110111 (cancelamento) of ``chave``, registered with ``cstat``."""
    key = parse_chave(chave)
    dh = dh_evento or f"{key.competencia}-20T09:00:00-03:00"
    prot = n_prot or f"1{key.cuf}{_digits('prot' + key.chave, 12)}"
    return _event(
        key.chave,
        "110111",
        [("nProt", prot), ("xJust", justificativa)],
        "Cancelamento",
        seq=1,
        dh_evento=dh,
        cstat=cstat,
        tp_amb=tp_amb,
    )


def make_cce_event(
    chave: str,
    correcao: str = "Correcao do endereco de entrega do destinatario",
    *,
    seq: int = 1,
    dh_evento: str | None = None,
    cstat: int = 135,
    tp_amb: int = 1,
) -> bytes:
    """procEventoNFe for event 110110 (carta de correção) number ``seq`` (1–20)."""
    key = parse_chave(chave)
    dh = dh_evento or f"{key.competencia}-21T09:00:00-03:00"
    return _event(
        key.chave,
        "110110",
        [("xCorrecao", correcao), ("xCondUso", CCE_CONDITIONS)],
        "Carta de Correcao",
        seq=seq,
        dh_evento=dh,
        cstat=cstat,
        tp_amb=tp_amb,
    )


def embed_cancellation(nfe_proc: bytes, cancel_event: bytes, *, whole: bool = False) -> bytes:
    """Append a cancellation's retEvento (or the whole procEventoNFe) inside nfeProc.

    Reproduces what older sped-nfe versions (``Complements::cancelRegister``) stored.
    """
    proc = etree.fromstring(nfe_proc)
    event = etree.fromstring(cancel_event)
    part = event if whole else event.find(f"{{{NFE_NS}}}retEvento")
    if part is None:
        raise ValueError("evento sem retEvento")
    proc.append(part)
    return etree.tostring(proc, xml_declaration=True, encoding="UTF-8")
