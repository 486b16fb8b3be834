"""One logging set-up for every ParkGate component."""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

# httpcore's DEBUG trace prints the raw headers of every request and response: credentials must not reach a log.
HTTP_TRACE_LOGGERS = ("httpcore.connection", "httpcore.http11", "httpcore.http2", "httpcore.proxy", "httpcore.socks")
_SECRET_HEADER = re.compile(
    r"(\(b'(?:authorization|proxy-authorization|cookie|set-cookie|x-api-key|x-auth-token)', b)(['\"])(?:(?!\2).)*\2",
    re.IGNORECASE,
)


class SecretHeaderFilter(logging.Filter):
    """Replaces the values of credential headers (``Authorization``, ``Cookie``, ``Set-Cookie``...) in httpcore's
    trace lines with ``<redacted>``; the line itself stays (it is what one debugs a connection with)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _SECRET_HEADER.sub(r"\1'<redacted>'", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def redact_http_trace() -> None:
    """Put :class:`SecretHeaderFilter` on httpcore's loggers (once); done when this module is imported."""
    for name in HTTP_TRACE_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, SecretHeaderFilter) for f in logger.filters):
            logger.addFilter(SecretHeaderFilter())


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, and any ``extra`` fields given."""

    _standard = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in self._standard and not key.startswith("_"):
                entry[key] = value if isinstance(value, str | int | float | bool) or value is None else repr(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time of each record (it may be replaced after set-up)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


def configure_logging(level: str = "INFO", *, json_lines: bool = False) -> None:
    """Configure the root logger once for the process: to stderr, human-readable or JSON lines."""
    handler = StderrHandler()
    if json_lines:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    redact_http_trace()


redact_http_trace()
