"""The global or borrowed mechanisms promptdrift uses, each with the environment variable that turns it off.

Every entry is described in ``docs/workarounds.md``: why it is there, what it saves (measured), and when it
can go. ``PROMPTDRIFT_NO_<NAME>=1`` turns one off, for a process that must not have it (or to measure it).
"""

from __future__ import annotations

import os

WORKAROUNDS = {
    "GC_FREEZE": "gc.freeze() after the openai SDK is imported (its classes leave the cyclic collector's reach)",
    "IDLE_HYPOTHESIS": "unregister Hypothesis's pytest plugin when its summary would only import Hypothesis",
    "KEEPALIVE_DEMO": "the demo server's keep-alive HTTP/1.1 server instead of werkzeug's (pytest-httpserver's)",
    "SIGINT_HALT": "a SIGINT handler that stops new model requests at once while recording",
    "MOVED_MODULES": "a meta-path finder that imports the module names renamed in 0.2 under their old names",
}


def enabled(name: str) -> bool:
    """Whether a workaround is on: it is, unless ``PROMPTDRIFT_NO_<NAME>`` is set to something other than 0."""
    assert name in WORKAROUNDS, name
    return os.environ.get(f"PROMPTDRIFT_NO_{name}", "") in ("", "0")
