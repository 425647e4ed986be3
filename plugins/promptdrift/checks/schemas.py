"""JSON Schema validation for checks: validators cached per schema, ``$ref`` resolved to files in the repository."""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import referencing
import referencing.exceptions
import referencing.jsonschema

from promptdrift.checks.registry import CheckContext
from promptdrift.core.errors import SuiteError
from promptdrift.text.paths import resolve_in_root


def _retriever(rootdir: Path, base: Path | None) -> Any:
    """Resolve ``$ref`` to files under the repository (relative to the referring schema)."""

    @lru_cache(maxsize=256)
    def retrieve(uri: str) -> referencing.Resource[Any]:
        name = uri.removeprefix("file://")
        if base is not None and not name.startswith("/"):
            name = os.path.relpath(base / name, rootdir.resolve())
        path = resolve_in_root(rootdir, name, what=f"$ref {uri!r}")
        contents = json.loads(path.read_text(encoding="utf-8"))
        return referencing.Resource.from_contents(contents, default_specification=referencing.jsonschema.DRAFT202012)

    return retrieve


@lru_cache(maxsize=256)
def _validator_for(schema_json: str, rootdir: str, base: str | None) -> jsonschema.protocols.Validator:
    schema = json.loads(schema_json)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise SuiteError(f"invalid JSON schema: {exc.message}", path=base) from None
    registry: referencing.Registry[Any] = referencing.Registry(  # type: ignore[call-arg]
        retrieve=_retriever(Path(rootdir), Path(base) if base else None)
    )
    return cls(schema, registry=registry, format_checker=cls.FORMAT_CHECKER)  # type: ignore[call-arg]


def validator(arg: Any, ctx: CheckContext) -> jsonschema.protocols.Validator:
    """A cached validator for a schema file path or inline schema."""
    if isinstance(arg, str):
        schema = ctx.load_json_file(arg, what="schema")
        base = str(ctx.resolve(arg, what="schema").parent)
    else:
        schema, base = arg, None
    return _validator_for(json.dumps(schema, sort_keys=True), str(ctx.rootdir), base)


def schema_errors(instance: Any, arg: Any, ctx: CheckContext) -> list[str]:
    """Validation errors of ``instance`` against a schema, each with the failing location."""
    try:
        errors = sorted(validator(arg, ctx).iter_errors(instance), key=lambda e: list(e.absolute_path))
    except (referencing.exceptions.Unresolvable, jsonschema.exceptions.SchemaError) as exc:
        cause: BaseException | None = exc
        while cause is not None and not isinstance(cause, SuiteError):
            cause = cause.__cause__ or cause.__context__
        if cause is not None:
            raise cause from None
        raise SuiteError(f"schema $ref cannot be resolved: {exc}") from None
    return [f"at {e.json_path}: {e.message}" for e in errors]
