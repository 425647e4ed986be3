"""Key-shaped strings are redacted from the log records of the HTTP and SDK libraries during a run.

With ``--log-level=DEBUG`` (or a failing test's captured log), ``httpx`` logs
every URL, query string included, and the ``openai`` SDK its request options.
CI logs are often public, so while promptdrift is active the records of those
loggers (and its own) pass through :func:`redact`: the values of credential
environment variables, and anything shaped like a key, become ``[redacted]``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

REDACTED = "[redacted]"
LOGGERS = ("httpx", "httpx2", "httpcore", "openai", "promptdrift", "vcr", "urllib3")
_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|ORG_ID|PROJECT_ID", re.IGNORECASE)
_SHAPES = (
    re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"),
    re.compile(r"(?<=Bearer )[A-Za-z0-9._~+/=-]{16,}"),
    re.compile(r"\borg-[A-Za-z0-9]{20,}\b"),
    re.compile(r"\bproj_[A-Za-z0-9]{16,}\b"),
    re.compile(r"(?<=[?&])((?:api[-_]?key|key|token|access_token|sig)=)[^&\s\"']+", re.IGNORECASE),
    # header tuples as httpcore logs them: (b'set-cookie', b'...')
    re.compile(
        r"(b?['\"](?:set-cookie|cookie|authorization|proxy-authorization|api-key|x-api-key|openai-organization"
        r"|openai-project|x-[a-z0-9-]*(?:token|key|secret|session|auth)[a-z0-9-]*)['\"],\s*b?['\"])[^'\"]*",
        re.IGNORECASE,
    ),
)


def secret_values(environ: Mapping[str, str]) -> list[str]:
    """Values of credential-looking environment variables (long enough not to be a common word)."""
    return sorted({v for k, v in environ.items() if _SECRET_NAME.search(k) and len(v) >= 8}, key=len, reverse=True)


def redact(text: str, known: Iterable[str] = ()) -> str:
    for value in known:
        text = text.replace(value, REDACTED)
    for shape in _SHAPES:
        text = shape.sub(lambda m: (m.group(1) if m.groups() else "") + REDACTED, text)
    return text


def install(environ: Mapping[str, str]) -> Callable[[], None]:
    """Redact the records of :data:`LOGGERS` from now on; returns the function that undoes it."""
    known = secret_values(environ)
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if record.name.startswith(LOGGERS):
            try:
                message = record.getMessage()
            except Exception:  # a malformed record is the logging module's to report
                return record
            cleaned = redact(message, known)
            if cleaned != message:
                record.msg, record.args = cleaned, ()
        return record

    logging.setLogRecordFactory(factory)

    def uninstall() -> None:
        if logging.getLogRecordFactory() is factory:
            logging.setLogRecordFactory(previous)

    return uninstall
