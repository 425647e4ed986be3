"""What a secret looks like: one set of shapes for log redaction, cassette scrubbing and ``promptdrift scan``.

A shape has a kind (``openai-key``), a title for people (``OpenAI API key``)
and a pattern whose ``value`` group (or whole match) is the secret itself: the
part replaced when text is redacted, the part ``scan`` reports. Besides the
shapes, the values of credential-looking environment variables
(:func:`secret_values`) are secrets whatever their shape.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

REDACTED = "[redacted]"
MIN_SECRET = 8  # a credential variable's value shorter than this is not searched for (it would match common text)

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
    Shape("anthropic-key", "Anthropic API key", re.compile(r"\bsk-ant-[A-Za-z0-9_-]{20,}")),
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


# Every shape needs one of these in the lower-cased text: most texts (keys, roles, answers, whole bodies) have
# none, and are not searched shape by shape. Substring tests, because a case-insensitive alternation of the same
# words took 0.5 ms on a 2 KB body (several per recorded call).
_HINTS = (
    "sk-",
    "bearer",
    "org-",
    "proj_",
    "key=",  # the query-string shape: ...key=, ...token=, sig=
    "token=",
    "sig=",
    "cookie",  # the credential headers: set-cookie, cookie, (proxy-)authorization, (x-)api-key, openai-...
    "authorization",
    "api-key",
    "openai-organization",
    "openai-project",
)
_X_HEADER = re.compile(r"x-[a-z0-9-]*(?:token|key|secret|session|auth)")  # lower-cased x-...token headers


def hinted(text: str) -> bool:
    """Whether ``text`` may hold a shaped secret: ``False`` means no shape can match it (a fast test)."""
    lower = text.lower()
    return any(hint in lower for hint in _HINTS) or ("x-" in lower and _X_HEADER.search(lower) is not None)


_JSON_ESCAPED = re.compile(r'["\\\x00-\x1f]')  # characters json.dumps escapes (with ensure_ascii off)


def secret_variables(environ: Mapping[str, str], names: Iterable[str] = ()) -> dict[str, str]:
    """``{value: variable}`` for credential-looking variables and the ``names`` given (API key variables)."""
    wanted = set(names)
    return {
        value: name
        for name, value in environ.items()
        if (name in wanted or _SECRET_NAME.search(name)) and len(value) >= MIN_SECRET
    }


def secret_values(environ: Mapping[str, str]) -> list[str]:
    """Values of credential-looking environment variables (long enough not to be a common word), longest first."""
    return sorted(secret_variables(environ), key=len, reverse=True)


Span = tuple[int, int, str]  # start, end, kind


def secret_spans(text: str, known: Mapping[str, str], *, shapes: bool = True) -> list[Span]:
    """Where the secrets in ``text`` are: known values (``{value: kind}``) and, with ``shapes``, shaped ones.

    Overlapping finds are merged into one span (the first one's kind).
    """
    found: list[Span] = []
    for value, kind in known.items():
        start = text.find(value)
        while start >= 0:
            found.append((start, start + len(value), kind))
            start = text.find(value, start + len(value))
    if shapes and hinted(text):
        for shape in SHAPES:
            for match in shape.pattern.finditer(text):
                start, end = shape.span(match)
                if start < end:
                    found.append((start, end, shape.kind))
    merged: list[Span] = []
    for start, end, kind in sorted(found):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]), merged[-1][2])
        else:
            merged.append((start, end, kind))
    return merged


def replace_spans(fragments: list[str], spans: list[Span], placeholder: Callable[[str], str]) -> list[str]:
    """``fragments`` (pieces of one text, such as a stream's deltas) with each span replaced by its placeholder.

    A span that runs over several fragments becomes one placeholder in the fragment where it starts; its
    characters in the following fragments are dropped.
    """
    out: list[str] = []
    offset = 0
    queue = list(spans)
    for fragment in fragments:
        start, end = offset, offset + len(fragment)
        offset = end
        pieces: list[str] = []
        at = start
        while at < end:
            while queue and queue[0][1] <= at:
                queue.pop(0)
            if queue and queue[0][0] <= at:  # inside a span: its placeholder where it starts, nothing after
                span_start, span_end, kind = queue[0]
                if span_start >= start:
                    pieces.append(placeholder(kind))
                at = min(span_end, end)
            else:
                upto = min(queue[0][0], end) if queue else end
                pieces.append(fragment[at - start : upto - start])
                at = upto
        out.append("".join(pieces))
    return out


def replace_secrets(
    text: str, known: Mapping[str, str], placeholder: Callable[[str], str], *, shapes: bool = True
) -> str:
    """``text`` with every known value and (with ``shapes``) every shaped secret replaced by ``placeholder(kind)``."""
    spans = secret_spans(text, known, shapes=shapes)
    return replace_spans([text], spans, placeholder)[0] if spans else text


def redact(text: str, known: Iterable[str] = ()) -> str:
    """Log redaction: every secret becomes ``[redacted]``."""
    return replace_secrets(text, dict.fromkeys(known, "env"), lambda kind: REDACTED)


def placeholder(kind: str) -> str:
    """What a secret becomes in a cassette: ``<redacted:openai-key>``, ``<redacted:$OPENAI_API_KEY>``."""
    return f"<redacted:{kind}>"


@dataclass
class Scrubber:
    """Replaces secrets before anything is written to a cassette, and in live requests before they are matched.

    ``known``: secret values and the variable each came from (always replaced);
    ``shapes``: also replace key-shaped strings (a suite or test whose prompts
    hold key-shaped strings that are not secrets turns this off). JSON is
    scrubbed string by string (:meth:`data`), so a body's formatting never
    changes what matches; other text (server-sent events) line by line.
    """

    known: dict[str, str] = field(default_factory=dict)
    shapes: bool = True

    @classmethod
    def for_environ(cls, environ: Mapping[str, str], names: Iterable[str] = (), *, shapes: bool = True) -> Scrubber:
        return cls({v: f"${k}" for v, k in secret_variables(environ, names).items()}, shapes)

    def know(self, value: str | None, variable: str) -> None:
        """Also replace ``value`` (the key of a provider, once a case uses it)."""
        if value and len(value) >= MIN_SECRET and value not in self.known:
            self.known[value] = f"${variable}"

    def text(self, text: str) -> str:
        return replace_secrets(text, self.known, placeholder, shapes=self.shapes)

    def fragments(self, fragments: list[str]) -> list[str]:
        """Pieces of one text (a stream's deltas), scrubbed as the whole text they make."""
        spans = secret_spans("".join(fragments), self.known, shapes=self.shapes)
        return replace_spans(fragments, spans, placeholder) if spans else fragments

    def data(self, value: Any) -> Any:
        """Every string in decoded JSON (keys and values), scrubbed.

        Usually nothing is to be scrubbed: the whole value is looked at once, as JSON text, and given back as
        it is when no known value and no hint of a shape is in it (neither can hide in JSON's escapes: known
        values that JSON would escape are always searched string by string).
        """
        if isinstance(value, dict | list) and self.clean_json(value):
            return value
        return self._walk(value)

    def clean(self, text: str) -> bool:
        """Whether ``text`` (or any part of it) surely holds nothing to scrub."""
        if any(value in text for value in self.known):
            return False
        return not (self.shapes and hinted(text))

    def clean_json(self, value: Any) -> bool:
        try:
            return self.clean_dump(json.dumps(value, ensure_ascii=False))
        except (TypeError, ValueError):
            return False

    def clean_dump(self, dump: str) -> bool:
        """Whether JSON text written by ``json.dumps(..., ensure_ascii=False)``, indented or not, surely holds
        nothing to scrub in any of its strings (a hint or a known value cannot span two strings: neither
        holds a quote; known values that JSON would escape are always searched string by string)."""
        if any(_JSON_ESCAPED.search(known) for known in self.known):
            return False
        return self.clean(dump)

    def _walk(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(k): self._walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._walk(v) for v in value]
        return value


def find_secrets(text: str) -> Iterable[tuple[Shape, re.Match[str]]]:
    """Every shaped secret in ``text`` (for ``promptdrift scan``)."""
    for shape in SHAPES:
        for match in shape.pattern.finditer(text):
            yield shape, match
