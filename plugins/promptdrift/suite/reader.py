"""Prompt suites: reading a YAML suite file into frozen specs.

Which YAML files are suites: a ``.yaml``/``.yml`` file whose top level has a
``suite:`` key (on a line of its own, at column 0). Workflow files, fixtures
and cassettes never have one, so they are never collected.
"""

from __future__ import annotations

import csv
import dataclasses
import difflib
import io
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from promptdrift.cassettes.naming import safe_name
from promptdrift.checks import CheckSpec, parse_check
from promptdrift.core.errors import SuiteError
from promptdrift.suite.gates import parse_gates
from promptdrift.suite.generate import Generate, parse_generate
from promptdrift.suite.model import (
    API_NAMES,
    DRIFT_VERDICTS,
    PROVIDER_APIS,
    AnswerHandling,
    Case,
    Document,
    DriftRule,
    Prompt,
    Provider,
    Retrieval,
    Sampling,
    Suite,
    Turn,
)
from promptdrift.suite.transform import EXTRACT_STEPS, parse_steps
from promptdrift.text.paths import read_text, resolve_in_root
from promptdrift.text.yamlio import LineDict, line_of, line_of_key, load_file, loads

SUITE_KEYS = {
    "suite": "unique id of the suite; cassettes go to cassettes/<suite>/",
    "description": "free text",
    "model": "default model name",
    "params": "API parameters (temperature, max_tokens, seed, ...)",
    "prompt": "system / few_shot / user template, or a messages list",
    "response_format": "structured output: {schema: path} or the raw OpenAI form",
    "tools": "tool definitions: a list or a file",
    "tool_choice": "OpenAI tool_choice",
    "stream": "true to request a streamed answer",
    "provider": "base_url / api_key_env / azure settings",
    "expect": "checks applied to every case",
    "cases": "inline list of cases, or a CSV / JSONL / YAML file",
    "gate": "suite-level gates: pass_rate, mean of a check's score, label accuracy",
    "min_score": "pass a case on its weighted share of passed checks instead of all-must-pass",
    "variants": "named variants of the prompt (model, params, prompt parts...); every case runs once per variant",
    "ship": "the variant in production: its failures fail the run; other variants' failures are reported as xfail",
    "samples": "answers recorded per case (non-deterministic outputs); the case passes on its pass rate",
    "min_pass_rate": "with samples: the share of samples that must pass (default 1.0)",
    "confidence": "with samples: judge the Wilson lower bound of the pass rate at this confidence (e.g. 0.95)",
    "api": "chat (chat completions, the default) or responses (the Responses API)",
    "context": "retrieval: {documents: file or glob(s), top_k, query}; rendered into the prompt as {{ context }}",
    "extract": "where the final answer is in a reasoned answer: {after: ...}, {regex: ...}, {json_path: ...}, last_line",
    "transform": "post-processing before the checks: strip, lowercase, regex, json, json_path, last_line, function",
    "tool_results": "scripted results of tool calls, by tool name; fed back for a follow-up answer",
    "truncation": "expected: an answer cut off by the token limit is not a failure (default: it fails)",
    "generate": "generated cases: Hypothesis strategies per variable, checked by the suite's expect",
    "drift": "{verdict: strict | significant, alpha: 0.05, max_drop: 0.02}: how a re-recording is judged",
    "cluster": "a case variable (or case field) naming the source cases share; error bars are clustered by it",
    "scrub": "{key_shapes: false}: keep key-shaped strings that are not secrets (credential values are always scrubbed)",
}
HANDLING_KEYS = {"extract", "transform", "tool_results", "truncation"}  # suite-wide, overridable per case
CASE_KEYS = {
    "turns",
    *HANDLING_KEYS,
    "id",
    "vars",
    "expect",
    "reference",
    "params",
    "description",
    "min_score",
    "samples",
    "min_pass_rate",
    "confidence",
}
# What a variant may override; prompt and params merge key by key, the rest replace.
VARIANT_KEYS = {
    "description",
    "model",
    "params",
    "prompt",
    "provider",
    "response_format",
    "tools",
    "tool_choice",
    "stream",
    "expect",
    "min_score",
    "samples",
    "min_pass_rate",
    "confidence",
    "api",
    "context",
    *HANDLING_KEYS,
}
PROMPT_KEYS = {"system", "few_shot", "user", "messages"}
PROVIDER_KEYS = {"name", "base_url", "api_key_env", "azure", "organization_env", "api"}
CONTEXT_KEYS = {"documents", "top_k", "query", "separator"}
TURN_KEYS = {"user", "expect"}
AZURE_KEYS = {"endpoint", "deployment", "api_version"}
PARAM_KEYS = frozenset(
    {
        "temperature",
        "top_p",
        "max_tokens",
        "max_completion_tokens",
        "seed",
        "stop",
        "presence_penalty",
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "top_logprobs",
        "n",
        "response_format",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "stream",
        "stream_options",
        "reasoning_effort",
        "verbosity",
        "service_tier",
        "modalities",
        "prediction",
        "store",
        "metadata",
        "user",
    }
)
CASE_ID = re.compile(r"^[^\s\[\]:/\\]{1,120}$")


