"""``openai`` clients whose traffic goes through one recorder, and the one way a case calls a model.

:meth:`Channel.call` is the record path of every model call promptdrift makes
itself (suite cases, turns, tool rounds, graders, ``prompt.run``): the answer
is replayed straight from the cassette when it holds exactly this request;
otherwise the request goes through the ``openai`` client, whose transport
replays, records or reports drift and hands the interaction back.
"""

from __future__ import annotations

import dataclasses
import gc
import importlib
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from promptdrift.cassettes.secrets import Scrubber
from promptdrift.config import Settings
from promptdrift.core.answers import Answer
from promptdrift.core.errors import ErrorAnswer, PromptdriftError, RecordingError
from promptdrift.core.modes import RecordMode
from promptdrift.core.workarounds import enabled
from promptdrift.record.adapters import ADAPTERS, Adapter, answer, short
from promptdrift.record.recorder import REFUSED_WHY, Recorder
from promptdrift.record.retry import ACCOUNT_STATUSES, RetryPolicy
from promptdrift.suite.model import Provider

if TYPE_CHECKING:
    import httpx2
    import openai

    from promptdrift.record.transport import CassetteTransport

# Sent only when no key is set; replay never lets a request leave the process.
REPLAY_KEY = "promptdrift-replay-no-key"


def load_sdk(sdk: str = "openai") -> None:
    """Import an SDK (``openai`` or ``anthropic``, and ``httpx2``) once, before the first request that needs it.

    The SDK builds thousands of classes as it is imported, and they live as
    long as the process. The first import runs with the cyclic garbage
    collector paused, then moves every object alive at that point out of its
    reach (``gc.freeze``): later collections, pytest's own at the end of the
    run included, no longer walk them. Reference counting still frees them as
    usual; only cycles already made by then wait for the process to end. It
    saves about 0.5 s of CPU in a 200-case recording (see ``benchmarks/``).
    """
    if sys.modules.get(sdk) is not None:
        return
    try:
        if not enabled("GC_FREEZE"):  # docs/workarounds.md
            importlib.import_module(sdk)
            return
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            importlib.import_module(sdk)  # slow, on purpose: this is where the SDK (and httpx2) is loaded
        finally:
            if was_enabled:
                gc.enable()
    except ModuleNotFoundError as exc:
        if exc.name != sdk:
            raise
        raise PromptdriftError(
            f"provider {sdk} needs the {sdk} SDK, which is not installed: pip install 'promptdrift[{sdk}]'"
        ) from None
    gc.freeze()


def cassette_transport(
    settings: Settings, provider: Provider, recorder: Recorder, upstream: Callable[[], Any] | None = None
) -> CassetteTransport:
    """The transport that replays from, or records into, ``recorder`` for ``provider``'s requests.

    The SDK's own retries are off: the transport applies promptdrift's retry
    policy while recording, and a replay miss fails at once. ``upstream``:
    where recorded requests go (the process's connection pool unless a batch
    lane is given, see :mod:`promptdrift.record.batch`).
    """
    # slow: httpx2 and the transport; a replay that reads every answer from the cassette never loads them
    from promptdrift.record.transport import CassetteTransport
    from promptdrift.record.upstream import shared_upstream

    if settings.api_key(provider) is None and recorder.mode is not RecordMode.NONE:
        variable = settings.key_variable(provider)
        recorder.api_key_missing = (
            f"{variable} is not set, and recording {recorder.display} needs an API key. "
            f"Set {variable} (or provider.api_key_env), or replay with --prompt-record=none."
        )
    policy = RetryPolicy(
        settings.max_retries,
        settings.retry_backoff,
        settings.retry_max_wait,
        settings.deadline,
        int(settings.max_mb * 1024 * 1024),
    )
    return CassetteTransport(recorder, upstream or shared_upstream, policy)


def make_client(
    settings: Settings, provider: Provider, transport: CassetteTransport, *, asynchronous: bool = False
) -> openai.OpenAI | openai.AsyncOpenAI:
    """An ``OpenAI`` (or ``AzureOpenAI``; ``Async…`` with ``asynchronous``) client of its own on ``transport``.

    Code-first tests are handed these (``prompt.client``): whatever thread or
    task they call from, the client records into its test's cassette.
    """
    import httpx2  # slow: only once a client is built

    from promptdrift.record.transport import AsyncCassetteTransport

    http_client: httpx2.Client | httpx2.AsyncClient
    if asynchronous:
        http_client = httpx2.AsyncClient(transport=AsyncCassetteTransport(transport), timeout=settings.timeout)
    else:
        http_client = httpx2.Client(transport=transport, timeout=settings.timeout)
    # The SDK's own retries are off: the transport retries while recording (promptdrift.record.retry).
    return provider_client(settings, provider, http_client=http_client, max_retries=0)  # type: ignore[no-any-return]


