"""``openai`` clients whose traffic goes through one recorder."""

from __future__ import annotations

import httpx2
import openai

from .config import Settings
from .recorder import CassetteTransport, Recorder, RecordMode, shared_upstream
from .suite import Provider

# Sent only when no key is set; replay never lets a request leave the process.
REPLAY_KEY = "promptdrift-replay-no-key"


def make_client(settings: Settings, provider: Provider, recorder: Recorder) -> openai.OpenAI:
    """An ``OpenAI`` (or ``AzureOpenAI``) client recording into / replaying from ``recorder``.

    While only replaying, the SDK's retries are off so that a miss fails at once.
    """
    key = settings.api_key(provider)
    if key is None and recorder.mode is not RecordMode.NONE:
        variable = provider.api_key_env or settings.api_key_env
        recorder.api_key_missing = (
            f"{variable} is not set, and recording {recorder.display} needs an API key. "
            f"Set {variable} (or provider.api_key_env), or replay with --prompt-record=none."
        )
    transport = CassetteTransport(recorder, shared_upstream)
    http_client = httpx2.Client(transport=transport, timeout=settings.timeout)
    retries = 0 if recorder.mode is RecordMode.NONE else settings.max_retries
    organization = settings.environ.get(provider.organization_env) if provider.organization_env else None
    if provider.azure_endpoint:
        return openai.AzureOpenAI(
            api_key=key or REPLAY_KEY,
            azure_endpoint=provider.azure_endpoint,
            azure_deployment=provider.azure_deployment,
            api_version=provider.azure_api_version or "2024-10-21",
            organization=organization,
            http_client=http_client,
            max_retries=retries,
            timeout=settings.timeout,
        )
    return openai.OpenAI(
        api_key=key or REPLAY_KEY,
        base_url=settings.resolved_base_url(provider),
        organization=organization,
        http_client=http_client,
        max_retries=retries,
        timeout=settings.timeout,
    )
