"""summarize on a full disk (a small tmpfs, mounted as root): a message, not a traceback, and
the old outputs kept whole, none newer than the others (issue 21: a new runs.csv and
summary.md beside an old report.html)."""

import errno
import os
import subprocess
from pathlib import Path

import pytest
from builders import SweepWriter
from test_collect_cli import collect

pytestmark = pytest.mark.e2e

OUTPUTS = ("runs.csv", "summary.md", "report.html", "plots")


@pytest.fixture
def small_disk(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mount_point], check=True)
    yield mount_point
    subprocess.run(["umount", mount_point], check=True)


def fill(disk: Path, leave: int) -> None:
    """Fill disk but for about leave bytes."""
    with open(disk / "filler", "wb", buffering=0) as filler:
        try:
            while True:
                filler.write(b"x" * 4096)
        except OSError as error:
            assert error.errno == errno.ENOSPC
    os.truncate(disk / "filler", max(0, os.path.getsize(disk / "filler") - leave))


def outputs(results: Path) -> dict[str, bytes]:
    files = [results / name for name in OUTPUTS[:3]] + sorted((results / "plots").iterdir())
    return {str(path.relative_to(results)): path.read_bytes() for path in files}


def test_a_full_disk_leaves_the_old_outputs_whole(small_disk):
    results = small_disk / "20261127-101500"
    sweep = SweepWriter(results)
    for repetition, tok_s in enumerate((4.7, 4.9, 4.8), start=1):
        sweep.run("nodes", "O3", 4, repetition, tok_s=tok_s)
        sweep.run("nodes", "O3", 2, repetition, tok_s=tok_s / 2)
    assert collect("summarize", "--no-history", str(results)).returncode == 0
    old = outputs(results)
    sweep.run("nodes", "O3", 4, 4, tok_s=9.9)  # the next summary differs
    # Room for a new runs.csv and summary.md, not for the plots and report.html.
    fill(small_disk, leave=len(old["runs.csv"]) + len(old["summary.md"]) + 8192)

    summarized = collect("summarize", "--no-history", str(results))

    assert summarized.returncode == 2
    assert "Traceback" not in summarized.stderr
    assert summarized.stderr == (
        f"collect summarize: {results}: No space left on device: nothing was replaced "
        "(runs.csv, plots/, summary.md and report.html are as they were); free some space "
        "and run it again\n"
    )
    assert outputs(results) == old
    assert not [path for path in results.rglob(".*.tmp")]  # no temporary file left behind
