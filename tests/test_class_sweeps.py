"""What the instructor's fetch-class finds on cluster storage
(roles/class_store/files/class_sweeps.py): sweeps, and what it refuses to fetch."""

import importlib.util
import os
import pwd

import pytest
from conftest import PROJECT

pytestmark = pytest.mark.unit

SCRIPT = PROJECT / "roles" / "class_store" / "files" / "class_sweeps.py"
spec = importlib.util.spec_from_file_location("class_sweeps", SCRIPT)
class_sweeps = importlib.util.module_from_spec(spec)
spec.loader.exec_module(class_sweeps)


def make_sweep(path):
    (path / "runs" / "0").mkdir(parents=True)
    (path / "plan.json").write_text("{}")
    (path / "runs" / "0" / "status").write_text("0\n")
    (path / "bin").mkdir()
    return path


def test_sweeps_are_directories_with_a_plan_owned_by_their_student(tmp_path):
    sweep = make_sweep(tmp_path / "alice" / "20261206-100000")
    (tmp_path / "alice" / "notes").mkdir()  # no plan.json: not a sweep
    (tmp_path / "alice" / "latest").symlink_to(sweep)  # a link: counted once, as itself
    make_sweep(tmp_path / "alice" / "a sweep")  # a name that is no plain path component
    found = class_sweeps.find([f"{tmp_path}/*/*", f"{tmp_path}/nobody/*"])
    me = pwd.getpwuid(os.geteuid()).pw_name
    assert found["sweeps"] == [{"path": str(sweep), "sweep_id": sweep.name, "student": me}]
    (refused,) = found["unreadable"]
    assert refused["path"] == str(tmp_path / "alice" / "a sweep")
    assert "is not a plain name" in refused["reason"]
    assert found["unmatched"] == [f"{tmp_path}/nobody/*"]


def test_a_relative_pattern_is_refused_with_what_is_valid(capsys):
    assert class_sweeps.main(["sweeps/*"]) == 2
    error = capsys.readouterr().err
    assert "give absolute glob patterns" in error and "not absolute: sweeps/*" in error


def test_a_file_that_cannot_be_read_is_named(tmp_path, monkeypatch):
    sweep = make_sweep(tmp_path / "bob" / "20261206-100000")
    status = sweep / "runs" / "0" / "status"
    real_access = os.access

    def access(path, mode):  # as root every file can be read: one refused here
        return path != str(status) and real_access(path, mode)

    monkeypatch.setattr(os, "access", access)
    found = class_sweeps.find([f"{tmp_path}/*/*"])
    assert found["sweeps"] == []
    assert found["unreadable"] == [{"path": str(sweep), "reason": f"{status}: permission denied"}]


def test_one_lstat_of_a_plan_gives_its_type_and_its_student(tmp_path, monkeypatch):
    sweep = make_sweep(tmp_path / "alice" / "20261206-100000")
    plan = str(sweep / "plan.json")
    lstats = []
    real_lstat = os.lstat

    def lstat(path, *args, **kwargs):
        lstats.append(os.fspath(path))
        return real_lstat(path, *args, **kwargs)

    monkeypatch.setattr(os, "lstat", lstat)
    monkeypatch.setattr(class_sweeps, "first_unreadable", lambda sweep: "")  # lstats each file
    (found,) = class_sweeps.find([f"{tmp_path}/*/*"])["sweeps"]
    assert found["path"] == str(sweep) and found["student"] == pwd.getpwuid(os.geteuid()).pw_name
    assert lstats.count(plan) == 1


def test_a_plan_that_cannot_be_looked_at_is_named(tmp_path, monkeypatch):
    """A sweep directory this account can list but not enter (g+r without g+x): its plan.json
    cannot be lstat'd, and the sweep is named with why, not taken for a sweep with no owner."""
    sweep = make_sweep(tmp_path / "bob" / "20261206-100000")
    plan = str(sweep / "plan.json")
    real_lstat = os.lstat

    def lstat(path, *args, **kwargs):  # as root every directory can be entered: one refused here
        if os.fspath(path) == plan:
            raise PermissionError(13, "Permission denied", plan)
        return real_lstat(path, *args, **kwargs)

    monkeypatch.setattr(os, "lstat", lstat)
    found = class_sweeps.find([f"{tmp_path}/*/*"])
    assert found["sweeps"] == []
    assert found["unreadable"] == [{"path": str(sweep), "reason": f"{plan}: Permission denied"}]


def test_the_same_sweep_twice_is_refused_with_both_paths(tmp_path, capsys):
    """Two directories with one student and one sweep id (a copy kept beside the sweep, say)
    would both be fetched as <student>/<sweep id>, the second over the first: nothing is
    found, so nothing is fetched, until the instructor's patterns match only one."""
    sweep = make_sweep(tmp_path / "alice" / "results" / "20261206-100000")
    copy = make_sweep(tmp_path / "alice" / "old" / "20261206-100000")
    assert class_sweeps.main([f"{tmp_path}/alice/results/*", f"{tmp_path}/alice/old/*"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"{copy} is {sweep} again" in captured.err and "the same sweep twice" in captured.err
    # One directory reached twice (a linked parent) is one sweep, not the same sweep twice.
    (tmp_path / "alice" / "again").symlink_to(sweep.parent)
    found = class_sweeps.find([f"{tmp_path}/alice/results/*", f"{tmp_path}/alice/again/*"])
    assert [sweep["path"] for sweep in found["sweeps"]] == [str(sweep)]
