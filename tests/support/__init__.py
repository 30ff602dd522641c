"""Test-only peers of third-party protocols: an SMTP sink and a WhatsApp Cloud API fake."""
