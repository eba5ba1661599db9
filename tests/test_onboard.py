"""Onboarding a new student account over SSH, against Debian's sshd on 127.0.0.1:2223."""

import json
import subprocess

from conftest import run_playbook


def onboard_args(login_node, student, laptop, password_file, fingerprint=None):
    known_hosts = laptop / "known_hosts"
    return [
        "-i", "inventory/montecimone.yml",
        "-e", f"montecimone_host={login_node.host}",
        "-e", f"montecimone_user={student.name}",
        "-e", f"onboard_key_file={laptop / 'id_ed25519'}",
        "-e", f"onboard_known_hosts={known_hosts}",
        "-e", json.dumps({"ansible_ssh_common_args": f"-o UserKnownHostsFile={known_hosts}"}),
        "-e", f"onboard_host_key_fingerprint={fingerprint or login_node.fingerprint}",
        "--connection-password-file", str(password_file),
    ]  # fmt: skip


def key_login(login_node, student, laptop) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ssh", "-o", "BatchMode=yes", "-o", f"UserKnownHostsFile={laptop / 'known_hosts'}",
         "-i", str(laptop / "id_ed25519"), "-p", str(login_node.port),
         f"{student.name}@{login_node.host}", "whoami"],
        capture_output=True, text=True,
    )  # fmt: skip


def test_onboarding_installs_a_key_and_never_stores_the_password(
    login_node, student, laptop, tmp_path
):
    password_file = tmp_path / "password"
    password_file.write_text(student.password)
    password_file.chmod(0o600)
    first = run_playbook("onboard.yml", *onboard_args(login_node, student, laptop, password_file))

    assert (laptop / "id_ed25519").exists()
    authorized = (student.home / ".ssh" / "authorized_keys").read_text()
    assert (laptop / "id_ed25519.pub").read_text().strip() in authorized
    assert (student.home / ".ssh").stat().st_mode & 0o777 == 0o700
    assert key_login(login_node, student, laptop).stdout.strip() == student.name
    assert login_node.fingerprint in first.stdout or "known_hosts" in first.stdout
    # The password is nowhere but the file the test gave it in.
    for place in [laptop, student.home]:
        for path in place.rglob("*"):
            if path.is_file():
                assert student.password not in path.read_text(errors="replace"), path
    assert student.password not in first.stdout

    again = run_playbook("onboard.yml", *onboard_args(login_node, student, laptop, password_file))
    assert "changed=0" in again.stdout


def test_wrong_password_stops_with_a_readable_message(login_node, student, laptop, tmp_path):
    password_file = tmp_path / "password"
    password_file.write_text("not-the-password")
    run = run_playbook(
        "onboard.yml", *onboard_args(login_node, student, laptop, password_file), check=False
    )
    output = " ".join(run.stdout.split())
    assert run.returncode != 0
    assert f"Could not log in to [{login_node.host}]:{login_node.port} as {student.name}" in output
    assert "Check the user name and the password" in output


def test_unconfirmed_host_key_stops_before_the_password_is_sent(
    login_node, student, laptop, tmp_path
):
    password_file = tmp_path / "password"
    password_file.write_text(student.password)
    wrong = "SHA256:" + "A" * 43
    run = run_playbook(
        "onboard.yml",
        *onboard_args(login_node, student, laptop, password_file, fingerprint=wrong),
        check=False,
    )
    assert run.returncode != 0
    assert "was not confirmed" in " ".join(run.stdout.split())
    assert not (student.home / ".ssh").exists()
    assert not (laptop / "known_hosts").exists()
