"""``promptdrift scan``: find key-shaped strings and credential headers in cassettes before they are committed."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

PATTERNS = {
    "OpenAI API key": re.compile(r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}"),
    "bearer token": re.compile(r"\bBearer\s+[A-Za-z0-9._~+/=-]{16,}"),
    "OpenAI organization id": re.compile(r"\borg-[A-Za-z0-9]{20,}\b"),
    "OpenAI project id": re.compile(r"\bproj_[A-Za-z0-9]{16,}\b"),
    "credential header": re.compile(
        r"^\s*['\"]?(authorization|api-key|x-api-key|openai-organization|openai-project|cookie|set-cookie)['\"]?\s*:",
        re.IGNORECASE,
    ),
    "key in a query string": re.compile(r"[?&](api[-_]?key|key|token|access_token)=[^&\s]+", re.IGNORECASE),
}


@dataclass(frozen=True)
class Finding:
    path: Path
    line: int
    kind: str
    excerpt: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind}: {self.excerpt}"


def _mask(text: str) -> str:
    """Show where a secret is without printing it again."""
    return text[:8] + "…" if len(text) > 8 else text


def scan_text(path: Path, text: str) -> Iterator[Finding]:
    for number, line in enumerate(text.splitlines(), start=1):
        for kind, pattern in PATTERNS.items():
            match = pattern.search(line)
            if match:
                yield Finding(path, number, kind, _mask(match.group(0).strip()))


def files_under(paths: Iterable[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in (".yaml", ".yml", ".json"))
        elif path.is_file():
            yield path


def scan(paths: Iterable[Path]) -> list[Finding]:
    """Every finding in the given files and folders (folders: their YAML and JSON files)."""
    findings: list[Finding] = []
    for path in files_under(paths):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        findings.extend(scan_text(path, text))
    return findings
