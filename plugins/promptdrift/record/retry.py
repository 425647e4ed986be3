"""The retry policy for model calls while recording (what counts as a usable answer: ``cassettes.format.answer_fault``).

Documented in docs/recording.md ("Faults while recording"). While recording, a call
is retried on:

* statuses that say "try again": 408, 409, 429 and every 5xx;
* transport failures: timeouts, refused or reset connections, a response cut off mid-body;
* a 2xx that is not an answer: a server-sent-events stream without its end
  marker, JSON that does not parse, an HTML page.

The wait before retry ``n`` (from 0) is ``retry_backoff · 2ⁿ`` seconds with
jitter (between half and all of it), capped at ``retry_max_wait``; a
``Retry-After`` / ``retry-after-ms`` header from the server is used instead
(also capped). Other statuses (400, 401, 404...) are not retried. Replay never
retries: it never leaves the process.

What is kept of an answer that is not retried (docs/recording.md, "What is recorded"):

* a deterministic error (400, 404, 422...: the request itself is wrong) is
  recorded like any answer, so that replay raises what the test saw;
* an account error (401, 402, 403, 407: a wrong key, no credit, no access) is
  never recorded: a wrong key while recording must not become a fixture.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import httpx2


RETRY_STATUSES = frozenset({408, 409, 429})
ACCOUNT_STATUSES = frozenset({401, 402, 403, 407})  # about the caller's key or account, not the request


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 3
    backoff: float = 1.0
    max_wait: float = 60.0
    deadline: float = 600.0  # seconds one attempt may take in all, its answer read to the end
    max_bytes: int = 64 * 1024 * 1024  # the largest answer read (decoded), --prompt-max-mb

    def wait(self, attempt: int, headers: httpx2.Headers | None = None) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        asked = retry_after(headers) if headers is not None else None
        if asked is not None:
            return min(asked, self.max_wait)
        return min(self.max_wait, self.backoff * 2**attempt) * random.uniform(0.5, 1.0)


def retry_after(headers: httpx2.Headers) -> float | None:
    """The server's requested wait: ``retry-after-ms``, or ``Retry-After`` in seconds or as an HTTP date."""
    try:
        if "retry-after-ms" in headers:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            when = parsedate_to_datetime(value)
            return max(0.0, (when - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None


def retryable_status(status: int) -> bool:
    return status in RETRY_STATUSES or status >= 500


def recorded_error(status: int) -> bool:
    """An error answer that is recorded like any answer: a 4xx that says the request itself is wrong."""
    return 400 <= status < 500 and status not in ACCOUNT_STATUSES and not retryable_status(status)
