"""``promptdrift scan``: find key-shaped strings and credential headers in cassettes before they are committed."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from promptdrift.cassettes.secrets import find_secrets


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
    """Each line's first secret of each kind (the shapes of :mod:`promptdrift.cassettes.secrets`)."""
    for number, line in enumerate(text.splitlines(), start=1):
        seen: set[str] = set()
        for shape, match in find_secrets(line):
            if shape.kind not in seen:
                seen.add(shape.kind)
                yield Finding(path, number, shape.title, _mask(match.group(0).strip()))


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
