"""Writes others read are atomic: the old file stays whole until the new one replaces it."""

import pytest

from collect import atomic
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


def test_the_temporary_file_is_created_never_opened_through_a_link(tmp_path, monkeypatch):
    """Even under a name guessed right, a link there is not written through: the temporary
    file is created exclusively (O_EXCL), or the write stops."""
    victim = tmp_path / "authorized_keys"
    victim.write_text("mine\n")
    results = tmp_path / "results"
    results.mkdir()
    monkeypatch.setattr(atomic.secrets, "token_hex", lambda _: "guessed")
    (results / ".report.html.guessed.tmp").symlink_to(victim)
    with pytest.raises(FileExistsError):
        write_text(results / "report.html", "the report")
    assert victim.read_text() == "mine\n" and not (results / "report.html").exists()


def test_a_link_at_the_path_is_replaced_not_followed(tmp_path):
    victim = tmp_path / "authorized_keys"
    victim.write_text("mine\n")
    (tmp_path / "summary.md").symlink_to(victim)
    write_text(tmp_path / "summary.md", "new")
    assert victim.read_text() == "mine\n"
    assert not (tmp_path / "summary.md").is_symlink()
    assert (tmp_path / "summary.md").read_text() == "new"
