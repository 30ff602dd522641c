"""The composition root of the channels: EmailChannel, WhatsAppChannel and their rate limits.

Everything is built from :func:`app.settings.get_settings` (MAIL_*, WHATSAPP_*), never at import
time. WhatsApp runs in sandbox mode (only WHATSAPP_SANDBOX_ALLOWLIST numbers receive messages)
whenever APP_ENV is not production (guide §1.2: "integrações em modo sandbox").
"""

from __future__ import annotations

from typing import Any

from app.notify.email import EmailChannel, SmtpConfig
from app.notify.ratelimit import WHATSAPP_DEFAULT_RATE, TokenBucket
from app.notify.whatsapp import WhatsAppChannel, WhatsAppConfig
from app.settings import Settings, get_settings

__all__ = [
    "email_channel",
    "email_limiter",
    "rate_limiter",
    "smtp_config",
    "whatsapp_channel",
    "whatsapp_config",
]

RATE_KEY_PREFIX = "contab:ratelimit:"


def smtp_config(settings: Settings | None = None) -> SmtpConfig:
    """SMTP access from MAIL_HOST/PORT/USERNAME/PASSWORD/SECURITY and MAIL_FROM_*."""
    s = settings or get_settings()
    return SmtpConfig(
        host=s.MAIL_HOST,
        port=s.MAIL_PORT,
        username=s.MAIL_USERNAME,
        password=s.MAIL_PASSWORD.get_secret_value(),
        security=s.MAIL_SECURITY,
        sender_address=s.MAIL_FROM_ADDRESS,
        sender_name=s.MAIL_FROM_NAME,
        timeout=s.MAIL_TIMEOUT_SECONDS,
    )


def email_channel(settings: Settings | None = None) -> EmailChannel:
    """The configured e-mail channel."""
    return EmailChannel(smtp_config(settings))


def whatsapp_config(settings: Settings | None = None) -> WhatsAppConfig:
    """Cloud API access (WHATSAPP_*); sandbox with the allow-list outside production."""
    s = settings or get_settings()
    return WhatsAppConfig(
        api_key=s.WHATSAPP_API_KEY.get_secret_value(),
        phone_number_id=s.WHATSAPP_PHONE_NUMBER_ID,
        base_url=s.WHATSAPP_API_URL,
        sandbox=s.whatsapp_sandbox,
        allow_list=frozenset(s.whatsapp_allowlist),
    )


def rate_limiter(redis: Any, name: str, rate_per_s: float) -> TokenBucket:
    """A shared Redis token bucket; the burst is one second's worth of tokens."""
    return TokenBucket(redis, RATE_KEY_PREFIX + name, rate_per_s, max(1, int(rate_per_s)))


def email_limiter(redis: Any, settings: Settings | None = None) -> TokenBucket | None:
    """The SMTP rate limit, when MAIL_RATE_PER_SECOND is configured (unlimited otherwise)."""
    s = settings or get_settings()
    rate = s.MAIL_RATE_PER_SECOND
    return rate_limiter(redis, "email", rate) if rate > 0 else None


def whatsapp_channel(
    redis: Any | None = None, settings: Settings | None = None, **kwargs: Any
) -> WhatsAppChannel:
    """The configured WhatsApp channel, rate limited by WHATSAPP_RATE_PER_SECOND when ``redis``."""
    s = settings or get_settings()
    config = whatsapp_config(s)
    limiter = None
    if redis is not None:
        rate = s.WHATSAPP_RATE_PER_SECOND or WHATSAPP_DEFAULT_RATE
        limiter = rate_limiter(redis, f"whatsapp:{config.phone_number_id or 'default'}", rate)
    return WhatsAppChannel(config, limiter=limiter, **kwargs)
