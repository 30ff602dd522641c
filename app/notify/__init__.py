"""Notification channels: SMTP e-mail (``email``) and WhatsApp Cloud API (``whatsapp``).

Shared types live in ``base``; submodules are imported on demand so that importing this package
pulls in neither httpx nor smtplib.
"""

from app.notify.base import (
    Attachment,
    Channel,
    ChannelError,
    Link,
    Message,
    RateLimited,
    SendResult,
)

__all__ = ["Attachment", "Channel", "ChannelError", "Link", "Message", "RateLimited", "SendResult"]
