"""Error types promptdrift raises.

Every error a user can cause (a malformed suite, a missing cassette, a prompt
that drifted) is a :class:`PromptdriftError`: the plugin shows its message as
the failure, without a traceback. Messages name the file, the line where one is
known, and the next step.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


class PromptdriftError(Exception):
    """Base class: a problem the user can fix, reported without a traceback."""

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None) -> None:
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        super().__init__(self.__str__())

    @property
    def where(self) -> str:
        if self.path is None:
            return ""
        return f"{self.path}:{self.line}" if self.line else self.path

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class SuiteError(PromptdriftError):
    """A suite file (or a file it refers to) is malformed."""


class TemplateError(SuiteError):
    """A template failed to render, e.g. a variable is missing."""


class CassetteError(PromptdriftError):
    """A cassette file cannot be read or is in an unknown format."""


class MissingCassetteError(PromptdriftError):
    """Replay was asked for but there is no recording."""


class DriftError(PromptdriftError):
    """The request differs from the recorded one: the prompt changed since it was recorded."""

    def __init__(self, message: str, *, diff: str, path: str | Path | None = None) -> None:
        self.diff = diff
        super().__init__(message, path=path)


class RecordingError(PromptdriftError):
    """The model endpoint failed while recording; nothing was written."""


class ErrorAnswer(PromptdriftError):
    """The model endpoint answered an error that the cassette holds (400, 404, 422...): recorded, or replayed.

    Raised alike when recording and when replaying, with the endpoint's own message (``said``), so a
    case fails the same way offline as it did online.
    """

    def __init__(self, message: str, *, said: str) -> None:
        self.said = said
        super().__init__(message)


class RecordingGapWarning(UserWarning):
    """A recording run left out something its test needs (an answer about the key, a call that failed)."""


class Halted(RecordingError):
    """Not called: this run stopped calling the model (a cassette could not be written, or Ctrl-C)."""


class ConfigError(PromptdriftError):
    """Configuration (options, ini, pyproject, provider) is invalid."""


class Deferred(PromptdriftError):
    """A call whose answer is not known yet: it waits in a provider batch (``--prompt-batch``).

    Not a failure: the run collects every deferred call into the next batch
    round and runs the case again once the answers have arrived (see
    :mod:`promptdrift.record.batch`).
    """


def gather_deferred(calls: Iterable[Callable[[], T]]) -> list[T]:
    """Each call's result, in order; a deferred call does not stop the others.

    Calls that do not depend on each other (the samples of a case, the checks
    of an answer) all join the same batch round this way: when any was
    deferred, the first :class:`Deferred` is raised after all have run.
    """
    results: list[T] = []
    deferred: Deferred | None = None
    for call in calls:
        try:
            results.append(call())
        except Deferred as exc:
            deferred = deferred or exc
    if deferred is not None:
        raise deferred
    return results
