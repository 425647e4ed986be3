"""Jinja2 rendering for prompt templates and check arguments.

Templates render in Jinja2's sandbox (suites may come from untrusted pull
requests) with ``StrictUndefined``, so a missing variable is an error naming
the case and the variable rather than an empty string in a prompt.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

from promptdrift.core.errors import TemplateError

_ENV = ImmutableSandboxedEnvironment(
    undefined=jinja2.StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,
)


@lru_cache(maxsize=4096)
def _compile(source: str) -> jinja2.Template:
    return _ENV.from_string(source)


def render(source: str, variables: Mapping[str, Any], *, where: str, path: str | None = None) -> str:
    """Render one template string; ``where`` names the case for error messages."""
    if "{" not in source:  # the common case: nothing to render
        return source
    try:
        return _compile(source).render(**variables)
    except jinja2.UndefinedError as exc:
        known = ", ".join(sorted(variables)) or "none"
        raise TemplateError(
            f"{where}: template variable missing: {exc.message}. "
            f"Variables available: {known}. Add it to the case's vars.",
            path=path,
        ) from None
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"{where}: template syntax error: {exc.message}", path=path) from None
    except (jinja2.exceptions.SecurityError, OverflowError) as exc:  # OverflowError: the sandbox's range limit
        raise TemplateError(f"{where}: template refused by the sandbox: {exc}", path=path) from None
    except jinja2.TemplateError as exc:
        raise TemplateError(f"{where}: template error: {exc}", path=path) from None
    except RecursionError:
        raise TemplateError(
            f"{where}: template refused: it recurses too deeply (a macro that calls itself?)", path=path
        ) from None
    except TypeError as exc:
        if "no loader" not in str(exc):
            raise TemplateError(f"{where}: template error: {exc}", path=path) from None
        raise TemplateError(
            f"{where}: template refused by the sandbox: a prompt template cannot import, include or extend "
            "another template (nor read a file); put the text in the suite, or in a variable",
            path=path,
        ) from None
    except (ArithmeticError, LookupError, ValueError, AttributeError) as exc:  # raised by what the template ran
        raise TemplateError(f"{where}: template error: {type(exc).__name__}: {exc}", path=path) from None


def render_deep(value: Any, variables: Mapping[str, Any], *, where: str, path: str | None = None) -> Any:
    """Render every string inside nested lists and mappings."""
    if isinstance(value, str):
        return render(value, variables, where=where, path=path)
    if isinstance(value, Mapping):
        return {k: render_deep(v, variables, where=where, path=path) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [render_deep(v, variables, where=where, path=path) for v in value]
    return value
