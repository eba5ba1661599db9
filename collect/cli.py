"""`python -m collect`: a thin command line over the collect library."""

import argparse
import json
import sys
from pathlib import Path

from collect.parse import parse_run_log
from collect.runs import parse_run_files, read_run_files
from collect.summary import summarize

DEFAULT_RESULTS_DIR = Path("results/latest")


def main(argv: list[str] | None = None) -> int:
    """Run one subcommand; return the process exit status."""
    arguments = build_parser().parse_args(argv)
    return arguments.handler(arguments)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: one subparser per entry of SUBCOMMANDS."""
    parser = argparse.ArgumentParser(
        prog="python -m collect",
        description="Turn a llamasweep results directory into runs.csv, summary.md "
        "and plots (see collect/README.md).",
    )
    subparsers = parser.add_subparsers(title="subcommands", required=True, metavar="SUBCOMMAND")
    for name, (help_text, add_arguments, handler) in SUBCOMMANDS.items():
        subparser = subparsers.add_parser(name, help=help_text, description=help_text)
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
                figures = parse_run_files(read_run_files(path))
            else:
                figures = parse_run_log(path.read_text(errors="replace"))
        except OSError as error:
            print(f"collect parse: {path}: {error.strerror}", file=sys.stderr)
            exit_status = 1
            continue
        print(json.dumps({"path": str(path), **figures}))
    return exit_status


def _add_summarize_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "results_dir",
        metavar="RESULTS_DIR",
        nargs="?",
        type=Path,
        default=DEFAULT_RESULTS_DIR,
        help=f"one sweep's results directory (default: {DEFAULT_RESULTS_DIR})",
    )


def _summarize(arguments: argparse.Namespace) -> int:
    try:
        summary = summarize(arguments.results_dir)
    except FileNotFoundError as error:
        print(f"collect summarize: {error}", file=sys.stderr)
        return 2
    print(summary, end="")
    return 0


# name -> (help, adds the subcommand's arguments, runs it and returns the exit status)
SUBCOMMANDS = {
    "parse": (
        "print one JSON line per run log: tok_s and every perf stat figure (null when "
        "absent, <not supported> or <not counted>)",
        _add_parse_arguments,
        _parse,
    ),
    "summarize": (
        "write runs.csv, summary.md and plots/*.png into RESULTS_DIR and print summary.md",
        _add_summarize_arguments,
        _summarize,
    ),
}
