"""Exploring a suite's ``generate:`` block with Hypothesis while recording (declared in :mod:`promptdrift.suite.generate`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from promptdrift.core.errors import PromptdriftError
from promptdrift.suite.generate import Generate, strategy


class _Failed(Exception):
    """A generated example that did not satisfy the suite's checks (Hypothesis shrinks on it)."""

    def __init__(self, index: int) -> None:
        super().__init__(f"example {index + 1} failed")
        self.index = index


def explore(spec: Generate, passes: Callable[[dict[str, Any]], bool]) -> tuple[list[dict[str, Any]], int | None]:
    """Let Hypothesis explore ``spec``; ``passes(vars)`` runs (and records) one example.

    Returns the distinct examples in the order they ran, and the index of the
    falsifying one (Hypothesis's shrunk example) or ``None``. An example that
    repeats is not run again: the model is called once per distinct input, and
    a non-deterministic answer cannot make Hypothesis report a flaky test.
    A promptdrift error (a recording that failed, a template error) stops the
    exploration and is raised as it is.
    """
    # slow: replay never imports Hypothesis, only exploring while recording does
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as with_seed
    from hypothesis import strategies as st

    examples: list[dict[str, Any]] = []
    verdicts: list[bool] = []
    seen: dict[str, int] = {}
    stopped: list[PromptdriftError] = []

    def attempt(drawn: dict[str, Any]) -> None:
        if stopped:
            raise stopped[0]
        values = {name: drawn[name] for name, _, _ in spec.vars}  # in declared order: cassettes read well
        key = json.dumps(values, sort_keys=True, default=str)
        if key not in seen:
            try:
                verdict = passes(values)
            except PromptdriftError as exc:
                stopped.append(exc)
                raise
            seen[key] = len(examples)
            examples.append(values)
            verdicts.append(verdict)
        if not verdicts[seen[key]]:
            raise _Failed(seen[key])

    phases = [Phase.explicit, Phase.generate, *([Phase.shrink] if spec.shrink else [])]
    test = given(st.fixed_dictionaries({name: strategy(kind, arg) for name, kind, arg in spec.vars}))(attempt)
    test = settings(
        max_examples=spec.max_examples,
        database=None,
        deadline=None,
        derandomize=spec.seed is None,
        phases=phases,
        suppress_health_check=list(HealthCheck),
        print_blob=False,
        report_multiple_bugs=False,
    )(test)
    if spec.seed is not None:
        test = with_seed(spec.seed)(test)
    try:
        test()
    except _Failed as exc:
        return examples, exc.index
    except Exception:
        if stopped:
            raise stopped[0] from None
        raise
    return examples, None


def hypothesis_version() -> str:
    import hypothesis  # slow: only after exploring

    return str(hypothesis.__version__)
