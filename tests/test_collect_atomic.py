"""Writes others read are atomic: the old file stays whole until the new one replaces it."""

import pytest

from collect.atomic import replacing, write_text

pytestmark = pytest.mark.unit


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    report = tmp_path / "report.html"
    report.write_text("old report")
    with pytest.raises(RuntimeError), replacing(report) as temporary:
        temporary.write_text("half of a new")
        assert report.read_text() == "old report"  # readers still see the old file
        raise RuntimeError("the renderer failed")
    assert report.read_text() == "old report"
    assert [path.name for path in tmp_path.iterdir()] == ["report.html"]


def test_a_finished_write_replaces_the_file(tmp_path):
    summary = tmp_path / "summary.md"
    summary.write_text("old")
    write_text(summary, "new")
    assert summary.read_text() == "new"
    assert [path.name for path in tmp_path.iterdir()] == ["summary.md"]