_SHARED_CLIENTS: dict[tuple[Any, ...], Any] = {}
_SHARED_LOCK = threading.Lock()
_SHARED_MAX = 32  # distinct endpoints and keys kept at once (a test process may run many demo servers)


def shared_client(settings: Settings, provider: Provider) -> openai.OpenAI:
    """The process's one ``OpenAI`` client per endpoint and key, for :meth:`Channel.call`.

    Its transport hands each request to the cassette transport of the call in
    progress (:data:`~promptdrift.record.transport.CURRENT`), so ten thousand
    cases make one client rather than one each (building an ``openai`` client
    parses its URLs and headers: about a tenth of a recorded call's own CPU).
    """
    import httpx2  # slow: only once a request goes through the SDK

    from promptdrift.record.transport import ContextTransport

    identity = (provider.name, *client_options(settings, provider, max_retries=0).items())  # what it is made of
    with _SHARED_LOCK:
        client = _SHARED_CLIENTS.get(identity)
        if client is None:
            http_client = httpx2.Client(transport=ContextTransport(), timeout=settings.timeout)
            client = provider_client(settings, provider, http_client=http_client, max_retries=0)
            if len(_SHARED_CLIENTS) >= _SHARED_MAX:
                _SHARED_CLIENTS.pop(next(iter(_SHARED_CLIENTS)))
            _SHARED_CLIENTS[identity] = client
    return client  # type: ignore[no-any-return]


def provider_client(
    settings: Settings,
    provider: Provider,
    *,
    http_client: httpx2.Client | httpx2.AsyncClient | None = None,
    max_retries: int = 2,
) -> Any:
    """A client of ``provider``: ``openai``'s ``OpenAI`` or ``AzureOpenAI``, or ``anthropic``'s ``Anthropic``
    (``Async…`` for an async ``http_client``).

    With no ``http_client`` it talks to the provider directly, with the SDK's
    own retries: the Files and Batches calls of :mod:`promptdrift.record.batch`.
    """
    load_sdk(provider.name)
    # slow: httpx2 and the SDK (about a second), only once a request goes through the SDK
    import httpx2

    asynchronous = isinstance(http_client, httpx2.AsyncClient)
    options = client_options(settings, provider, max_retries=max_retries)
    if http_client is not None:
        options["http_client"] = http_client
    if provider.anthropic:
        import anthropic  # optional: the anthropic extra, loaded by load_sdk above

        return (anthropic.AsyncAnthropic if asynchronous else anthropic.Anthropic)(**options)
    import openai  # slow: loaded by load_sdk above

    if provider.azure_endpoint:
        return (openai.AsyncAzureOpenAI if asynchronous else openai.AzureOpenAI)(**options)
    return (openai.AsyncOpenAI if asynchronous else openai.OpenAI)(**options)


def client_options(settings: Settings, provider: Provider, *, max_retries: int) -> dict[str, Any]:
    """The arguments a client of ``provider`` is made with (endpoint, key, organization, timeout)."""
    options: dict[str, Any] = {
        "api_key": settings.api_key(provider) or REPLAY_KEY,
        "max_retries": max_retries,
        "timeout": settings.timeout,
    }
    if not provider.anthropic:
        options["organization"] = settings.environ.get(provider.organization_env) if provider.organization_env else None
    if provider.azure_endpoint:
        options["azure_endpoint"] = provider.azure_endpoint
        options["azure_deployment"] = provider.azure_deployment
        options["api_version"] = provider.azure_api_version or "2024-10-21"
    else:
        options["base_url"] = settings.resolved_base_url(provider)
    return options


