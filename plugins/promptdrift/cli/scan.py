"""``promptdrift scan``: find key-shaped strings and credential headers in cassettes before they are committed."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from promptdrift.cassettes.secrets import find_secrets, secret_variables


@dataclass(frozen=True)
class Finding:
    path: Path
    line: int
    kind: str
    excerpt: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.kind}: {self.excerpt}"


def _mask(text: str) -> str:
    """Show where a secret is without printing it again: its first few characters (fewer than 8) and length."""
    return f"{text[:5]}… ({len(text)} characters)"


def scan_text(path: Path, text: str, known: Mapping[str, str] | None = None) -> Iterator[Finding]:
    """Each line's first secret of each kind (the shapes of :mod:`promptdrift.cassettes.secrets`), and the
    values of credential variables (``known``: ``{value: variable}``) whatever their shape."""
    for number, line in enumerate(text.splitlines(), start=1):
        for value, variable in (known or {}).items():
            if value in line:
                yield Finding(path, number, f"the value of ${variable}", _mask(value))
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


def scan(paths: Iterable[Path], environ: Mapping[str, str] | None = None) -> list[Finding]:
    """Every finding in the given files and folders (folders: their YAML and JSON files); ``environ``: whose
    credential variables' values are searched for too (this process's environment by default)."""
    known = secret_variables(os.environ if environ is None else environ, ["OPENAI_API_KEY"])
    findings: list[Finding] = []
    for path in files_under(paths):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        findings.extend(scan_text(path, text, known))
    return findings
