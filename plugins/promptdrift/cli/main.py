"""The ``promptdrift`` command: helpers around the pytest plugin."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import yaml

from promptdrift import __version__
from promptdrift.checks import known_checks
from promptdrift.checks.reference import reference_page
from promptdrift.cli.scan import scan
from promptdrift.config import Settings
from promptdrift.core.errors import PromptdriftError
from promptdrift.suite.detect import is_suite_file, looks_like_suite
from promptdrift.suite.model import Suite
from promptdrift.suite.reader import load_suite, same_suite_id
from promptdrift.suite.schema import problems, suite_schema
from promptdrift.testing.demo import EXAMPLE_SCRIPT, DemoServer, Script
from promptdrift.verdict.compare import cassettes_at, cassettes_in_tree, compare
from promptdrift.verdict.ledger import read_records
from promptdrift.verdict.report import has_regressions, notable, run_summary, summarize, summary_lines, write_reports
from promptdrift.verdict.shards import merged_exitstatus, read_shards
from promptdrift.verdict.summary import build


def _validate(args: argparse.Namespace) -> int:
    """Load every suite under the given paths and render each case's templates (no model calls)."""
    root = Path(args.rootdir).resolve()
    files: list[Path] = []
    failed = 0
    for name in args.paths:
        path = Path(name)
        if not path.exists():
            print(f"FAIL {name}: no such file or folder")
            failed += 1
            continue
        files.extend(sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path])
    suites = [f for f in files if is_suite_file(f) or looks_like_suite(f)]
    ids: dict[str, Path] = {}
    for path in suites:
        shown = path.resolve().relative_to(root).as_posix() if path.resolve().is_relative_to(root) else str(path)
        try:
            found = problems(path, shown)  # every problem of the file's shape at once, each at its line and column
            if found:
                failed += 1
                for problem in found:
                    print(f"FAIL {problem}")
                continue
            suite = load_suite(path, root)
            clash = same_suite_id(suite, ids, root)
            if clash is not None:
                raise clash
            rendered = render_cases(suite, root)
        except PromptdriftError as exc:
            failed += 1
            print(f"FAIL {exc}")
        else:
            generated = f", generated cases (up to {suite.generate.max_examples})" if suite.generate else ""
            print(f"ok   {suite.relpath}: suite {suite.name!r}, {rendered} case(s) rendered{generated}")
    if not suites and not failed:
        print(f"no suite in {', '.join(args.paths)} (a suite is a .yaml file with a top-level suite: key)")
        return 1 if any(Path(p).is_dir() for p in args.paths) else 0  # a pre-commit hook passes any YAML file
    print(f"{len(suites) - min(failed, len(suites))} valid, {failed} invalid")
    return 1 if failed else 0


def _init(args: argparse.Namespace) -> int:
    """Set up an existing repository: example suite and cassette, schema, workflow, settings; never overwrites."""
    from promptdrift.cli.init import NEXT, init  # slow: tomlkit, only for the init subcommand

    root = Path(args.dir).resolve()
    if not root.is_dir():
        print(f"promptdrift init: no such folder: {args.dir}", file=sys.stderr)
        return 2
    done = init(root)
    for line in done.done:
        print(line)
    if done.kept:
        print(f"left as they were: {', '.join(done.kept)}")
    if not done.done:
        print("nothing to do: promptdrift is set up here already")
    print(NEXT)
    return 0


def _checks(args: argparse.Namespace) -> int:
    """List the registered checks (built-in and plugins'), or print the reference page as Markdown."""
    if args.markdown:
        print(reference_page(), end="")
        return 0
    for name, definition in sorted(known_checks().items()):
        print(f"{name:<18} {definition.family:<12} {definition.description}")
    return 0


def _schema(args: argparse.Namespace) -> int:
    """Print the suite format's JSON Schema (draft 2020-12)."""
    print(json.dumps(suite_schema(), indent=2))
    return 0


def render_cases(suite: Suite, root: Path) -> int:
    """Render every case's requests, each variant's too, as a run would (a missing variable fails as in pytest)."""
    from promptdrift.run.conversation import build_request, case_variables, case_where, user_turns  # slow: the runner
    from promptdrift.text.templating import render

    count = 0
    for each in suite.variants or [suite]:
        settings = Settings(rootdir=root, model=each.model or "validate")
        for case in each.cases:
            build_request(each, case, settings)
            variables = case_variables(each, case, case_where(each, case))
            for turn in user_turns(each, case)[1:]:
                if turn.user is not None:
                    render(turn.user, variables, where=case_where(each, case), path=each.relpath)
            count += 1
    return count


