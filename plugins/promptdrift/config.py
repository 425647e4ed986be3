"""Run settings: command line, pytest ini, ``[tool.promptdrift]``, in that order of precedence.

Every option is ``--prompt-<name>`` on the command line, ``promptdrift_<name>``
in the pytest ini (``[tool.pytest.ini_options]``, ``pytest.ini``...) and
``<name>`` in ``[tool.promptdrift]`` of the root ``pyproject.toml``. The first
one that is set wins; then the built-in default.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from promptdrift.cassettes.secrets import Scrubber
from promptdrift.core.errors import ConfigError
from promptdrift.core.modes import RecordMode

if TYPE_CHECKING:
    from promptdrift.suite.model import Provider


@dataclass(frozen=True)
class Option:
    """One setting: its name (``record`` gives ``--prompt-record`` / ``promptdrift_record``)."""

    name: str
    help: str
    default: Any = None
    choices: tuple[str, ...] | None = None
    kind: type = str
    multiple: bool = False  # repeatable flag; ini and pyproject take a list
    metavar: str | None = None  # what --help shows for the value (argparse's upper-cased dest otherwise)
    public: str | None = None  # the flag, ini and pyproject name when it differs from the setting's name
    old: str | None = None  # a former public name, still accepted for one release with a warning

    @property
    def key(self) -> str:
        """The name in flags, ini keys and ``[tool.promptdrift]``."""
        return self.public or self.name

    @property
    def flag(self) -> str:
        return "--prompt-" + self.key.replace("_", "-")

    @property
    def dest(self) -> str:
        return "promptdrift_" + self.name

    @property
    def ini(self) -> str:
        return "promptdrift_" + self.key

    @property
    def described(self) -> str:
        """The help text, with the default where there is one."""
        if self.default is None or self.default is False or "default" in self.help:
            return self.help
        return f"{self.help} (default: {self.default})"


OPTIONS = (
    Option(
        "record",
        "record mode: none (replay only, default), new (record missing cassettes), "
        "changed (also re-record requests that changed), all (re-record everything)",
        "none",
        tuple(m.value for m in RecordMode),
    ),
    Option("model", "run every suite against this model instead of the suite's own", metavar="NAME"),
    Option("cassette_dir", "folder for cassettes, relative to the root directory", "cassettes", metavar="DIR"),
    Option(
        "base_url",
        "OpenAI-compatible endpoint (beats OPENAI_BASE_URL, loses to a suite's provider block)",
        metavar="URL",
    ),
    Option("api_key_env", "environment variable that holds the API key", "OPENAI_API_KEY", metavar="VARIABLE"),
    Option(
        "timeout",
        "seconds a recording call waits for the next bytes of its answer",
        60.0,
        kind=float,
        metavar="SECONDS",
    ),
    Option(
        "max_mb",
        "the largest answer recorded and cassette read, in megabytes (default 64): anything larger fails "
        "with a clear error instead of filling the memory",
        64.0,
        kind=float,
        metavar="MB",
    ),
    Option(
        "deadline",
        "seconds a model call may take in all while recording, its answer streamed to the end (default 600): "
        "--prompt-timeout bounds each wait for the next bytes, this the whole call",
        600.0,
        kind=float,
        metavar="SECONDS",
    ),
    Option(
        "max_retries",
        "retries of a failed model call while recording: 408, 409, 429 and 5xx statuses, timeouts, dropped "
        "connections, cut-off streams and unreadable answers (0 while replaying)",
        3,
        kind=int,
        metavar="N",
    ),
    Option(
        "retry_backoff",
        "seconds before the first retry; doubled each retry, with jitter. A Retry-After header wins",
        1.0,
        kind=float,
        metavar="SECONDS",
    ),
    Option(
        "retry_max_wait",
        "longest wait before one retry, in seconds (also caps Retry-After)",
        60.0,
        kind=float,
        metavar="SECONDS",
    ),
    Option("concurrency", "cases recorded at the same time in one pytest process", 8, kind=int, metavar="N"),
    Option("variant", "run only this variant of suites with variants (repeatable)", multiple=True, metavar="NAME"),
    Option("samples", "answers per case, overriding every suite's and case's samples", kind=int, metavar="N"),
    Option(
        "tolerance",
        "how far a quality score may fall against the baseline before it is a regression",
        0.05,
        kind=float,
        metavar="FALL",
    ),
    Option(
        "report",
        "write the drift report to PATH: .md, .html or .json by extension (repeatable)",
        multiple=True,
        metavar="PATH",
    ),
    Option(
        "drift_verdict",
        "how a re-recording is judged against its baseline, for suites without drift: verdict: strict (each "
        "flipped check fails its case, default) or significant (the suite's paired comparison decides)",
        choices=("strict", "significant"),
    ),
    Option("drift_alpha", "significance level of the paired comparisons (default 0.05)", kind=float, metavar="ALPHA"),
    Option(
        "drift_max_drop",
        "with the significant verdict: the pass-rate or score fall (0-1) that fails, at that confidence (default 0.02)",
        kind=float,
        metavar="FALL",
    ),
    Option(
        "records",
        "keep this run's case and gate records in DIR (one folder per shard, with the run's identity) "
        "for promptdrift merge (default: a temporary folder)",
        metavar="DIR",
        public="records_dir",
        old="records",
    ),
    Option(
        "shard",
        "this run is shard I of N (I/N): it runs every Nth test and names its records so; "
        "with pytest-split its --group and --splits are used instead (default: 1/1)",
        metavar="I/N",
    ),
    Option(
        "strict_cassettes",
        "fail cases whose cassette was edited by hand since it was recorded (its digest does not match)",
        False,
        kind=bool,
    ),
    Option(
        "batch",
        "send the calls that need recording through the provider's Batch API (about half the price; with "
        "--prompt-record=new|changed|all); streamed calls, generate: blocks and code-first tests stay live",
        False,
        kind=bool,
    ),
    Option(
        "batch_poll", "seconds between checks on a pending batch (--prompt-batch)", 30.0, kind=float, metavar="SECONDS"
    ),
    Option("judge_model", "model that grades judge, factuality and tone-rubric checks", "gpt-4o-mini", metavar="NAME"),
    Option("embedding_model", "embedding model of the similar check", "text-embedding-3-small", metavar="NAME"),
)


@dataclass(frozen=True)
class Settings:
    """The resolved settings for one pytest run."""

    rootdir: Path
    record: RecordMode = RecordMode.NONE
    model: str | None = None
    cassette_dir: str = "cassettes"
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    timeout: float = 60.0
    deadline: float = 600.0
    max_mb: float = 64.0
    max_retries: int = 3
    retry_backoff: float = 1.0
    retry_max_wait: float = 60.0
    concurrency: int = 8
    variant: tuple[str, ...] = ()
    samples: int | None = None
    tolerance: float = 0.05
    judge_model: str = "gpt-4o-mini"
    embedding_model: str = "text-embedding-3-small"
    # USD per million tokens, per model: {"gpt-4o-mini": {"input": 0.15, "output": 0.6}}
    prices: dict[str, dict[str, float]] = field(default_factory=dict)
    report: tuple[str, ...] = ()
    strict_cassettes: bool = False
    batch: bool = False  # --prompt-batch
    batch_poll: float = 30.0
    records: str | None = None  # --prompt-records DIR
    shard: str | None = None  # --prompt-shard I/N
    drift_verdict: str | None = None  # unset: a suite's drift: block, else strict
    drift_alpha: float | None = None
    drift_max_drop: float | None = None
    environ: dict[str, str] = field(default_factory=lambda: dict(os.environ), repr=False)

    @property
    def cassettes(self) -> Path:
        return self.rootdir / self.cassette_dir

    @cached_property
    def credentials(self) -> dict[str, str]:
        """``{value: "$VARIABLE"}`` of the credential variables scrubbed from every cassette (worked out once)."""
        return Scrubber.for_environ(self.environ, [self.api_key_env]).known

    def key_variable(self, provider: Provider) -> str:
        """The variable that holds ``provider``'s API key (Anthropic's: ``ANTHROPIC_API_KEY``, as its SDK reads)."""
        if provider.api_key_env:
            return provider.api_key_env
        return "ANTHROPIC_API_KEY" if provider.anthropic else self.api_key_env

    def api_key(self, provider: Provider) -> str | None:
        return self.environ.get(self.key_variable(provider)) or None

    def resolved_base_url(self, provider: Provider) -> str | None:
        """``provider``'s endpoint: its own ``base_url``, else (OpenAI) ``--prompt-base-url`` or ``OPENAI_BASE_URL``,
        (Anthropic) ``ANTHROPIC_BASE_URL``."""
        if provider.anthropic:
            return provider.base_url or self.environ.get("ANTHROPIC_BASE_URL") or None
        return provider.base_url or self.base_url or self.environ.get("OPENAI_BASE_URL") or None


def add_options(parser: pytest.Parser) -> None:
    """Register every option as a ``--prompt-*`` flag and a ``promptdrift_*`` ini key."""
    group = parser.getgroup("promptdrift", "prompt regression testing (promptdrift)")
    for opt in OPTIONS:
        flags = [opt.flag]
        if opt.old:  # still accepted, with a warning (see from_config)
            flags.append("--prompt-" + opt.old.replace("_", "-"))
            parser.addini("promptdrift_" + opt.old, help=f"deprecated: {opt.ini}", default=None)
        if opt.multiple:
            group.addoption(
                *flags, dest=opt.dest, action="append", default=None, metavar=opt.metavar, help=opt.described
            )
            parser.addini(opt.ini, help=opt.described, type="args", default=[])
        elif opt.kind is bool:
            group.addoption(*flags, dest=opt.dest, action="store_const", const=True, default=None, help=opt.described)
            parser.addini(opt.ini, help=opt.described, default=None)
        else:
            group.addoption(
                *flags, dest=opt.dest, default=None, choices=opt.choices, metavar=opt.metavar, help=opt.described
            )
            parser.addini(opt.ini, help=opt.described, default=None)


def pyproject_table(rootdir: Path) -> dict[str, Any]:
    """``[tool.promptdrift]`` of the root ``pyproject.toml``, or an empty table."""
    path = rootdir / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, OSError) as exc:
        raise ConfigError(f"cannot read [tool.promptdrift]: {exc}", path=path) from None
    table = data.get("tool", {}).get("promptdrift", {})
    if not isinstance(table, dict):
        raise ConfigError("[tool.promptdrift] must be a table", path=path)
    return table


def _convert(opt: Option, value: Any, source: str) -> Any:
    if opt.multiple:
        items = [value] if isinstance(value, str) else list(value)
        return tuple(str(_convert(Option(opt.name, opt.help, choices=opt.choices), v, source)) for v in items)
    if opt.kind is bool:
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
            raise ConfigError(f"{source}: expected true or false, got {value!r}")
        return word in ("true", "1", "yes", "on")
    if opt.choices and str(value) not in opt.choices:
        raise ConfigError(f"{source}: {value!r} is not one of {', '.join(opt.choices)}")
    try:
        return opt.kind(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{source}: expected a {opt.kind.__name__}, got {value!r}") from None


def _old_name(config: pytest.Config, opt: Option, table: dict[str, Any]) -> Any:
    """An option's former name, if a run still uses it: its ini value (or pyproject's), with a warning."""
    old = str(opt.old)
    flag = "--prompt-" + old.replace("_", "-")
    used = [a for a in config.invocation_params.args if a == flag or a.startswith(flag + "=")]
    ini = config.getini("promptdrift_" + old)
    if used or ini not in (None, "", []) or old in table:
        config.issue_config_time_warning(
            DeprecationWarning(
                f"promptdrift: {flag} (ini promptdrift_{old}) is now {opt.flag} (ini {opt.ini}); "
                "the old name still works for one release"
            ),
            stacklevel=2,
        )
    if ini not in (None, "", []):
        return ini
    return table.get(old)


def from_config(config: pytest.Config) -> Settings:
    """Resolve settings with the documented precedence: CLI, then ini, then pyproject, then default."""
    rootdir = Path(config.rootpath)
    table = pyproject_table(rootdir)
    known = {opt.key for opt in OPTIONS} | {opt.old for opt in OPTIONS if opt.old}
    unknown = sorted(set(table) - known - {"prices"})
    if unknown:
        raise ConfigError(f"[tool.promptdrift]: unknown key {unknown[0]!r}; known: {', '.join(sorted(known))}")
    values: dict[str, Any] = {}
    for opt in OPTIONS:
        cli = config.getoption(opt.dest, default=None)
        ini = config.getini(opt.ini)
        if opt.old:
            ini = ini if ini not in (None, "", []) else _old_name(config, opt, table)
        if cli is not None:
            values[opt.name] = _convert(opt, cli, opt.flag)
        elif ini not in (None, "", []):
            values[opt.name] = _convert(opt, ini, f"ini {opt.ini}")
        elif opt.key in table:
            values[opt.name] = _convert(opt, table[opt.key], f"[tool.promptdrift] {opt.key}")
        elif opt.default is not None:
            values[opt.name] = opt.default
    values["record"] = RecordMode(values["record"])
    values["prices"] = _prices(table.get("prices", {}), rootdir / "pyproject.toml")
    for name in (
        "max_retries",
        "concurrency",
        "timeout",
        "deadline",
        "max_mb",
        "retry_backoff",
        "retry_max_wait",
        "samples",
    ):
        low = 1 if name in ("concurrency", "samples", "deadline", "max_mb") else 0
        if name in values and values[name] < low:
            raise ConfigError(f"--prompt-{name.replace('_', '-')}: must be at least {low}, got {values[name]}")
    if values.get("batch") and values["record"] is RecordMode.NONE:
        raise ConfigError(
            "--prompt-batch records through the provider's Batch API: add --prompt-record=new, changed or all"
        )
    if values.get("batch_poll", 1.0) <= 0:
        raise ConfigError(f"--prompt-batch-poll: must be more than 0 seconds, got {values['batch_poll']}")
    for name, high in (("drift_alpha", 0.5), ("drift_max_drop", 1.0)):
        if name in values and not 0 <= values[name] < high:
            raise ConfigError(f"--prompt-{name.replace('_', '-')}: must be in [0, {high}), got {values[name]}")
    for path in values.get("report", ()):
        if Path(path).suffix.lower() not in (".md", ".markdown", ".html", ".htm", ".json"):
            raise ConfigError(f"--prompt-report {path}: use a .md, .html or .json file name")
    return Settings(rootdir=rootdir, **values)


PRICE_KEYS = frozenset({"input", "output", "batch_input", "batch_output", "cache_write", "cache_read"})


def _prices(table: Any, path: Path) -> dict[str, dict[str, float]]:
    """``[tool.promptdrift.prices]``: per model, USD per million ``input`` and ``output`` tokens, and the
    ``batch_input`` / ``batch_output`` rates of answers recorded through a batch (default: half)."""
    if not isinstance(table, dict):
        raise ConfigError("[tool.promptdrift.prices] must be a table of models", path=path)
    prices: dict[str, dict[str, float]] = {}
    for model, entry in table.items():
        if not isinstance(entry, dict) or not set(entry) <= PRICE_KEYS or not {"input", "output"} & set(entry):
            raise ConfigError(
                f"[tool.promptdrift.prices] {model!r}: give input and output USD per million tokens "
                "(batch_input and batch_output for answers recorded through a batch; default half; cache_write and "
                "cache_read for Anthropic's prompt-cache tokens; default 1.25 and 0.1 times input), "
                'e.g. "gpt-4o-mini" = {input = 0.15, output = 0.6}',
                path=path,
            )
        prices[model] = {k: float(v) for k, v in entry.items()}
    return prices
