"""The workspace's free-space check under a disk quota: module_utils/quota.py on the answers
of `lfs quota` and `quota` (tests/data/quota), and the setup's refusal when the quota, not
the disk, is what is short."""

import os
import subprocess
from pathlib import Path

import pytest
from ansible_collections.llamasweep.sweep.plugins.module_utils.quota import quota_room
from conftest import run_playbook, source_args

QUOTA_DATA = Path(__file__).parent / "data" / "quota"
MIB = 1024 * 1024


def answer(name: str) -> str:
    return (QUOTA_DATA / name).read_text()


@pytest.mark.unit
def test_lustre_room_is_under_the_hard_limit_where_no_soft_one_is_set():
    room = quota_room(answer("lfs-quota-u.txt"), "lfs quota", "ignored")
    assert room == {
        "room_bytes": (1_000_000_000 - 982_177_580) * 1024,
        "used_bytes": 982_177_580 * 1024,
        "limit_bytes": 1_000_000_000 * 1024,
        "limit": "hard",
        "tool": "lfs quota",
    }


@pytest.mark.unit
@pytest.mark.parametrize(
    ("name", "used_kib", "limit_kib", "limit"),
    [
        ("lfs-quota-u-over-soft.txt", 5_300_000, 5_242_880, "soft"),  # `*`: over, no room
        ("lfs-quota-u-inexact.txt", 1_041_408, 5_242_880, "soft"),  # `[...]`: as counted
        ("lfs-quota-u-wrapped.txt", 1_048_576, 2_097_152, "hard"),  # figures a line down
    ],
)
def test_lustre_rows_as_lfs_prints_them(name, used_kib, limit_kib, limit):
    room = quota_room(answer(name), "lfs quota", "ignored")
    assert (room["used_bytes"], room["limit_bytes"], room["limit"]) == (
        used_kib * 1024,
        limit_kib * 1024,
        limit,
    )
    assert room["room_bytes"] == max(limit_kib - used_kib, 0) * 1024


@pytest.mark.unit
def test_linux_quota_picks_the_workspace_s_filesystem_by_its_device():
    local = quota_room(answer("quota-w-u.txt"), "quota", "/dev/sda1")
    assert (local["room_bytes"], local["limit"]) == ((200_000 - 100_000) * 1024, "soft")
    nfs = quota_room(answer("quota-w-u.txt"), "quota", "nas01:/export/home")
    assert (nfs["room_bytes"], nfs["limit"]) == ((400_000 - 300_000) * 1024, "hard")
    assert quota_room(answer("quota-w-u.txt"), "quota", "/dev/sdb1") is None
    over = quota_room(answer("quota-w-u-over-soft.txt"), "quota", "/dev/sda1")
    assert over["room_bytes"] == 0 and over["used_bytes"] == 210_000 * 1024


@pytest.mark.unit
@pytest.mark.parametrize(
    ("name", "tool"),
    [
        ("lfs-quota-u-none.txt", "lfs quota"),  # 0 0: no limit
        ("lfs-quota-not-lustre.txt", "lfs quota"),
        ("quota-u-none.txt", "quota"),
    ],
)
def test_no_limit_is_no_room_figure(name, tool):
    assert quota_room(answer(name), tool, "/dev/sda1") is None


@pytest.mark.unit
def test_an_unknown_tool_is_an_error_naming_the_known_ones():
    with pytest.raises(ValueError, match="'df': not one of lfs quota, quota"):
        quota_room("", "df", "/dev/sda1")


@pytest.mark.e2e
def test_a_workspace_short_of_quota_is_refused_naming_the_quota(tmp_path):
    # Plenty of disk, but `quota` (a stand-in first on PATH, answering as quota-w-u.txt
    # does for the workspace's own device) says 250 of a 300 MiB soft limit are used.
    workspace = tmp_path / "ws"
    device = subprocess.run(
        ["df", "--output=source", str(tmp_path)], capture_output=True, text=True, check=True
    ).stdout.split()[-1]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    answer_file = tmp_path / "quota-answer.txt"
    answer_file.write_text(
        "Disk quotas for user student (uid 1000): \n"
        "     Filesystem  blocks   quota   limit   grace   files   quota   limit   grace\n"
        f"{device}  {250 * 1024}  {300 * 1024}  {400 * 1024}            10       0       0\n"
    )
    (bin_dir / "quota").write_text(f"#!/bin/sh\ncat {answer_file}\n")
    (bin_dir / "quota").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    run = run_playbook(
        "setup.yml", "-e", f"llamasweep_workspace={workspace}", *source_args(),
        check=False, env=env,
    )  # fmt: skip
    output = " ".join(run.stdout.split())
    assert run.returncode != 0
    assert (
        f"The workspace {workspace} is nearly full: 50 MiB free (quota: 250 MiB used of your "
        "300 MiB soft limit), 256 MiB needed (workspace_min_free_mb)"
    ) in output
    assert not (workspace / "llama2.c").exists()
