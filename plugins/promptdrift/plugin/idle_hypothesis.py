"""Spare a run Hypothesis's end-of-run import when Hypothesis had no part in it.

Hypothesis's pytest plugin (``hypothesispytest``) imports the whole of
Hypothesis in its terminal summary, used or not: 0.3 s of every run
(``benchmarks/upstream/hypothesis-terminal-summary.md``, the report for
upstream). promptdrift depends on Hypothesis, so every project that installs
promptdrift has that plugin. When its summary provably has nothing to say, it
is unregistered before the summary, and the import never happens.

Nothing to say: Hypothesis was never imported in this process (the plugin
imports it as soon as a test uses it), its statistics were not asked for (it
prints them only then), and no test report (an xdist worker's included) carries
a failing example for it to turn into a patch. A version of the plugin without
the names this relies on is left as it is. Drop this module once the upstream
fix is released.
"""

from __future__ import annotations

import sys

import pytest

from promptdrift.core.workarounds import enabled

PLUGIN = "hypothesispytest"


def skip_idle_summary(config: pytest.Config) -> None:
    """Unregister Hypothesis's pytest plugin if its terminal summary would only import Hypothesis."""
    if not enabled("IDLE_HYPOTHESIS"):  # docs/workarounds.md
        return
    plugin = config.pluginmanager.get_plugin(PLUGIN)
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if plugin is None or reporter is None or "hypothesis" in sys.modules:
        return
    failing = getattr(plugin, "FAILING_EXAMPLES_KEY", None)
    option = getattr(plugin, "PRINT_STATISTICS_OPTION", None)
    if failing is None or option is None:
        return
    try:
        if config.getoption(option):
            return
    except ValueError:  # not an option of this version
        return
    if any(failing in getattr(report, "__dict__", {}) for reports in reporter.stats.values() for report in reports):
        return
    config.pluginmanager.unregister(plugin)
