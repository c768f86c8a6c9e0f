"""Keep credentials out of the server's own logs.

WebSocket clients that cannot set headers pass their key as ``/ws?api_key=...``, and
uvicorn logs every request line with its query string. This filter rewrites those log
records so the key never reaches a log file.
"""

from __future__ import annotations

import logging
import re

SECRET_QUERY_PARAMETER = re.compile(r"(?i)\b(api_key|token|password|secret)=[^&\s\"']*")
REDACTED = r"\1=[redacted]"
# uvicorn's request lines (HTTP and WebSocket) go through these loggers.
UVICORN_LOGGERS = ("uvicorn.access", "uvicorn.error")


def redact(text: str) -> str:
    return SECRET_QUERY_PARAMETER.sub(REDACTED, text)


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


def install() -> None:
    """Attach the filter to uvicorn's loggers once (idempotent: app factories may run twice)."""
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecretsFilter) for f in logger.filters):
            logger.addFilter(RedactSecretsFilter())
