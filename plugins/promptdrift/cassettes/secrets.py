"""What a secret looks like: one set of shapes for log redaction, cassette scrubbing and ``promptdrift scan``.

A shape has a kind (``openai-key``), a title for people (``OpenAI API key``)
and a pattern whose ``value`` group (or whole match) is the secret itself: the
part replaced when text is redacted, the part ``scan`` reports. Besides the
shapes, the values of credential-looking environment variables
(:func:`secret_values`) are secrets whatever their shape.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

REDACTED = "[redacted]"

_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|ORG_ID|PROJECT_ID", re.IGNORECASE)
_HEADER_NAMES = (
    r"set-cookie|cookie|authorization|proxy-authorization|api-key|x-api-key|openai-organization|openai-project"
    r"|x-[a-z0-9-]*(?:token|key|secret|session|auth)[a-z0-9-]*"
)


@dataclass(frozen=True)
class Shape:
    """One kind of secret: ``kind`` for placeholders, ``title`` for people, ``pattern`` with an optional ``value`` group."""

    kind: str
    title: str
    pattern: re.Pattern[str]

    def span(self, match: re.Match[str]) -> tuple[int, int]:
        """Where the secret itself is in a match (the ``value`` group, else all of it)."""
        return match.span("value") if "value" in self.pattern.groupindex else match.span()


SHAPES = (
    Shape("openai-key", "OpenAI API key", re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}")),
    Shape("bearer-token", "bearer token", re.compile(r"\bBearer\s+(?P<value>[A-Za-z0-9._~+/=-]{16,})")),
    Shape("openai-organization", "OpenAI organization id", re.compile(r"\borg-[A-Za-z0-9]{20,}\b")),
    Shape("openai-project", "OpenAI project id", re.compile(r"\bproj_[A-Za-z0-9]{16,}\b")),
    Shape(
        "query-key",
        "key in a query string",
        re.compile(r"[?&](?:api[-_]?key|key|token|access_token|sig)=(?P<value>[^&\s\"']+)", re.IGNORECASE),
    ),
    # A credential header as a YAML or JSON line ("authorization: ...") or as httpcore logs it: (b'set-cookie', b'...').
    Shape(
        "credential-header",
        "credential header",
        re.compile(
            rf"(?:^[ \t-]*|\(\s*)b?['\"]?(?:{_HEADER_NAMES})['\"]?[ \t]*[:,][ \t]*b?['\"]?(?P<value>[^'\"\r\n)]*)",
            re.IGNORECASE | re.MULTILINE,
        ),
    ),
)


def secret_values(environ: Mapping[str, str]) -> list[str]:
    """Values of credential-looking environment variables (long enough not to be a common word), longest first."""
    return sorted({v for k, v in environ.items() if _SECRET_NAME.search(k) and len(v) >= 8}, key=len, reverse=True)


def replace_secrets(text: str, known: Iterable[str], placeholder: Callable[[str], str]) -> str:
    """``text`` with every known value and every shaped secret replaced by ``placeholder(kind)``.

    Known values (from the environment) are replaced first, as kind ``env``.
    """
    for value in known:
        if value in text:
            text = text.replace(value, placeholder("env"))
    for shape in SHAPES:

        def swap(match: re.Match[str], shape: Shape = shape) -> str:
            start, end = shape.span(match)
            if start == end:
                return match.group(0)
            offset = match.start()
            whole = match.group(0)
            return whole[: start - offset] + placeholder(shape.kind) + whole[end - offset :]

        text = shape.pattern.sub(swap, text)
    return text


def redact(text: str, known: Iterable[str] = ()) -> str:
    """Log redaction: every secret becomes ``[redacted]``."""
    return replace_secrets(text, known, lambda kind: REDACTED)


def find_secrets(text: str) -> Iterable[tuple[Shape, re.Match[str]]]:
    """Every shaped secret in ``text`` (for ``promptdrift scan``)."""
    for shape in SHAPES:
        for match in shape.pattern.finditer(text):
            yield shape, match
