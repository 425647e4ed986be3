"""``openai`` clients whose traffic goes through one recorder."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx2

from .config import Settings
from .recorder import AsyncCassetteTransport, CassetteTransport, Recorder, RecordMode, shared_upstream
from .retry import RetryPolicy
from .suite import Provider

if TYPE_CHECKING:
    import openai

# Sent only when no key is set; replay never lets a request leave the process.
REPLAY_KEY = "promptdrift-replay-no-key"


def make_client(
    settings: Settings, provider: Provider, recorder: Recorder, *, asynchronous: bool = False
) -> openai.OpenAI | openai.AsyncOpenAI:
    """An ``OpenAI`` (or ``AzureOpenAI``; ``Async…`` with ``asynchronous``) client recording into ``recorder``.

    The SDK's own retries are off: the transport applies promptdrift's retry
    policy while recording, and a replay miss fails at once.
    ``openai`` is imported here, on first use: a replay that reads every answer
    straight from its cassette never pays for importing the SDK.
    """
    import openai

    key = settings.api_key(provider)
    if key is None and recorder.mode is not RecordMode.NONE:
        variable = provider.api_key_env or settings.api_key_env
        recorder.api_key_missing = (
            f"{variable} is not set, and recording {recorder.display} needs an API key. "
            f"Set {variable} (or provider.api_key_env), or replay with --prompt-record=none."
        )
    policy = RetryPolicy(settings.max_retries, settings.retry_backoff, settings.retry_max_wait)
    transport = CassetteTransport(recorder, shared_upstream, policy)
    http_client: httpx2.Client | httpx2.AsyncClient
    if asynchronous:
        http_client = httpx2.AsyncClient(transport=AsyncCassetteTransport(transport), timeout=settings.timeout)
    else:
        http_client = httpx2.Client(transport=transport, timeout=settings.timeout)
    organization = settings.environ.get(provider.organization_env) if provider.organization_env else None
    if provider.azure_endpoint:
        azure = openai.AsyncAzureOpenAI if asynchronous else openai.AzureOpenAI
        return azure(  # type: ignore[no-any-return]
            api_key=key or REPLAY_KEY,
            azure_endpoint=provider.azure_endpoint,
            azure_deployment=provider.azure_deployment,
            api_version=provider.azure_api_version or "2024-10-21",
            organization=organization,
            http_client=http_client,  # type: ignore[arg-type]
            max_retries=0,  # the transport retries while recording (promptdrift.retry)
            timeout=settings.timeout,
        )
    plain = openai.AsyncOpenAI if asynchronous else openai.OpenAI
    return plain(  # type: ignore[no-any-return]
        api_key=key or REPLAY_KEY,
        base_url=settings.resolved_base_url(provider),
        organization=organization,
        http_client=http_client,  # type: ignore[arg-type]
        max_retries=0,  # the transport retries while recording (promptdrift.retry)
        timeout=settings.timeout,
    )


class Channel:
    """One cassette's :class:`Recorder` and the ``openai`` clients that talk through it.

    Clients are made on first use, one per provider: a replay that finds every
    answer directly in the cassette never builds one.
    """

    def __init__(self, settings: Settings, recorder: Recorder) -> None:
        self.settings = settings
        self.recorder = recorder
        self._clients: dict[tuple[Provider, bool], Any] = {}

    def client(self, provider: Provider | None = None) -> openai.OpenAI:
        return self._client(provider or Provider(), False)  # type: ignore[no-any-return]

    def async_client(self, provider: Provider | None = None) -> openai.AsyncOpenAI:
        """An ``AsyncOpenAI`` client on the same recorder (code-first async tests)."""
        return self._client(provider or Provider(), True)  # type: ignore[no-any-return]

    def _client(self, provider: Provider, asynchronous: bool) -> Any:
        key = (provider, asynchronous)
        if key not in self._clients:
            self._clients[key] = make_client(self.settings, provider, self.recorder, asynchronous=asynchronous)
        return self._clients[key]