class Lane(Protocol):
    """Where one channel's recorded requests go instead of the connection pool (promptdrift.record.batch)."""

    def ask(self, path: str, body: Mapping[str, Any]) -> httpx2.Request | None:
        """Before the SDK sends ``body``: raise :class:`~promptdrift.core.errors.Deferred` if it is to wait;
        return a request to hand the transport instead of the SDK's, when the lane can build it (an answer
        that has arrived, to a request the SDK already built one like)."""

    def learn(self, path: str, body: Mapping[str, Any], request: httpx2.Request) -> None:
        """The request the SDK built for ``body`` (for :meth:`ask`)."""

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        """The upstream answer to a request the recorder did not replay."""


# A channel's lane to a provider (the batch lanes under --prompt-batch); without one, the connection pool.
Route = Callable[[Recorder, Provider], Lane]


def open_channel(
    settings: Settings, path: Path, target: str, *, key_shapes: bool = True, route: Route | None = None
) -> Channel:
    """A channel on the cassette at ``path``; ``target`` is what to pass pytest to record it.

    Secrets are scrubbed from everything it writes: the values of credential
    variables (the API key variable in use, each provider's once it is used,
    and any ``*KEY*``/``*TOKEN*``/``*SECRET*`` variable) and, unless
    ``key_shapes`` is off, strings shaped like keys. ``route``: where recorded
    requests go (a batch's lanes under ``--prompt-batch``).
    """
    try:
        display = path.relative_to(settings.rootdir).as_posix()
    except ValueError:
        display = str(path)
    scrubber = Scrubber(dict(settings.credentials), shapes=key_shapes)
    recorder = Recorder(
        path,
        settings.record,
        display=display,
        target=target,
        scrubber=scrubber,
        strict=settings.strict_cassettes,
        root=settings.cassettes,
        max_mb=settings.max_mb,
    )
    return Channel(settings, recorder, route)


class Channel:
    """One cassette's :class:`Recorder` and the ``openai`` clients that talk through it.

    Clients are made on first use, one per provider: a replay that finds every
    answer directly in the cassette never builds one.
    """

    def __init__(self, settings: Settings, recorder: Recorder, route: Route | None = None) -> None:
        self.settings = settings
        self.recorder = recorder
        self.route = route
        self._lanes: dict[Provider, Lane] = {}
        self._clients: dict[tuple[Provider, bool], Any] = {}
        self._transports: dict[Provider, CassetteTransport] = {}

    def client(self, provider: Provider | None = None) -> openai.OpenAI:
        return self._client(provider or Provider(), False)  # type: ignore[no-any-return]

    def async_client(self, provider: Provider | None = None) -> openai.AsyncOpenAI:
        """An ``AsyncOpenAI`` client on the same recorder (code-first async tests)."""
        return self._client(provider or Provider(), True)  # type: ignore[no-any-return]

    def _know(self, provider: Provider | None) -> None:
        """A provider's own credentials are secrets of this cassette from its first use."""
        if provider is not None:
            for variable in (self.settings.key_variable(provider), provider.organization_env):
                if variable:
                    self.recorder.scrubber.know(self.settings.environ.get(variable), variable)

    def _client(self, provider: Provider, asynchronous: bool) -> Any:
        self._know(provider)
        key = (provider, asynchronous)
        if key not in self._clients:
            self._clients[key] = make_client(
                self.settings, provider, self._transport(provider), asynchronous=asynchronous
            )
        return self._clients[key]

    def _transport(self, provider: Provider) -> CassetteTransport:
        """The one transport of this channel to ``provider``: its own clients' and :meth:`call`'s."""
        if provider not in self._transports:
            lane = self._lane(provider)
            upstream = (lambda: lane) if lane is not None else None
            self._transports[provider] = cassette_transport(self.settings, provider, self.recorder, upstream)
        return self._transports[provider]

    def _lane(self, provider: Provider) -> Lane | None:
        if self.route is None:
            return None
        if provider not in self._lanes:
            self._lanes[provider] = self.route(self.recorder, provider)
        return self._lanes[provider]

    def call(self, adapter: Adapter, body: Mapping[str, Any], where: str, provider: Provider | None = None) -> Answer:
        """One model call through this channel's recorder; SDK errors become promptdrift errors."""
        self._know(provider)
        interaction = self.recorder.find("POST", adapter.path, body)
        if interaction is None:
            to = provider or Provider()
            lane = self._lane(to) if self.recorder.recording else None
            # A call waiting for a batch stops here, before any client is built; one a batch answered may
            # come back with its request built (nothing is sent: no need for the SDK to build it again).
            request = lane.ask(adapter.path, body) if lane is not None else None
            # slow: httpx2 and the transport, only when a request goes through the SDK
            import httpx2

            from promptdrift.record.transport import INTERACTION

            if request is not None:
                response = self._transport(to).handle_request(request)
            else:
                with self._sdk(to, where) as client:
                    # The client's own POST: its base URL, Azure routing, auth, headers and timeout, with the
                    # body sent exactly as the suite built it (no per-parameter transform; a third of the CPU
                    # of a call). The transport has the whole answer, streamed or not, before this returns.
                    response = client.post(adapter.path, body=dict(body), cast_to=httpx2.Response)
            interaction = response.extensions[INTERACTION]
            if request is None and lane is not None and (interaction.meta or {}).get("batch"):
                lane.learn(adapter.path, body, response.request)  # built for an answer from a batch: reusable
        return dataclasses.replace(
            answer(adapter, interaction),
            requested_model=body.get("model"),
            latency_ms=interaction.latency_ms,
            batch=(interaction.meta or {}).get("batch"),
        )

    def chat(self, body: Mapping[str, Any], where: str, provider: Provider | None = None) -> Answer:
        """One call of a request in chat-completions form (graders, ``prompt.run(messages=...)``), in the form of
        ``provider``'s API (Anthropic's Messages API for an Anthropic grader)."""
        adapter = ADAPTERS[(provider or Provider()).default_api]
        if adapter is not ADAPTERS["chat"]:
            params = {k: v for k, v in body.items() if k not in ("model", "messages")}
            body = adapter.body(body["model"], body["messages"], params)
        return self.call(adapter, body, where, provider)

    def embed(self, model: str, texts: Sequence[str], where: str) -> list[list[float]]:
        """Embedding vectors of ``texts``, in order, through the SDK's embeddings endpoint (recorded like any call)."""
        with self._sdk(Provider(), where) as client:
            response = client.embeddings.create(model=model, input=list(texts))
        return [list(item.embedding) for item in sorted(response.data, key=lambda d: d.index)]

    @contextmanager
    def _sdk(self, provider: Provider, where: str) -> Iterator[openai.OpenAI]:
        """The process's shared client of ``provider``, its requests going to this channel's transport meanwhile
        (SDK errors become promptdrift errors)."""
        from promptdrift.record.transport import CURRENT  # slow: httpx2, only once a request goes through the SDK

        through = CURRENT.set(self._transport(provider))
        try:
            with sdk_errors(where, self.recorder, provider.name):
                yield shared_client(self.settings, provider)
        finally:
            CURRENT.reset(through)


