"""Record and replay: the recorder and its HTTP transport, retries, the ``openai`` client factory, API adapters."""
