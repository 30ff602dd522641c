"""The dev/test SMTP sink: its fast path for SMTP paths agrees with aiosmtpd's full parser."""

from __future__ import annotations

import smtplib

from aiosmtpd.smtp import SMTP
from hypothesis import given, settings
from hypothesis import strategies as st

from app.notify.mailsink import MailSink, _FastSMTP

ATEXT = st.text(st.sampled_from("abcxyzABCXYZ0189!#$%&'*+/=?^_`{|}~-"), min_size=1, max_size=12)
LABEL = st.from_regex(r"[A-Za-z0-9]([A-Za-z0-9-]{0,10}[A-Za-z0-9])?", fullmatch=True)
PARAMS = st.sampled_from(["", " SIZE=2048", " SIZE=10 BODY=8BITMIME", "  SMTPUTF8 "])


@given(
    local=st.lists(ATEXT, min_size=1, max_size=3).map(".".join),
    domain=st.lists(LABEL, min_size=1, max_size=4).map(".".join),
    params=PARAMS,
    lead=st.sampled_from(["", " "]),
    limit=st.sampled_from([0, 8, 64]),
)
@settings(max_examples=400, deadline=None)
def test_fast_path_parses_plain_paths_exactly_like_aiosmtpd(
    local: str, domain: str, params: str, lead: str, limit: int
) -> None:
    arg = f"{lead}<{local}@{domain}>{params}"
    fast, full = _FastSMTP(handler=object()), SMTP(handler=object())
    fast.local_part_limit = full.local_part_limit = limit  # a class attribute in aiosmtpd
    assert fast._getaddr(arg) == full._getaddr(arg)


def test_unusual_paths_fall_back_to_aiosmtpd_and_reach_the_envelope() -> None:
    odd = ['"ana maria"@example.com.br', "ana@[192.0.2.1]", "ana.@example.com.br"]
    parser = SMTP(handler=object())
    with MailSink() as sink:
        smtp = smtplib.SMTP(sink.host, sink.port, timeout=5)
        for address in odd:
            smtp.sendmail("origem@example.com.br", [address], b"Subject: x\r\n\r\nx\r\n")
        smtp.quit()
        received = [m.rcpt_tos for m in sink.messages]

    assert received == [(parser._getaddr(f"<{a}>")[0],) for a in odd]