class _Reader:
    """Validates one suite file's raw data, keeping the path for every error."""

    def __init__(self, path: str, rootdir: Path) -> None:
        self.path = path
        self.rootdir = rootdir

    def fail(self, message: str, node: Any = None, line: int | None = None) -> SuiteError:
        return SuiteError(message, path=self.path, line=line_of(node) or line)

    def mapping(
        self, value: Any, what: str, allowed: set[str] | None = None, line: int | None = None
    ) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(f"{what} must be a mapping, got {type(value).__name__}", value, line)
        if allowed is not None:
            unknown = [k for k in value if k not in allowed]
            if unknown:
                key = unknown[0]
                close = difflib.get_close_matches(str(key), sorted(allowed), n=1, cutoff=0.6)
                hint = f"did you mean {close[0]!r}? " if close else ""
                raise self.fail(
                    f"{what}: unknown key {key!r}; {hint}valid keys: {', '.join(sorted(allowed))}",
                    None,
                    line_of_key(value, key) or line_of(value) or line,
                )
        return value

    def text(self, value: Any, what: str, node: Any = None) -> str:
        if not isinstance(value, str):
            raise self.fail(f"{what} must be text, got {value!r}", node)
        return value

    def file(self, name: Any, what: str, node: Any = None) -> Path:
        return resolve_in_root(self.rootdir, name, what=what, suite=self.path, line=line_of(node))

    def data_file(self, name: Any, what: str, node: Any = None) -> Any:
        path = self.file(name, what, node)
        shown = str(name)
        if path.suffix == ".json":
            try:
                return json.loads(path.read_text(encoding="utf-8"))
            except (ValueError, OSError) as exc:
                raise SuiteError(f"{what}: cannot read JSON: {exc}", path=shown) from None
        return load_file(path, display=shown)

    # -- parts -----------------------------------------------------------------

    def checks(self, value: Any, what: str, line: int | None) -> tuple[CheckSpec, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self.fail(f"{what} must be a list of checks", value, line)
        base = line_of(value) or line
        return tuple(parse_check(item, path=self.path, default_line=base) for item in value)

    def params(self, raw: Mapping[str, Any], line: int | None) -> dict[str, Any]:
        params = dict(self.mapping(raw.get("params") or {}, "params", line=line))
        unknown = [k for k in params if k not in PARAM_KEYS and k != "extra_body"]
        if unknown:
            raise self.fail(
                f"params: unknown API parameter {unknown[0]!r}; known: {', '.join(sorted(PARAM_KEYS))}"
                " (pass anything else under params.extra_body)",
                raw.get("params"),
                line,
            )
        for key in ("response_format", "tools", "tool_choice", "stream"):
            if key in raw and raw[key] is not None:
                params[key] = raw[key]
        if "response_format" in params:
            params["response_format"] = self.response_format(params["response_format"])
        if "tools" in params:
            params["tools"] = self.tools(params["tools"])
        return params

    def response_format(self, value: Any) -> Any:
        fmt = self.mapping(value, "response_format")
        if "schema" not in fmt:
            return dict(fmt)  # the raw OpenAI form passes through
        schema = fmt["schema"]
        if isinstance(schema, str):
            name = Path(schema).stem
            schema = self.data_file(schema, "response_format.schema", value)
        else:
            name = "response"
        return {
            "type": "json_schema",
            "json_schema": {
                "name": re.sub(r"[^A-Za-z0-9_-]", "_", str(fmt.get("name", name)))[:64],
                "schema": schema,
                "strict": bool(fmt.get("strict", False)),
            },
        }

    def tools(self, value: Any) -> list[dict[str, Any]]:
        node = value
        if isinstance(value, str):
            value = self.data_file(value, "tools", node)
        if not isinstance(value, list):
            raise self.fail("tools must be a list of {name, description, parameters} or a file with one", node)
        out = []
        for tool in value:
            tool = self.mapping(tool, "tool")
            if tool.get("type") == "function" and "function" in tool:
                out.append(dict(tool))  # already in the OpenAI form
                continue
            fn: dict[str, Any] = {"name": self.text(tool.get("name"), "tool name", tool)}
            if "description" in tool:
                fn["description"] = tool["description"]
            fn["parameters"] = tool.get("parameters") or {"type": "object", "properties": {}}
            out.append({"type": "function", "function": fn})
        return out

    def prompt(self, value: Any, line: int | None, *, user_required: bool = True) -> Prompt:
        raw = self.mapping(value, "prompt", PROMPT_KEYS, line)
        if "messages" in raw:
            if any(k in raw for k in ("system", "few_shot", "user")):
                raise self.fail("prompt: give either messages or system/few_shot/user, not both", raw)
            messages = raw["messages"]
            if not isinstance(messages, list) or not messages:
                raise self.fail("prompt.messages must be a non-empty list of {role, content}", raw)
            for msg in messages:
                self.mapping(msg, "prompt.messages entry")
                if "role" not in msg:
                    raise self.fail("each message needs a role", msg)
            return Prompt(messages=tuple(dict(m) for m in messages))
        if not raw.get("user") and user_required:
            raise self.fail("prompt.user (the user message template) is required, unless every case has turns", raw)
        return Prompt(
            system=self.text(raw["system"], "prompt.system", raw) if raw.get("system") is not None else None,
            few_shot=self.few_shot(raw.get("few_shot"), raw),
            user=self.text(raw["user"], "prompt.user", raw) if raw.get("user") else None,
        )

    def few_shot(self, value: Any, node: Any) -> tuple[tuple[str, str], ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            value = self.data_file(value, "prompt.few_shot", node)
        if not isinstance(value, list):
            raise self.fail("few_shot must be a list of {user, assistant} pairs or a file with one", node)
        pairs = []
        for pair in value:
            pair = self.mapping(pair, "few_shot example", {"user", "assistant"})
            pairs.append(
                (
                    self.text(pair.get("user"), "few_shot user", pair),
                    self.text(pair.get("assistant"), "few_shot assistant", pair),
                )
            )
        return tuple(pairs)

    def provider(self, value: Any) -> Provider:
        """``provider: anthropic`` or ``provider: {name, base_url, api_key_env, organization_env, api, azure}``."""
        if value is None:
            return Provider()
        raw = {"name": value} if isinstance(value, str) else self.mapping(value, "provider", PROVIDER_KEYS)
        name = raw.get("name", "openai")
        if name not in PROVIDER_APIS:
            close = difflib.get_close_matches(str(name), sorted(PROVIDER_APIS), n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise self.fail(
                f"provider: unknown provider {name!r}; {hint}known: {', '.join(PROVIDER_APIS)}",
                line=line_of_key(raw, "name") if isinstance(value, Mapping) else None,
            )
        azure = self.mapping(raw.get("azure") or {}, "provider.azure", AZURE_KEYS)
        if name != "openai" and (azure or raw.get("organization_env")):
            key = "azure" if azure else "organization_env"
            raise self.fail(f"provider.{key} is for OpenAI; {name} has none", line=line_of_key(raw, key))
        return Provider(
            name=name,
            base_url=raw.get("base_url"),
            api_key_env=raw.get("api_key_env"),
            organization_env=raw.get("organization_env"),
            azure_endpoint=azure.get("endpoint"),
            azure_deployment=azure.get("deployment"),
            azure_api_version=azure.get("api_version"),
            api=self.api(raw, name),
        )

    def api(self, raw: Mapping[str, Any], provider: str = "openai") -> str | None:
        value = raw.get("api")
        if value is not None and value not in API_NAMES:
            raise self.fail(f"api must be one of {', '.join(API_NAMES)}, got {value!r}", line=line_of_key(raw, "api"))
        if value is not None and value not in PROVIDER_APIS[provider]:
            raise self.fail(
                f"api: {value} is not an API of provider {provider} (it speaks {', '.join(PROVIDER_APIS[provider])})",
                line=line_of_key(raw, "api"),
            )
        return value

    def drift(self, value: Any, line: int | None) -> DriftRule:
        """``drift: {verdict, alpha, max_drop}``."""
        if value is None:
            return DriftRule()
        example = "drift: {verdict: significant, alpha: 0.05, max_drop: 0.02}"
        if not isinstance(value, Mapping) or not set(value) <= {"verdict", "alpha", "max_drop"}:
            raise self.fail(f"drift takes verdict, alpha and max_drop, got {value!r}. Example: {example}", line=line)
        verdict = value.get("verdict")
        if verdict is not None and verdict not in DRIFT_VERDICTS:
            raise self.fail(f"drift verdict must be one of {', '.join(DRIFT_VERDICTS)}, got {verdict!r}", line=line)
        bounds = {"alpha": (0.0, 0.5), "max_drop": (0.0, 1.0)}
        numbers: dict[str, float | None] = {}
        for key, (low, high) in bounds.items():
            number = value.get(key)
            if number is not None and (
                isinstance(number, bool) or not isinstance(number, int | float) or not low <= number < high
            ):
                raise self.fail(f"drift {key} must be a number in [{low}, {high}), got {number!r}", line=line)
            numbers[key] = None if number is None else float(number)
        return DriftRule(verdict, numbers["alpha"], numbers["max_drop"])

    def cluster(self, value: Any, line: int | None) -> str | None:
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise self.fail(f"cluster names a case variable (such as 'document'), got {value!r}", line=line)
        return value

    def scrub_key_shapes(self, value: Any, line: int | None) -> bool:
        """``scrub: {key_shapes: false}``: whether key-shaped strings are scrubbed from this suite's cassettes."""
        if value is None:
            return True
        if not isinstance(value, Mapping) or set(value) != {"key_shapes"} or not isinstance(value["key_shapes"], bool):
            raise self.fail(f"scrub must be {{key_shapes: true}} or {{key_shapes: false}}, got {value!r}", line=line)
        return bool(value["key_shapes"])

    def generate(self, value: Any, line: int | None) -> Generate | None:
        return None if value is None else parse_generate(value, path=self.path, rootdir=self.rootdir, line=line)

    def handling(self, raw: Mapping[str, Any], line: int | None) -> AnswerHandling:
        extract = transform = tool_results = truncation = None

        def at(key: str) -> int | None:
            return line_of_key(raw, key) or line

        if raw.get("extract") is not None:
            extract = parse_steps(
                raw["extract"], key="extract", path=self.path, line=at("extract"), allowed=EXTRACT_STEPS
            )
            if len(extract) != 1:
                raise self.fail(
                    "extract is one step, e.g. {after: 'Answer:'}; chain more under transform:", line=at("extract")
                )
        if raw.get("transform") is not None:
            transform = parse_steps(raw["transform"], key="transform", path=self.path, line=at("transform"))
        if raw.get("tool_results") is not None:
            tool_results = dict(
                self.mapping(raw["tool_results"], "tool_results (tool name: result)", line=at("tool_results"))
            )
        if raw.get("truncation") is not None:
            if raw["truncation"] not in ("expected", "fail"):
                raise self.fail(
                    f"truncation must be 'expected' or 'fail', got {raw['truncation']!r}", line=at("truncation")
                )
            truncation = raw["truncation"] == "expected"
        return AnswerHandling(extract, transform, tool_results, truncation)

    def turns(self, value: Any, case_id: str, line: int | None) -> tuple[Turn, ...]:
        if value is None:
            return ()
        if not isinstance(value, list) or not value:
            raise self.fail(f"case {case_id!r}: turns must be a non-empty list of {{user, expect}}", value, line)
        turns = []
        for number, item in enumerate(value, 1):
            item = self.mapping(item, f"case {case_id!r} turn {number}", TURN_KEYS, line)
            user = self.text(item.get("user"), f"case {case_id!r} turn {number}: user", item)
            turns.append(Turn(user, self.checks(item.get("expect"), "expect", line_of(item) or line), line_of(item)))
        return tuple(turns)

    def context(self, value: Any, line: int | None) -> Retrieval | None:
        if value is None:
            return None
        if isinstance(value, str | list):
            value = {"documents": value}
        raw = self.mapping(value, "context", CONTEXT_KEYS, line)
        patterns = raw.get("documents")
        if isinstance(patterns, str):
            patterns = [patterns]
        if not isinstance(patterns, list) or not patterns:
            raise self.fail("context.documents: give a file, a glob (fixtures/policies/*.md) or a list", raw, line)
        documents = []
        for pattern in patterns:
            for path in self.glob(pattern, raw):
                text = read_text(path, what="context.documents", suite=self.path, line=line_of(raw))
                documents.append(Document(path.relative_to(self.rootdir.resolve()).as_posix(), text.strip()))
        top_k = raw.get("top_k")
        if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1):
            raise self.fail(f"context.top_k must be a whole number of at least 1, got {top_k!r}", raw, line)
        query = raw.get("query")
        if top_k is not None and not isinstance(query, str):
            raise self.fail(
                "context.top_k needs a query template to rank documents by, e.g. query: '{{ question }}'", raw, line
            )
        separator = raw.get("separator", "\n\n")
        return Retrieval(tuple(documents), top_k, query, self.text(separator, "context.separator", raw))

    def glob(self, pattern: Any, node: Any) -> list[Path]:
        """Files matching a glob inside the repository, sorted; a plain path must exist."""
        if not isinstance(pattern, str) or not any(ch in pattern for ch in "*?["):
            return [self.file(pattern, "context.documents", node)]
        root = self.rootdir.resolve()
        if Path(pattern).is_absolute() or ".." in Path(pattern).parts:
            raise self.fail(
                f"context.documents: {pattern!r} must stay inside the repository (no '..', not absolute)", node
            )
        found = sorted(p.resolve() for p in root.glob(pattern) if p.is_file())
        found = [p for p in found if p.is_relative_to(root)]
        if not found:
            raise self.fail(f"context.documents: no file matches {pattern!r} (globs resolve from {root})", node)
        return found

    def cases(self, value: Any, line: int | None) -> tuple[Case, ...]:
        node = value
        if isinstance(value, str):
            value = self.case_table(value, node)
        if not isinstance(value, list) or not value:
            raise self.fail("cases must be a non-empty list, or a path to a CSV / JSONL / YAML file", node, line)
        cases: list[Case] = []
        seen: dict[str, int | None] = {}
        files: dict[str, Case] = {}  # cassette file name, as a case-insensitive file system sees it
        for index, raw in enumerate(value, start=1):
            case = self.case(raw, index)
            if case.id in seen:
                raise self.fail(f"duplicate case id {case.id!r} (first at line {seen[case.id]})", raw, case.line)
            seen[case.id] = case.line
            other = files.setdefault(safe_name(case.id).casefold(), case)
            if other is not case:
                raise self.fail(
                    f"case ids {other.id!r} (line {other.line}) and {case.id!r} would share one cassette file "
                    f"({safe_name(case.id)}.yaml on a case-insensitive disk): rename one",
                    raw,
                    case.line,
                )
            cases.append(case)
        return tuple(cases)

    def case(self, raw: Any, index: int) -> Case:
        raw = self.mapping(raw, f"case #{index}", CASE_KEYS)
        line = line_of(raw)
        case_id = str(raw.get("id", f"case-{index}"))
        if not CASE_ID.match(case_id):
            raise self.fail(f"case id {case_id!r}: use 1-120 characters without spaces, brackets, ':' or '/'", raw)
        variables = dict(self.mapping(raw.get("vars") or {}, f"case {case_id!r} vars", line=line))
        reference = raw.get("reference")
        if reference is not None:
            reference = str(reference)
            variables.setdefault("reference", reference)
        params = dict(self.mapping(raw.get("params") or {}, f"case {case_id!r} params", line=line))
        unknown = [k for k in params if k not in PARAM_KEYS]
        if unknown:
            raise self.fail(f"case {case_id!r}: unknown API parameter {unknown[0]!r}", raw)
        checks = self.checks(raw.get("expect"), "expect", line)
        return Case(
            case_id,
            variables,
            checks,
            reference,
            params,
            line,
            self.min_score(raw, line),
            self.sampling(raw, line),
            self.turns(raw.get("turns"), case_id, line),
            self.handling(raw, line),
        )

    def fraction(self, raw: Mapping[str, Any], key: str, line: int | None, *, low_open: bool = False) -> float | None:
        value = raw.get(key)
        if value is None:
            return None
        bad = isinstance(value, bool) or not isinstance(value, int | float)
        if bad or not (0 < value < 1 if low_open else 0 <= value <= 1):
            span = "between 0 and 1 (e.g. 0.95)" if low_open else "from 0 to 1"
            raise self.fail(f"{key} must be a number {span}, got {value!r}", raw, line)
        return float(value)

    def min_score(self, raw: Mapping[str, Any], line: int | None) -> float | None:
        return self.fraction(raw, "min_score", line)

    def sampling(self, raw: Mapping[str, Any], line: int | None) -> Sampling:
        samples = raw.get("samples")
        if samples is not None and (
            isinstance(samples, bool) or not isinstance(samples, int) or not 1 <= samples <= 1000
        ):
            raise self.fail(f"samples must be a whole number from 1 to 1000, got {samples!r}", raw, line)
        return Sampling(
            samples, self.fraction(raw, "min_pass_rate", line), self.fraction(raw, "confidence", line, low_open=True)
        )

    def case_table(self, name: str, node: Any) -> list[Any]:
        path = self.file(name, "cases", node)
        text = read_text(path, what="cases", suite=self.path, line=line_of(node))
        suffix = path.suffix.lower()
        if suffix == ".csv":
            rows = []
            for row in csv.DictReader(io.StringIO(text)):
                row = {k: v for k, v in row.items() if k is not None}
                case: dict[str, Any] = {"vars": {}}
                for key, val in row.items():
                    if key in ("id", "reference"):
                        case[key] = val
                    else:
                        case["vars"][key] = val
                rows.append(LineDict(case))
            return rows
        if suffix == ".jsonl":
            rows = []
            for number, line in enumerate(text.splitlines(), start=1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except ValueError as exc:
                    raise SuiteError(f"invalid JSON line: {exc}", path=name, line=number) from None
                if not isinstance(obj, dict):
                    raise SuiteError("each JSONL line must be an object", path=name, line=number)
                if "vars" not in obj:  # a flat row: everything but id/reference is a variable
                    obj = {
                        "vars": {k: v for k, v in obj.items() if k not in ("id", "reference")},
                        **{k: obj[k] for k in ("id", "reference") if k in obj},
                    }
                row = LineDict(obj)
                rows.append(row)
            return rows
        if suffix in (".yaml", ".yml"):
            data = loads(text, path=name)
            if not isinstance(data, list):
                raise SuiteError("a YAML case table must be a list of cases", path=name)
            return data
        raise self.fail(f"cases file {name!r}: use .csv, .jsonl, .yaml or .yml", node)


def load_suite(path: Path, rootdir: Path) -> Suite:
    """Read and validate a suite file; every problem is a :class:`SuiteError` naming the file and line."""
    try:
        relpath = path.resolve().relative_to(rootdir.resolve()).as_posix()
    except ValueError:
        relpath = str(path)
    reader = _Reader(relpath, rootdir)
    raw = load_file(path, display=relpath)
    if not isinstance(raw, Mapping):
        raise SuiteError("a suite must be a YAML mapping with suite, prompt and cases", path=relpath)
    reader.mapping(raw, "suite", set(SUITE_KEYS))
    name = raw.get("suite")
    if not isinstance(name, str) or not CASE_ID.match(name):
        raise reader.fail("suite: give the suite a unique id without spaces, e.g. 'suite: support-reply'", raw)
    if "prompt" not in raw:
        raise reader.fail("prompt is required (system / few_shot / user, or messages)", raw)
    if "cases" not in raw and "generate" not in raw:
        raise reader.fail("cases is required (an inline list or a CSV / JSONL / YAML file), or generate:", raw)
    line = line_of(raw)
    cases = reader.cases(raw["cases"], line) if "cases" in raw else ()
    base = _suite(reader, raw, name, path, relpath, line, cases, None)
    if raw.get("variants") is None:
        if raw.get("ship") is not None:
            raise reader.fail("ship: names a variant, and this suite has no variants", raw)
        return base
    variants = reader.mapping(raw["variants"], "variants", line=line)
    if not variants:
        raise reader.fail("variants: give at least one named variant", raw)
    ship = raw.get("ship")
    if ship is not None and ship not in variants:
        raise reader.fail(f"ship: {ship!r} is not one of the variants ({', '.join(map(str, variants))})", raw)
    built = []
    for index, (variant, override) in enumerate(variants.items()):
        if not isinstance(variant, str) or not CASE_ID.match(variant):
            raise reader.fail(f"variant name {variant!r}: use 1-120 characters without spaces or brackets", variants)
        override = reader.mapping(override if override is not None else {}, f"variant {variant!r}", VARIANT_KEYS)
        merged = _merge_variant(raw, override)
        suite = _suite(reader, merged, name, path, relpath, line_of(override) or line, base.cases, variant)
        built.append(dataclasses.replace(suite, variant_index=index, ship=ship))
    return dataclasses.replace(base, variants=tuple(built))


def _merge_variant(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """The suite's raw data with a variant's overrides: ``prompt`` and ``params`` key by key, the rest replaced."""
    merged = {k: v for k, v in base.items() if k != "variants"}
    for key, value in override.items():
        if key == "prompt" and isinstance(value, Mapping) and isinstance(base.get("prompt"), Mapping):
            prompt = dict(base["prompt"])
            if "messages" in value:  # a messages list replaces system / few_shot / user, and back
                prompt = {k: v for k, v in prompt.items() if k not in ("system", "few_shot", "user")}
            elif any(k in value for k in ("system", "few_shot", "user")):
                prompt.pop("messages", None)
            prompt.update(value)
            merged["prompt"] = LineDict(prompt)
            merged["prompt"].line = line_of(value)
        elif key == "params" and isinstance(value, Mapping) and isinstance(base.get("params"), Mapping):
            merged["params"] = LineDict({**base["params"], **value})
            merged["params"].line = line_of(value)
        else:
            merged[key] = value
    return merged


def _suite(
    reader: _Reader,
    raw: Mapping[str, Any],
    name: str,
    path: Path,
    relpath: str,
    line: int | None,
    cases: tuple[Case, ...],
    variant: str | None,
) -> Suite:
    model = raw.get("model")
    if model is not None and not isinstance(model, str):
        raise reader.fail(f"model must be a model name, got {model!r}", raw, line)
    provider = reader.provider(raw.get("provider"))
    return Suite(
        name=name,
        path=path,
        relpath=relpath,
        model=model,
        params=reader.params(raw, line),
        prompt=reader.prompt(raw["prompt"], line, user_required=not (cases and all(case.turns for case in cases))),
        provider=provider,
        expect=reader.checks(raw.get("expect"), "expect", line),
        cases=cases,
        line=line,
        gates=parse_gates(raw.get("gate"), relpath, line),
        min_score=reader.min_score(raw, line),
        sampling=reader.sampling(raw, line),
        variant=variant,
        api=reader.api(raw, provider.name) or provider.default_api,
        context=reader.context(raw.get("context"), line),
        handling=reader.handling(raw, line),
        generate=reader.generate(raw.get("generate"), line_of_key(raw, "generate") or line),
        scrub_key_shapes=reader.scrub_key_shapes(raw.get("scrub"), line_of_key(raw, "scrub") or line),
        drift=reader.drift(raw.get("drift"), line_of_key(raw, "drift") or line),
        cluster=reader.cluster(raw.get("cluster"), line_of_key(raw, "cluster") or line),
    )


def same_suite_id(suite: Suite, seen: dict[str, Path], root: Path) -> SuiteError | None:
    """The error for a suite whose id an earlier file already declared (``seen``: id -> file, updated here).

    Two files with one id would write to one cassette folder and replay each other's answers.
    """
    first = seen.setdefault(suite.name, suite.path)
    if first == suite.path:
        return None
    shown = first.relative_to(root).as_posix() if first.is_relative_to(root) else str(first)
    return SuiteError(
        f"suite id {suite.name!r} is already the id of {shown}: both would record into "
        f"cassettes/{safe_name(suite.name)}/ and replay each other's answers. Give each suite its own id",
        path=suite.relpath,
        line=suite.line,
    )