@contextmanager
def sdk_errors(where: str, recorder: Recorder, sdk: str = "openai") -> Iterator[None]:
    """Turn the SDK's errors (``openai``'s or ``anthropic``'s: the same classes) into promptdrift errors that say
    what happened and what to do (secrets scrubbed)."""
    load_sdk(sdk)  # slow to import: only reached when a request goes through the SDK
    api = sys.modules[sdk]

    from promptdrift.record.transport import INTERACTION  # slow: httpx2, only once a request went through the SDK

    scrubber = recorder.scrubber
    try:
        yield
    except api.APIStatusError as exc:
        said = f"{where}: the model endpoint answered HTTP {exc.status_code} ({short(scrubber.text(exc.message))})"
        if exc.response.extensions.get(INTERACTION) is not None:  # recorded now, or replayed: the same words
            raise ErrorAnswer(
                f"{said}. This answer is recorded in {recorder.display}, so replay fails the same way; "
                f"fix the request (prompt, model or params) and re-record: {recorder.rerecord_hint}",
                said=said,
            ) from None
        if exc.status_code in ACCOUNT_STATUSES:
            raise RecordingError(
                f"{said}. Not recorded: {REFUSED_WHY}. Fix the key or the account, then re-run to record what is "
                f"missing: {recorder.record_hint}"
            ) from None
        raise RecordingError(
            f"{said}. Nothing was recorded for this case; fix the cause and re-run to record what is missing: "
            f"{recorder.record_hint}"
        ) from None
    except api.APIConnectionError as exc:
        if isinstance(exc.__cause__, PromptdriftError):
            raise exc.__cause__ from None
        raise RecordingError(
            f"{where}: could not reach the model endpoint ({type(exc).__name__}: {short(scrubber.text(str(exc)))}). "
            "Nothing was recorded for this case; check the base URL and network, then re-run."
        ) from None
