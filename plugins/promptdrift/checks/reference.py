"""The checks reference page (``docs/check-reference.md``), generated from the check registry.

``promptdrift checks --markdown`` prints it; a test keeps the published page current, so every check,
built-in or registered by a plugin, is documented with its family, description and an example.
"""

from __future__ import annotations

from itertools import groupby

from promptdrift.checks.registry import known_checks


def reference_page() -> str:
    """The registered checks by family: name, whether it is scored, what it checks, an example."""
    checks = sorted(known_checks().values(), key=lambda d: (d.family, d.name))
    lines = [
        "# Check reference",
        "",
        "<!-- generated from the check registry by promptdrift checks --markdown: do not edit by hand -->",
        "",
        "Every registered check (a plugin's too), by family. Any check can be negated with a `not_` prefix;",
        "a scored check takes `min` / `max` bounds on its score. [Checks](checks.md) explains how to write them.",
    ]
    for family, members in groupby(checks, key=lambda d: d.family):
        lines += ["", f"## {family}", "", "| check | scored | checks | example |", "| --- | --- | --- | --- |"]
        for check in members:
            cells = [f"`{check.name}`", "yes" if check.scored else "-", check.description, f"`{check.example}`"]
            lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"
