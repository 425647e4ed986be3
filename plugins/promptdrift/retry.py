"""The retry policy for model calls while recording, and what counts as a usable answer.

Documented in the README ("Faults while recording"). While recording, a call
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
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx2

RETRY_STATUSES = frozenset({408, 409, 429})
# Events that end a stream: chat completions send [DONE]; the Responses API a terminal event.
STREAM_ENDS = ("data: [DONE]", "response.completed", "response.incomplete", "response.failed")


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 3
    backoff: float = 1.0
    max_wait: float = 60.0

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


def answer_fault(content_type: str, content: str | bytes) -> str | None:
    """Why a 2xx response is not a usable answer, or ``None`` when it is one.

    Used on every response before it is recorded, and on every recorded answer
    when a cassette is loaded (a hand-edited or truncated cassette).
    """
    content_type = content_type.lower()
    if "text/event-stream" in content_type:
        text = content.decode("utf-8", errors="replace") if isinstance(content, bytes) else content
        if not any(end in text for end in STREAM_ENDS):
            return "the answer stream was cut off before its end"
        return None
    if "text/html" in content_type:
        return "the endpoint sent an HTML page instead of an answer"
    if "json" in content_type or not content_type:
        try:
            json.loads(content)
        except ValueError:
            return "the answer is not valid JSON"
    return None
