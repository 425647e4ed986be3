"""The suite data model: frozen dataclasses built by :mod:`promptdrift.suite.reader`.

Nothing here reads files or validates input; every layer above may import these types.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from promptdrift.checks.registry import CheckSpec
from promptdrift.core.errors import SuiteError
from promptdrift.suite.gates import Gate
from promptdrift.suite.generate import Generate
from promptdrift.suite.transform import Step

API_NAMES = ("chat", "responses", "messages")  # the APIs a suite can use (each has an adapter in record.adapters)
DRIFT_VERDICTS = ("strict", "significant")
# The SDKs a suite or test can talk through, and the API each speaks unless told otherwise.
PROVIDER_APIS = {"openai": ("chat", "responses"), "anthropic": ("messages",)}

_Settings = TypeVar("_Settings", "Sampling", "AnswerHandling")


@dataclass(frozen=True)
class Provider:
    """Which SDK requests go through (``openai`` or ``anthropic``) and where: base URL, API key variable, or an
    Azure deployment."""

    name: str = "openai"
    base_url: str | None = None
    api_key_env: str | None = None
    organization_env: str | None = None
    azure_endpoint: str | None = None
    azure_deployment: str | None = None
    azure_api_version: str | None = None
    api: str | None = None  # chat or responses, for every suite using this provider

    @property
    def default_api(self) -> str:
        return self.api or PROVIDER_APIS[self.name][0]

    @property
    def anthropic(self) -> bool:
        return self.name == "anthropic"


@dataclass(frozen=True)
class Prompt:
    """The prompt template: a system message, few-shot pairs and a user template, or a messages list."""

    system: str | None = None
    few_shot: tuple[tuple[str, str], ...] = ()
    user: str | None = None
    messages: tuple[Mapping[str, Any], ...] = ()


@dataclass(frozen=True)
class Sampling:
    """How many answers a case takes and how many must pass (``samples`` / ``min_pass_rate`` / ``confidence``)."""

    samples: int | None = None
    min_pass_rate: float | None = None
    confidence: float | None = None

    def over(self, base: Sampling) -> Sampling:
        """These settings, falling back to ``base`` for what is not set here."""
        return _fallback(self, base)


@dataclass(frozen=True)
class AnswerHandling:
    """How a case's answer is post-processed and continued; set on the suite, overridable per case."""

    extract: tuple[Step, ...] | None = None
    transform: tuple[Step, ...] | None = None
    tool_results: Mapping[str, Any] | None = None  # scripted tool output by tool name
    truncation_expected: bool | None = None

    def over(self, base: AnswerHandling) -> AnswerHandling:
        """These settings, falling back to ``base`` for what is not set here."""
        return _fallback(self, base)

    @property
    def steps(self) -> tuple[Step, ...]:
        """``extract`` then the ``transform`` chain."""
        return (*(self.extract or ()), *(self.transform or ()))


def _fallback(mine: _Settings, base: _Settings) -> _Settings:
    """A dataclass of settings, each field falling back to ``base``'s where ``mine`` leaves it ``None``."""
    values = {
        f.name: getattr(mine, f.name) if getattr(mine, f.name) is not None else getattr(base, f.name)
        for f in dataclasses.fields(mine)  # type: ignore[arg-type]
    }
    return type(mine)(**values)


@dataclass(frozen=True)
class DriftRule:
    """``drift:``: how a re-recording is judged against its baseline (unset fields: the run's defaults).

    ``strict``: a check that flips from pass to fail fails its case. ``significant``:
    the suite's paired comparison decides; it fails when the pass rate or a
    quality score fell by more than ``max_drop`` at confidence ``1 - alpha``.
    """

    verdict: str | None = None
    alpha: float | None = None
    max_drop: float | None = None


@dataclass(frozen=True)
class Turn:
    """One user turn of a conversation case, with checks on the answer to it."""

    user: str | None  # None: the suite's messages list already ends with the user's message
    expect: tuple[CheckSpec, ...] = ()
    line: int | None = None


@dataclass(frozen=True)
class Document:
    """A retrieval document: its path (shown in the prompt) and text."""

    name: str
    text: str


@dataclass(frozen=True)
class Retrieval:
    """``context:``: documents rendered into the prompt, all of them or the BM25 top k for a query."""

    documents: tuple[Document, ...]
    top_k: int | None = None
    query: str | None = None  # a template, rendered with the case's variables
    separator: str = "\n\n"


@dataclass(frozen=True)
class Case:
    """One prompt case: its variables, reference and extra checks."""

    id: str
    vars: Mapping[str, Any]
    expect: tuple[CheckSpec, ...] = ()
    reference: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    line: int | None = None
    min_score: float | None = None
    sampling: Sampling = Sampling()
    turns: tuple[Turn, ...] = ()  # a conversation: each turn's user message in order
    handling: AnswerHandling = AnswerHandling()


@dataclass(frozen=True)
class Suite:
    """A parsed suite file."""

    name: str
    path: Path
    relpath: str
    model: str | None
    params: Mapping[str, Any]
    prompt: Prompt
    provider: Provider
    expect: tuple[CheckSpec, ...]
    cases: tuple[Case, ...]
    line: int | None = None
    gates: tuple[Gate, ...] = ()
    min_score: float | None = None
    sampling: Sampling = Sampling()
    variant: str | None = None  # the variant this is, of a suite with variants
    variant_index: int = 0  # its place in the suite's variants (reports keep the suite's order)
    ship: str | None = None  # the variant in production, when the suite names one
    api: str = "chat"  # chat or responses
    context: Retrieval | None = None
    handling: AnswerHandling = AnswerHandling()
    generate: Generate | None = None
    scrub_key_shapes: bool = True  # scrub key-shaped strings from cassettes (credential values always are)
    drift: DriftRule = DriftRule()
    cluster: str | None = (
        None  # a case variable (or field) naming the source cases share: standard errors cluster by it
    )

    @property
    def candidate(self) -> bool:
        """A variant being compared with the shipped one: its failures are expected, not fatal."""
        return self.variant is not None and self.ship is not None and self.variant != self.ship

    variants: tuple[Suite, ...] = ()  # a base suite's variants, each a whole suite

    @property
    def label(self) -> str:
        """``suite`` or ``suite[variant]``."""
        return f"{self.name}[{self.variant}]" if self.variant else self.name

    def case(self, case_id: str) -> Case:
        for case in self.cases:
            if case.id == case_id:
                return case
        known = ", ".join(c.id for c in self.cases)
        raise SuiteError(f"no case {case_id!r} in suite {self.name!r}; cases: {known}", path=self.relpath)
