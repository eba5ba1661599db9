"""`python -m collect`: a thin command line over the collect library."""

import argparse
import errno
import json
import sqlite3
import sys
from pathlib import Path

from collect.class_report import CLASS_REPORT_FILE, CLASS_RUNS_FILE, write_class_report
from collect.compare import compare
from collect.datafiles import NotRead, read_text
from collect.fetch import fetch
from collect.history import HISTORY_FILE, list_sweeps
from collect.parse import parse_run_log
from collect.pipeline import summarize
from collect.plan import read_task_dir
from collect.runs import parse_run_files
from collect.seed import SEED
from collect.verdicts import COMPARE_MIN_EFFECT, CONFIDENCE_TEXT

DEFAULT_RESULTS_DIR = Path("results/latest")
DEFAULT_HISTORY = Path("results") / HISTORY_FILE


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; return the process exit status."""
    arguments = build_parser().parse_args(argv)
    return arguments.handler(arguments)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: one subparser per entry of SUBCOMMANDS."""
    parser = argparse.ArgumentParser(
        prog="python -m collect",
        description="Turn a llamasweep results directory into runs.csv, summary.md, "
        "report.html and plots, keep every sweep in a history database, compare sweeps "
        "(see collect/README.md).",
    )
    subparsers = parser.add_subparsers(title="subcommands", required=True, metavar="SUBCOMMAND")
    for name, (help_text, add_arguments, handler) in SUBCOMMANDS.items():
        # argparse fills in %(default)s and the like in a help but not in a description
        subparser = subparsers.add_parser(
            name, help=help_text.replace("%", "%%"), description=help_text
        )
        add_arguments(subparser)
        subparser.set_defaults(handler=handler)
    return parser


def _add_parse_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "files",
        metavar="FILE",
        nargs="+",
        type=Path,
        help="a run log (stderr.txt, perf.txt, or both in one file) or a run directory "
        "(then its stderr.txt and perf.txt are read)",
    )


def _parse(arguments: argparse.Namespace) -> int:
    exit_status = 0
    for path in arguments.files:
        try:
            if path.is_dir():
                figures = parse_run_files(read_task_dir(path, path))
            else:
                figures = parse_run_log(_run_log(path))
        except OSError as error:
            print(f"collect parse: {path}: {error.strerror}", file=sys.stderr)
            exit_status = 1
            continue
        print(json.dumps({"path": str(path), **figures}))
    return exit_status


def _run_log(path: Path) -> str:
    """The text of a run log, read as summarize reads a sweep's files (a FIFO is not waited
    on, a large or binary file not read); OSError saying why not."""
    not_read = NotRead()
    text = read_text(path, path.parent, not_read)
    if text is None:
        why = not_read.listed().get(path.name, "not found, or not readable")
        raise OSError(errno.EINVAL, why)
    return text


def _add_summarize_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "results_dir",
        metavar="RESULTS_DIR",
        nargs="?",
        type=Path,
        default=DEFAULT_RESULTS_DIR,
        help=f"one sweep's results directory (default: {DEFAULT_RESULTS_DIR})",
    )

    history = parser.add_mutually_exclusive_group()
    history.add_argument(
        "--history",
        metavar="PATH",
        type=Path,
        help=f"the history database to record the sweep in (default: {HISTORY_FILE} in "
        "RESULTS_DIR's parent directory)",
    )
    history.add_argument(
        "--no-history",
        action="store_true",
        help="do not record the sweep in the history database",
    )
    _add_min_effect_argument(parser)


def _summarize(arguments: argparse.Namespace) -> int:
    try:
        summary = summarize(
            arguments.results_dir,
            history=arguments.history,
            record_history=not arguments.no_history,
            min_effect=arguments.min_effect / 100,
        )
    except (FileNotFoundError, ValueError) as error:
        print(f"collect summarize: {error}", file=sys.stderr)
        return 2
    except sqlite3.Error as error:
        # runs.csv, summary.md and report.html are written; only the history is not.
        print((arguments.results_dir / "summary.md").read_text(), end="")
        print(f"collect summarize: history database not updated: {error}", file=sys.stderr)
        return 3
    print(summary, end="")
    return 0


def _add_min_effect_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--min-effect",
        metavar="PERCENT",
        type=_positive_percent,
        default=100 * COMPARE_MIN_EFFECT,
        help="compare_min_effect, the practical threshold: the half-width of the interval "
        "that says no detectable change (a change smaller than one that matters) "
        f"(default: {100 * COMPARE_MIN_EFFECT:g})",
    )


