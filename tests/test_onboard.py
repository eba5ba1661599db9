"""Onboarding a new student account over SSH, against Debian's sshd on 127.0.0.1:2223 (two
host keys: the ed25519 one the admins publish, and an ecdsa one, as a relay adding its own
key would show)."""

import json
import os
import subprocess

import pexpect
import pytest
from conftest import BIN, PROJECT, run_playbook

pytestmark = [pytest.mark.e2e, pytest.mark.ssh]

KEY_NAME = "llamasweep_ed25519"


def onboard_args(login_node, student, laptop, password_file, fingerprint=None, key_file=True):
    """ansible-playbook's arguments; fingerprint: the pin (default the login node's, "" for
    none: the user confirms); password_file None: the password is asked (--ask-pass)."""
    known_hosts = laptop / "known_hosts"
    pin = login_node.fingerprint if fingerprint is None else fingerprint
    return [
        "-i", "inventory/montecimone.yml",
        "-e", f"montecimone_host={login_node.host}",
        "-e", f"montecimone_user={student.name}",
        *(["-e", f"onboard_key_file={laptop / KEY_NAME}"] if key_file else []),
        "-e", f"onboard_known_hosts={known_hosts}",
        "-e", json.dumps({"ansible_ssh_common_args": f"-o UserKnownHostsFile={known_hosts}"}),
        "-e", f"onboard_host_key_fingerprint={pin}",
        *(["--connection-password-file", str(password_file)] if password_file else ["--ask-pass"]),
    ]  # fmt: skip


def key_login(login_node, student, laptop, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["ssh", "-o", "BatchMode=yes", "-o", f"UserKnownHostsFile={laptop / 'known_hosts'}",
         "-i", str(laptop / KEY_NAME), "-p", str(login_node.port),
         f"{student.name}@{login_node.host}", "whoami"],
        capture_output=True, text=True, env=env,
    )  # fmt: skip


def recorded_fingerprints(known_hosts) -> list[str]:
    listed = subprocess.run(
        ["ssh-keygen", "-l", "-f", str(known_hosts)], capture_output=True, text=True, check=True
    )
    return [line.split()[1] for line in listed.stdout.splitlines()]


def password_file_of(student, tmp_path, password=None):
    path = tmp_path / "password"
    path.write_text(password or student.password)
    path.chmod(0o600)
    return path


def test_onboarding_installs_a_key_and_never_stores_the_password(
    login_node, student, laptop, tmp_path
):
    password_file = password_file_of(student, tmp_path)
    first = run_playbook("onboard.yml", *onboard_args(login_node, student, laptop, password_file))

    assert (laptop / KEY_NAME).exists()
    authorized = (student.home / ".ssh" / "authorized_keys").read_text()
    assert (laptop / f"{KEY_NAME}.pub").read_text().strip() in authorized
    assert (student.home / ".ssh").stat().st_mode & 0o777 == 0o700
    assert key_login(login_node, student, laptop).stdout.strip() == student.name
    # Only the key whose fingerprint is the pinned one, not the other key the host offered.
    assert recorded_fingerprints(laptop / "known_hosts") == [login_node.fingerprint]
    # The password is nowhere but the file the test gave it in.
    for place in [laptop, student.home]:
        for path in place.rglob("*"):
            if path.is_file():
                assert student.password not in path.read_text(errors="replace"), path
    assert student.password not in first.stdout

    again = run_playbook("onboard.yml", *onboard_args(login_node, student, laptop, password_file))
    assert "changed=0" in again.stdout


def test_wrong_password_stops_with_a_readable_message(login_node, student, laptop, tmp_path):
    password_file = password_file_of(student, tmp_path, "not-the-password")
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
    password_file = password_file_of(student, tmp_path)
    wrong = "SHA256:" + "A" * 43
    run = run_playbook(
        "onboard.yml",
        *onboard_args(login_node, student, laptop, password_file, fingerprint=wrong),
        check=False,
    )
    output = " ".join(run.stdout.split())
    assert run.returncode != 0
    assert "was not confirmed" in output
    # It names what the host offers: both keys, the pinned one recorded by neither.
    assert login_node.fingerprint in output and login_node.other_fingerprint in output
    assert not (student.home / ".ssh").exists()
    assert not (laptop / "known_hosts").exists()


def test_a_pin_that_is_not_a_whole_fingerprint_is_refused_before_any_contact(
    login_node, student, laptop, tmp_path
):
    password_file = password_file_of(student, tmp_path)
    for short in ["SHA256", login_node.fingerprint[:-1]]:
        run = run_playbook(
            "onboard.yml",
            *onboard_args(login_node, student, laptop, password_file, fingerprint=short),
            check=False,
        )
        output = " ".join(run.stdout.split())
        assert run.returncode != 0
        assert f"onboard_host_key_fingerprint={short} is not a whole SHA256 fingerprint" in output
        assert "Fetch the login node's host keys" not in output  # not even scanned
        assert not (laptop / "known_hosts").exists()
        assert not (laptop / KEY_NAME).exists()
        assert not (student.home / ".ssh").exists()


