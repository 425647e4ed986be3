"""Applying ``extract:`` and the ``transform:`` steps to an answer (declared in :mod:`promptdrift.suite.transform`).

A step that cannot apply (no marker, no match, no JSON) raises :class:`StepFailed`
with the reason; the case then fails with it and the checks see the raw answer.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import re
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from types import ModuleType

from promptdrift.suite.transform import Step

FENCED = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\n?(.*?)```", re.DOTALL)


class StepFailed(Exception):
    """A step that does not apply to this answer (the reason is shown on the case)."""


def apply(steps: Sequence[Step], text: str, rootdir: Path) -> str:
    """Run the steps in order; :class:`StepFailed` says which step did not apply and why."""
    for step in steps:
        try:
            text = _apply(step, text, rootdir)
        except StepFailed as exc:
            raise StepFailed(f"{step.label}: {exc}") from None
    return text


def _apply(step: Step, text: str, rootdir: Path) -> str:
    name, arg = step.name, step.arg
    if name == "strip":
        return text.strip()
    if name == "lowercase":
        return text.lower()
    if name == "last_line":
        lines = [line for line in text.splitlines() if line.strip()]
        if not lines:
            raise StepFailed("the answer is empty")
        return lines[-1].strip()
    if name == "after":
        at = text.rfind(arg)
        if at < 0:
            raise StepFailed(f"no {arg!r} in the answer")
        return text[at + len(arg) :].strip()
    if name == "regex":
        match = re.search(arg, text, re.DOTALL)
        if match is None:
            raise StepFailed("no match in the answer")
        return match.group(1) if match.re.groups else match.group(0)
    if name == "json":
        fenced = FENCED.search(text)
        candidate = (fenced.group(1) if fenced else text).strip()
        try:
            json.loads(candidate)
        except ValueError as exc:
            raise StepFailed(f"not JSON ({exc})") from None
        return candidate
    if name == "json_path":
        return _json_path(arg, text)
    return _function(arg, rootdir)(text)


def _json_path(expression: str, text: str) -> str:
    from jsonpath_ng import parse as parse_jsonpath  # slow: builds its parser on import

    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise StepFailed(f"the answer is not JSON ({exc})") from None
    found = [m.value for m in parse_jsonpath(expression).find(doc)]
    if not found:
        raise StepFailed("no value at that path")
    value = found[0]
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _function(ref: str, rootdir: Path) -> Callable[[str], str]:
    """The function ``module:name`` from a module file of this repository (``a.b`` is ``a/b.py``).

    The file is loaded from the repository itself, never through ``sys.path``: a
    suite (perhaps from a pull request) names code to run on model output, so
    library code such as ``os:system`` is out of reach, and another checkout's
    module of the same name is never picked up.
    """
    module_name, _, attr = ref.partition(":")
    root = rootdir.resolve()
    base = root.joinpath(*module_name.split("."))
    path = next((p for p in (base.with_suffix(".py"), base / "__init__.py") if p.is_file()), None)
    if path is None or not path.resolve().is_relative_to(root):
        shown = base.relative_to(root).as_posix()
        raise StepFailed(f"cannot use {ref!r}: no module {shown}.py in the repository; put the function there")
    try:
        func = getattr(_module(path.resolve()), attr)
    except AttributeError:
        raise StepFailed(f"cannot use {ref!r}: {path.relative_to(root).as_posix()} has no {attr!r}") from None

    def call(text: str) -> str:
        try:
            out = func(text)
        except Exception as exc:
            raise StepFailed(f"{ref} raised {type(exc).__name__}: {exc}") from None
        if not isinstance(out, str):
            raise StepFailed(f"{ref} returned {type(out).__name__}, not text")
        return out

    return call


@lru_cache(maxsize=64)
def _module(path: Path) -> ModuleType:
    """A user module loaded from its file, once per run (named after its path, so two never clash)."""
    name = "promptdrift_user_" + hashlib.sha256(str(path).encode()).hexdigest()[:12]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise StepFailed(f"importing {path.name} failed: {type(exc).__name__}: {exc}") from None
    return module