def _positive_percent(text: str) -> float:
    value = float(text)
    if not 0 < value < 100:
        raise argparse.ArgumentTypeError(f"{text} is not a percentage above 0 and below 100")
    return value


def _add_history_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--history",
        metavar="PATH",
        type=Path,
        default=DEFAULT_HISTORY,
        help=f"the history database (default: {DEFAULT_HISTORY})",
    )


def _add_compare_arguments(parser: argparse.ArgumentParser) -> None:
    for name in ("a", "b"):
        parser.add_argument(
            name,
            metavar=name.upper(),
            help=f"a results directory, a sweep id of the history database, or {SEED!r} "
            "(the seed's published tok/s)",
        )
    _add_history_argument(parser)
    _add_min_effect_argument(parser)


def _compare(arguments: argparse.Namespace) -> int:
    try:
        report = compare(arguments.a, arguments.b, arguments.history, arguments.min_effect / 100)
        print(report, end="")
    except LookupError as error:
        print(f"collect compare: {error.args[0]}", file=sys.stderr)
        return 2
    return 0


def _history(arguments: argparse.Namespace) -> int:
    sweeps = list_sweeps(arguments.history)
    if sweeps.empty:
        print(f"no sweeps in {arguments.history}")
        return 0
    print(sweeps.to_string(index=False))
    return 0


# name -> (help, adds the subcommand's arguments, runs it and returns the exit status)
def _add_fetch_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "results_dir",
        metavar="RESULTS_DIR",
        nargs="?",
        type=Path,
        default=DEFAULT_RESULTS_DIR,
        help=f"one sweep's results directory (default: {DEFAULT_RESULTS_DIR})",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="fetch even when RESULTS_DIR was fetched after every job had ended",
    )


def _fetch(arguments: argparse.Namespace) -> int:
    try:
        return fetch(arguments.results_dir, force=arguments.force)
    except (FileNotFoundError, ValueError, KeyError) as error:
        print(f"collect fetch: {error}", file=sys.stderr)
        return 2


def _add_class_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "results_dirs",
        metavar="DIR",
        nargs="+",
        type=Path,
        help="a student's results directory (read as data, never run)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("class"),
        help=f"where {CLASS_RUNS_FILE} and {CLASS_REPORT_FILE} are written (default: class)",
    )
    parser.add_argument(
        "--anonymise",
        action="store_true",
        help="pseudonyms (student-1, ...) in place of the accounts' names",
    )


def _class(arguments: argparse.Namespace) -> int:
    try:
        report = write_class_report(arguments.results_dirs, arguments.out, arguments.anonymise)
    except (FileNotFoundError, ValueError) as error:
        print(f"collect class: {error}", file=sys.stderr)
        return 2
    print(report, end="")
    return 0


SUBCOMMANDS = {
    "parse": (
        "print one JSON line per run log: tok_s and every perf stat figure (null when "
        "absent, <not supported> or <not counted>)",
        _add_parse_arguments,
        _parse,
    ),
    "summarize": (
        "write runs.csv, summary.md, report.html and plots/*.png into RESULTS_DIR, record "
        "its runs in the history database, and print summary.md",
        _add_summarize_arguments,
        _summarize,
    ),
    "fetch": (
        "bring a Slurm sweep's results (RESULTS_DIR/remote.json says from where) into "
        "RESULTS_DIR with playbooks/fetch.yml; nothing to do for a local sweep or one "
        "fetched after every job had ended (--force fetches again)",
        _add_fetch_arguments,
        _fetch,
    ),
    "class": (
        "merge students' sweeps into one table of runs with a student column "
        f"({CLASS_RUNS_FILE}) and write the class report ({CLASS_REPORT_FILE}: each "
        "configuration's spread across the sweeps next to each sweep's own, the sweeps unlike "
        "the others) into --out, and print it",
        _add_class_arguments,
        _class,
    ),
    "compare": (
        "compare two sweeps (or a sweep and the seed's numbers) configuration by "
        f"configuration: medians, ratio B/A with its {CONFIDENCE_TEXT} interval, and a verdict "
        "(faster, slower, no detectable change, too few runs to tell) from each pair's own runs",
        _add_compare_arguments,
        _compare,
    ),
    "history": (
        "list the sweeps recorded in the history database",
        _add_history_argument,
        _history,
    ),
}