def _demo_server(args: argparse.Namespace) -> int:
    """Serve the scripted demo model until interrupted; a missing script, extra or port is one clear line."""
    path = Path(args.script) if args.script else EXAMPLE_SCRIPT
    if not path.is_file():
        print(
            f"promptdrift demo-server: no script at {path}: give a YAML script (its format: {EXAMPLE_SCRIPT})",
            file=sys.stderr,
        )
        return 2
    try:
        script = Script.from_file(path)
    except (PromptdriftError, ValueError, TypeError, KeyError, yaml.YAMLError) as exc:
        print(f"promptdrift demo-server: {path} is not a demo script ({exc}); see {EXAMPLE_SCRIPT}", file=sys.stderr)
        return 2
    try:
        server = DemoServer(script, port=args.port).start()
    except ModuleNotFoundError as exc:
        print(
            f"promptdrift demo-server needs the demo extra ({exc.name} is not installed): "
            "pip install 'promptdrift[demo]'",
            file=sys.stderr,
        )
        return 2
    except OSError as exc:
        print(
            f"promptdrift demo-server: cannot listen on port {args.port} ({exc.strerror or exc}): "
            "another program holds it; choose another with --port N",
            file=sys.stderr,
        )
        return 2
    print(f"demo server on {server.base_url}, answering from {path} (Ctrl-C to stop)", flush=True)
    print(f"record with: OPENAI_BASE_URL={server.base_url} OPENAI_API_KEY=demo pytest suites --prompt-record=all")
    print(f"(Anthropic's SDK: ANTHROPIC_BASE_URL={server.anthropic_url} ANTHROPIC_API_KEY=demo)", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()
    return 0


def _compare(args: argparse.Namespace) -> int:
    """Compare the cassettes at a git ref with the working tree; exit 1 on regressions."""
    root = Path(args.rootdir).resolve()
    try:
        old = cassettes_at(root, args.base, args.cassette_dir)
        records = compare(old, cassettes_in_tree(root, args.cassette_dir), args.tolerance)
    except PromptdriftError as exc:
        print(f"promptdrift compare: {exc}", file=sys.stderr)
        return 2
    if not records:
        print(f"no cassette differs from {args.base}")
        return 0
    summary = build(records, [])
    for line in summary_lines(summary):
        print(line)
    for path in write_reports(args.report, summary):
        print(f"promptdrift report: {path}")
    return 1 if has_regressions(records) else 0


def _merge(args: argparse.Namespace) -> int:
    """One verdict from every shard's records: the same summary, reports and exit status as one process."""
    try:
        shards = read_shards([Path(d) for d in args.dirs])
        verbose = args.verbose or bool(args.report) or bool(os.environ.get("GITHUB_STEP_SUMMARY"))
        records = read_records([Path(s.folder) for s in shards], keep=None if verbose else notable)
    except PromptdriftError as exc:
        print(f"promptdrift merge: {exc}", file=sys.stderr)
        return 2
    modes = sorted({s.record_mode for s in shards})
    tests = sum(len(s.nodeids) for s in shards)
    summary = summarize(records)
    for line in run_summary(records, summary, "/".join(modes), extra=[f"{len(shards)} shards, {tests} tests"]):
        print(line)
    for path in write_reports(args.report, summary):
        print(f"promptdrift report: {path}")
    return merged_exitstatus(shards, bool(records.failed_gates))


def _batch(args: argparse.Namespace) -> int:
    """Show (``status``) or stop and forget (``cancel``) the batches a --prompt-batch run left pending."""
    # slow: the record layer and the openai SDK, only for this subcommand
    from promptdrift.record.batch import cancel_batches, pending_batches, state_folder

    root = Path(args.rootdir).resolve()
    settings = Settings(rootdir=root, cassette_dir=args.cassette_dir)
    shown = state_folder(settings).relative_to(root).as_posix()
    count = 0
    try:
        if args.action == "status":
            for pending in pending_batches(settings):
                count += 1
                part = pending.part
                counts = f", {pending.counts}" if pending.counts else ""
                print(
                    f"{part.batch or '(not created)'}: {pending.status}{counts}; {len(part.requests)} request(s) "
                    f"to {part.endpoint} ({part.model}), state {shown}/{part.tag}.json"
                )
            print(
                f"{count} pending batch(es) in {shown}"
                + ("; re-run the same pytest command to collect them" if count else "")
            )
        else:
            for part, status in cancel_batches(settings):
                count += 1
                print(f"{part.batch or part.tag}: {status}; forgotten ({len(part.requests)} request(s))")
            print(f"{count} batch(es) cancelled; a re-run with --prompt-batch submits their requests again")
    except PromptdriftError as exc:
        print(f"promptdrift batch: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # the provider: unreachable, or the key is refused
        print(f"promptdrift batch: the provider answered {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    return 0


def _scan(args: argparse.Namespace) -> int:
    """Exit 1 when a cassette holds a key-shaped string or a credential header."""
    missing = [p for p in args.paths or ["cassettes"] if not Path(p).exists()]
    if missing:
        print(f"promptdrift scan: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    findings = scan(Path(p) for p in (args.paths or ["cassettes"]))
    for finding in findings:
        print(finding)
    if findings:
        print(f"{len(findings)} possible secret(s): remove them and rotate any real key.")
        return 1
    print("no secrets found")
    return 0


def _conformance(args: argparse.Namespace) -> int:
    """Serve each recorded answer and compare what the SDK parses directly, through a recording and offline."""
    from promptdrift.testing import conformance  # slow: the SDK and the record path, only for this subcommand

    missing = [p for p in args.paths if not Path(p).exists()]
    if missing:
        print(f"promptdrift conformance: no such file or folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    agree = differ = skipped = 0
    for path in conformance.cassettes_below(Path(p) for p in args.paths):
        try:
            calls = conformance.read_cassette(path, api_root=args.api_root)
            verdicts = [v for way in args.ways for v in conformance.check_calls(calls, asynchronous=way == "async")]
        except (ValueError, KeyError, TypeError, OSError, yaml.YAMLError) as exc:
            skipped += 1
            print(f"skip   {path}: {type(exc).__name__}: {exc}")
            continue
        for verdict in verdicts:
            agree += verdict.agree
            differ += not verdict.agree
            print(verdict.line())
    print(f"{agree} agree, {differ} differ, {skipped} cassette(s) skipped ({' and '.join(args.ways)} clients)")
    return 1 if differ else 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="promptdrift", description="Prompt regression testing for pytest.")
    parser.add_argument("--version", action="version", version=f"promptdrift {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    validate = sub.add_parser("validate", help="check that suite files load, without calling any model")
    validate.add_argument("paths", nargs="*", default=["suites"])
    validate.add_argument("--rootdir", default=".", help="repository root (fixture paths resolve from it)")
    validate.set_defaults(func=_validate)
    start = sub.add_parser("init", help="set up an existing repository: example suite and cassette, workflow, settings")
    start.add_argument("dir", nargs="?", default=".", help="the repository's root (default: here)")
    start.set_defaults(func=_init)
    checks = sub.add_parser("checks", help="list every registered check (built-in and plugins')")
    checks.add_argument(
        "--markdown", action="store_true", help="the reference page, as docs/check-reference.md holds it"
    )
    checks.set_defaults(func=_checks)
    schema = sub.add_parser("schema", help="print the suite format's JSON Schema (for editors and CI)")
    schema.set_defaults(func=_schema)
    cmp = sub.add_parser("compare", help="drift report of the working tree's cassettes against a git ref")
    cmp.add_argument("--base", required=True, help="git ref with the previous cassettes, e.g. origin/main")
    cmp.add_argument("--rootdir", default=".", help="repository root")
    cmp.add_argument("--cassette-dir", default="cassettes")
    cmp.add_argument("--tolerance", type=float, default=0.05, help="score fall that counts as a regression")
    cmp.add_argument("--report", action="append", default=[], metavar="PATH", help=".md, .html or .json (repeatable)")
    cmp.set_defaults(func=_compare)
    merge = sub.add_parser("merge", help="one verdict and report from the records of every shard of a run")
    merge.add_argument("dirs", nargs="+", metavar="DIR", help="folders the shards wrote with --prompt-records-dir")
    merge.add_argument("--report", action="append", default=[], metavar="PATH", help=".md, .html or .json (repeatable)")
    merge.add_argument("-v", "--verbose", action="store_true", help="list every case, as pytest -v does")
    merge.set_defaults(func=_merge)
    batch = sub.add_parser("batch", help="show or cancel the batches a --prompt-batch run left pending")
    batch.add_argument("action", choices=("status", "cancel"))
    batch.add_argument("--rootdir", default=".", help="repository root")
    batch.add_argument("--cassette-dir", default="cassettes")
    batch.set_defaults(func=_batch)
    scan = sub.add_parser("scan", help="find key-shaped strings and credential headers in cassettes")
    scan.add_argument("paths", nargs="*", help="files or folders (default: cassettes)")
    scan.set_defaults(func=_scan)
    conf = sub.add_parser(
        "conformance",
        help="check that recording and replay give what the openai SDK parses directly, for recorded answers",
    )
    conf.add_argument("paths", nargs="+", metavar="PATH", help="vcrpy cassettes, or folders of them")
    conf.add_argument(
        "--way", dest="ways", action="append", choices=("sync", "async"), help="client(s) to check (default: both)"
    )
    conf.add_argument("--api-root", default="/v1", help="the path the endpoints sit below (default: /v1)")
    conf.set_defaults(func=_conformance)
    demo = sub.add_parser("demo-server", help="run the local scripted demo server (OpenAI's and Anthropic's APIs)")
    demo.add_argument(
        "--script",
        metavar="PATH",
        help="YAML script of answers (default: the packaged example, which documents the format)",
    )
    demo.add_argument("--port", type=int, default=8765)
    demo.set_defaults(func=_demo_server)
    args = parser.parse_args(argv)
    if args.command == "conformance" and not args.ways:
        args.ways = ["sync", "async"]
    return int(args.func(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