def test_the_project_key_has_a_passphrase_and_lives_in_ssh_agent(login_node, student, tmp_path):
    """Defaults as a student gets them: HOME's ~/.ssh/llamasweep_ed25519, not the default
    identity; with a passphrase, ssh-agent holds the key and the inventory connects with it."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True, mode=0o700)
    agent = subprocess.run(["ssh-agent", "-s"], capture_output=True, text=True, check=True)
    settings = dict(
        part.split("=", 1) for part in agent.stdout.replace(";", "\n").split() if "=" in part
    )
    env = {**os.environ, "HOME": str(home), "SSH_AUTH_SOCK": settings["SSH_AUTH_SOCK"]}
    passphrase = "correct horse battery staple"
    try:
        password_file = password_file_of(student, tmp_path)
        args = onboard_args(login_node, student, home / ".ssh", password_file, key_file=False)
        run = run_playbook(
            "onboard.yml", *args, "-e", f"onboard_key_passphrase={passphrase}", env=env
        )
        key = home / ".ssh" / KEY_NAME
        assert key.exists() and not (home / ".ssh" / "id_ed25519").exists()
        # Encrypted: no key without the passphrase, which is written nowhere.
        unlocked = subprocess.run(
            ["ssh-keygen", "-y", "-P", "", "-f", str(key)], capture_output=True, text=True
        )
        assert unlocked.returncode != 0
        assert passphrase not in run.stdout
        for path in home.rglob("*"):
            if path.is_file():
                assert passphrase not in path.read_text(errors="replace"), path
        held = subprocess.run(["ssh-add", "-l"], capture_output=True, text=True, env=env)
        assert f"{student.name}@llamasweep" in held.stdout
        assert key_login(login_node, student, home / ".ssh", env).stdout.strip() == student.name
        again = run_playbook("onboard.yml", *args, env=env)
        assert "changed=0" in again.stdout
    finally:
        os.kill(int(settings["SSH_AGENT_PID"]), 15)


def test_a_confirmed_key_is_the_one_shown_and_the_only_one_recorded(
    login_node, student, laptop, tmp_path
):
    """No published fingerprint: the user is shown one key, as ssh shows it, answers yes
    (and no passphrase) on a terminal; that key alone is recorded."""
    password_file = password_file_of(student, tmp_path)
    args = onboard_args(login_node, student, laptop, password_file, fingerprint="")
    session = pexpect.spawn(
        str(BIN / "ansible-playbook"), ["playbooks/onboard.yml", *args],
        cwd=str(PROJECT), env={**os.environ, "ANSIBLE_NOCOLOR": "1"}, encoding="utf-8",
        timeout=120,
    )  # fmt: skip
    session.expect(r"key fingerprint is (SHA256:\S+)\.")
    shown = session.match.group(1)
    session.expect("Are you sure you want to continue connecting")
    session.sendline("yes")
    session.expect("Passphrase for the new key")
    session.sendline("")
    session.expect(pexpect.EOF)
    session.close()
    assert session.exitstatus == 0, session.before[-3000:]
    assert shown == login_node.fingerprint  # the ed25519 key, as ssh would use
    assert recorded_fingerprints(laptop / "known_hosts") == [shown]
    assert key_login(login_node, student, laptop).stdout.strip() == student.name


def test_a_new_account_s_onboarding_shows_the_passphrase_and_password_to_no_process(
    login_node, student, tmp_path
):
    """A laptop account without ~/.ssh, driven on a terminal as make onboard runs it: every
    execve of the whole onboarding (arguments and environment, strace -v) is free of the
    passphrase and of the password; ~/.ssh is created 0700; the key is encrypted and works
    through ssh-agent."""
    home = tmp_path / "home"
    home.mkdir()
    agent = subprocess.run(["ssh-agent", "-s"], capture_output=True, text=True, check=True)
    settings = dict(
        part.split("=", 1) for part in agent.stdout.replace(";", "\n").split() if "=" in part
    )
    env = {**os.environ, "HOME": str(home), "SSH_AUTH_SOCK": settings["SSH_AUTH_SOCK"],
           "ANSIBLE_NOCOLOR": "1"}  # fmt: skip
    passphrase = "lab-passphrase-" + os.urandom(6).hex()
    trace = tmp_path / "execve.trace"
    args = onboard_args(login_node, student, home / ".ssh", None, key_file=False)
    try:
        session = pexpect.spawn(
            "strace",
            ["-f", "-v", "-s", "4096", "-e", "trace=execve", "-o", str(trace),
             str(BIN / "ansible-playbook"), "playbooks/onboard.yml", *args],
            cwd=str(PROJECT), env=env, encoding="utf-8", timeout=180,
        )  # fmt: skip
        session.expect("SSH password:")
        session.sendline(student.password)
        session.expect("Passphrase for the new key")
        session.sendline(passphrase)
        session.expect(pexpect.EOF)
        session.close()
        assert session.exitstatus == 0, session.before[-3000:]
        traced = trace.read_text(errors="replace")
        assert traced.count("execve(") > 50  # the trace saw the whole onboarding
        assert "ssh-keygen" in traced and "ssh-add" in traced
        assert passphrase not in traced
        assert student.password not in traced
        assert (home / ".ssh").stat().st_mode & 0o777 == 0o700
        key = home / ".ssh" / KEY_NAME
        locked = subprocess.run(["ssh-keygen", "-y", "-P", "", "-f", str(key)],
                                capture_output=True, text=True)  # fmt: skip
        assert locked.returncode != 0
        opened = subprocess.run(["ssh-keygen", "-y", "-P", passphrase, "-f", str(key)],
                                capture_output=True, text=True)  # fmt: skip
        assert opened.returncode == 0, opened.stderr
        assert key_login(login_node, student, home / ".ssh", env).stdout.strip() == student.name
    finally:
        os.kill(int(settings["SSH_AGENT_PID"]), 15)
