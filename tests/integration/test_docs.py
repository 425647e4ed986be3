"""The documentation: a MkDocs site that builds strictly, and a README that stays a front page."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_site_builds_strictly(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (tmp_path / "site" / "checks" / "index.html").exists()


def test_every_page_is_in_the_navigation_and_the_readme_is_a_front_page() -> None:
    nav = (REPO / "mkdocs.yml").read_text(encoding="utf-8")
    for page in sorted((REPO / "docs").glob("*.md")):
        assert f": {page.name}" in nav, page.name
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 350
    for page in sorted((REPO / "docs").glob("*.md")):
        if page.name != "index.md":
            assert f"docs/{page.name}" in readme, page.name  # the README links every page


def test_the_check_reference_is_generated_from_the_registry() -> None:
    # In a process of its own: this one's registry also holds the checks other tests registered.
    printed = subprocess.run(
        [sys.executable, "-m", "promptdrift.cli.main", "checks", "--markdown"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    page = (REPO / "docs" / "check-reference.md").read_text(encoding="utf-8")
    assert printed == page, "docs/check-reference.md is behind: promptdrift checks --markdown > docs/check-reference.md"
    assert "| `contains` |" in page and "## tone" in page
