"""Key-shaped strings are redacted from the log records of the HTTP and SDK libraries during a run.

With ``--log-level=DEBUG`` (or a failing test's captured log), ``httpx`` logs
every URL, query string included, and the ``openai`` SDK its request options.
CI logs are often public, so while promptdrift is active the records of those
loggers (and its own) pass through :func:`~promptdrift.cassettes.secrets.redact`:
the values of credential environment variables, and anything shaped like a
key, become ``[redacted]``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from promptdrift.cassettes.secrets import redact, secret_values

LOGGERS = ("httpx", "httpx2", "httpcore", "openai", "promptdrift", "vcr", "urllib3")


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
