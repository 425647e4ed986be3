"""What the checks of a case may use (:class:`Context`): fixture files, settings, and model calls."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from promptdrift.config import Settings
from promptdrift.core.answers import Answer
from promptdrift.core.errors import PromptdriftError
from promptdrift.record.client import Channel
from promptdrift.suite.model import Provider
from promptdrift.text.paths import resolve_in_root

if TYPE_CHECKING:
    import openai


class Files:
    """Fixture files for checks, resolved inside the repository and cached for the whole run."""

    def __init__(self, rootdir: Path) -> None:
        self.rootdir = rootdir
        self.resolve = lru_cache(maxsize=512)(self._resolve)  # type: ignore[method-assign]
        self.load_json_file = lru_cache(maxsize=512)(self._load_json_file)  # type: ignore[method-assign]

    def _resolve(self, name: str, *, what: str) -> Path:
        return resolve_in_root(self.rootdir, name, what=what)

    def _load_json_file(self, name: str, *, what: str) -> Any:
        path = self.resolve(name, what=what)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise PromptdriftError(f"{what}: not valid JSON: {exc}", path=name) from None


_FILES: dict[Path, Files] = {}


def files_for(rootdir: Path) -> Files:
    """One shared file cache per root directory."""
    files = _FILES.get(rootdir)
    if files is None:
        files = _FILES[rootdir] = Files(rootdir)
    return files


class Context:
    """What the checks of one case may use: files, settings, and the case's recorded channel."""

    def __init__(self, settings: Settings, channel: Channel | None = None) -> None:
        self.settings = settings
        self.rootdir = settings.rootdir
        self._files = files_for(settings.rootdir)
        self._channel = channel

    def resolve(self, name: str, *, what: str) -> Path:
        return self._files.resolve(name, what=what)

    def load_json_file(self, name: str, *, what: str) -> Any:
        return self._files.load_json_file(name, what=what)

    def _need_channel(self) -> Channel:
        if self._channel is None:
            raise PromptdriftError("this check calls a model, and no client is available here")
        return self._channel

    def client(self) -> openai.OpenAI:
        return self._need_channel().client()

    def chat(self, body: Mapping[str, Any], where: str, provider: str = "openai") -> Answer:
        """A chat-form request (a grader's), sent through ``provider``'s SDK (``openai`` or ``anthropic``)."""
        return self._need_channel().chat(body, where, Provider(name=provider))

    def embed(self, model: str, texts: Sequence[str], where: str) -> list[list[float]]:
        return self._need_channel().embed(model, texts, where)
