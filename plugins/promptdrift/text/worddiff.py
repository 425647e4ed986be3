"""A word-level diff of two answers: what a reviewer reads side by side, deletions and insertions marked.

The texts are split into words, runs of whitespace and single punctuation marks, and
:class:`difflib.SequenceMatcher` pairs them. Very long answers are compared as their
first :data:`MOST_TOKENS` tokens each, the rest shown as one replaced tail, so the
report's cost stays linear in the number of cases.
"""

from __future__ import annotations

import difflib
import re

SAME, DELETED, INSERTED = "=", "-", "+"
MOST_TOKENS = 4000
_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")


def tokens(text: str) -> list[str]:
    """``text`` as words, whitespace runs and punctuation marks; joined again, they give ``text`` back."""
    return _TOKEN.findall(text)


def word_diff(before: str, after: str) -> list[tuple[str, str]]:
    """The two texts as runs of ``(op, text)``: ``=`` in both, ``-`` only before, ``+`` only after.

    The ``=`` and ``-`` runs join to ``before``; the ``=`` and ``+`` runs join to ``after``.
    """
    old, new = tokens(before), tokens(after)
    old_tail, new_tail = "".join(old[MOST_TOKENS:]), "".join(new[MOST_TOKENS:])
    old, new = old[:MOST_TOKENS], new[:MOST_TOKENS]
    runs: list[tuple[str, str]] = []

    def add(op: str, text: str) -> None:
        if not text:
            return
        if runs and runs[-1][0] == op:
            runs[-1] = (op, runs[-1][1] + text)
        else:
            runs.append((op, text))

    deleted: list[str] = []
    inserted: list[str] = []
    codes = difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes()
    for number, (tag, i1, i2, j1, j2) in enumerate(codes):
        between = 0 < number < len(codes) - 1 and i2 - i1 == 1 and old[i1].isspace()
        if tag == "equal" and not between:  # one space between two changes joins them: one phrase replaced
            add(DELETED, "".join(deleted))
            add(INSERTED, "".join(inserted))
            deleted, inserted = [], []
            add(SAME, "".join(old[i1:i2]))
        else:
            deleted += old[i1:i2]
            inserted += new[j1:j2]
    add(DELETED, "".join(deleted))
    add(INSERTED, "".join(inserted))
    if old_tail != new_tail:
        add(DELETED, old_tail)
        add(INSERTED, new_tail)
    else:
        add(SAME, old_tail)
    return runs


def side(runs: list[tuple[str, str]], which: str) -> str:
    """One side of a diff as text: ``before`` (``=`` and ``-`` runs) or ``after`` (``=`` and ``+``)."""
    keep = DELETED if which == "before" else INSERTED
    return "".join(text for op, text in runs if op in (SAME, keep))
