"""remote.json, the pointer a Slurm sweep leaves in results/<sweep_id>/, read as data.

A results directory may come from someone else (a classmate's tarball, a shared drive), and
what remote.json holds ends up in a playbook run: extra variables are Jinja templates
(`{{ lookup('pipe', ...) }}` runs a command), connection variables choose the program ssh
runs (ProxyCommand, LocalCommand) and the Python the target runs, an inventory can be a
script. An environment for the remote commands could load a library (LD_PRELOAD) or choose
the programs run (PATH, SLURM_CONF's PluginDir), so remote.json holds none: wait and fetch
take the inventory's sweep_slurm_environment. Only known keys are accepted, each value is
checked against what a sweep writes, and anything else stops the fetch with the key, the
value and what is valid, before anything runs.

`python -m collect.remote RESULTS_DIR` prints the checked remote.json (playbooks/wait.yml
and fetch.yml read it that way), or the reason it is refused on stderr, exit status 2.
"""

import json
import os
import re
import shlex
import stat
import sys
from pathlib import Path

from ansible_collections.llamasweep.sweep.plugins.module_utils import backends

REMOTE_FILE = "remote.json"

# Names and paths a sweep writes: no Jinja ({ }), no shell or ssh tokens (% $ ` ;), no
# spaces or newlines.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9.:-]*")
_USER = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")
_ABSOLUTE_PATH = re.compile(r"/[A-Za-z0-9._+/@-]*")
_PYTHON = re.compile(r"(/[A-Za-z0-9._+/@-]*/)?python[0-9.]*")
# Where an interpreter given by path may live: the system's, or this collector's own Python
# (a local sweep's ansible_playbook_python). Not a directory anyone could write to.
INTERPRETER_PREFIXES = ("/usr/bin/", "/usr/local/bin/", "/bin/", "/opt/")
# What submit-slurm.sh printed (informational): any text without Jinja braces.
_JOB_LINE = re.compile(r"[^{}\x00-\x1f\x7f]*")
# Never starting with "-": no value can be read as another option.
_SSH_OPTION_VALUE = re.compile(r"[A-Za-z0-9._+/@:,=][A-Za-z0-9._+/@:,=-]*")
# ssh options a connection may carry (`-o Name=value` in ansible_ssh_common_args): none runs
# a program, turns host-key checking off (UserKnownHostsFile: a file of the user's own) or
# connects elsewhere first: a jump host (ProxyJump) is the inventory's or ~/.ssh/config's.
SSH_OPTIONS = (
    "UserKnownHostsFile",
    "IdentitiesOnly",
    "IdentityFile",
    "ConnectTimeout",
    "ServerAliveInterval",
    "ServerAliveCountMax",
    "Port",
    "User",
)
# How a results directory may say to connect: ssh alone. Any other way (local) runs the
# sweep's scripts on this machine, and the inventory, the user's own, says so itself.
CONNECTIONS = ("ssh",)


class RemoteRefused(ValueError):
    """remote.json holds something a sweep never writes; the message says what and why."""


def read_remote(results_dir: Path) -> dict | None:
    """The checked remote.json of a results directory; None for a local sweep (none)."""
    path = results_dir / REMOTE_FILE
    if not path.exists() and not path.is_symlink():
        return None
    if path.is_symlink() or not path.is_file():
        raise RemoteRefused(f"{path} is not a regular file")
    try:
        remote = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise RemoteRefused(f"{path} is not JSON: {error}") from None
    return check_remote(remote, results_dir)


def check_remote(remote: object, results_dir: Path) -> dict:
    """remote, unchanged, if every key is known and every value is what a sweep writes."""
    if not isinstance(remote, dict):
        raise RemoteRefused(f"{REMOTE_FILE} must be a JSON object, not {_kind(remote)}")
    _refuse_unknown(REMOTE_FILE, remote, _CHECKS, "keys")
    missing = sorted({"host", "inventory", "remote_dir"} - set(remote))
    if missing:
        raise RemoteRefused(f"{REMOTE_FILE} lacks {missing}")
    for key, value in remote.items():
        _CHECKS[key](key, value, results_dir)
    sweep_dir = remote["remote_dir"]
    modules = str(Path(sweep_dir).parent.parent / "lib" / "python")
    if remote.get("pythonpath", modules) != modules:
        raise RemoteRefused(
            f"{REMOTE_FILE}: pythonpath {remote['pythonpath']!r} is not the sweep's workspace's "
            f"({modules})"
        )
    if "sweep_id" in remote and Path(sweep_dir).name != remote["sweep_id"]:
        raise RemoteRefused(
            f"{REMOTE_FILE}: remote_dir {sweep_dir!r} is not the directory of sweep "
            f"{remote['sweep_id']!r} (<workspace>/sweeps/<sweep_id>)"
        )
    return remote


def _matching(pattern: re.Pattern, what: str):
    def check(key: str, value: object, _results_dir: Path) -> None:
        if not isinstance(value, str) or not pattern.fullmatch(value) or ".." in value.split("/"):
            raise RemoteRefused(f"{REMOTE_FILE}: {key} = {value!r} is not {what}")

    return check


def _check_interpreter(key: str, value: object, results_dir: Path) -> None:
    _matching(_PYTHON, "a Python interpreter (python3 or a path)")(key, value, results_dir)
    # This collector's own: the same bin directory, links resolved (.venv may be a link).
    own = os.path.realpath(os.path.dirname(value)) == os.path.realpath(
        os.path.dirname(sys.executable)
    )
    if "/" in value and not value.startswith(INTERPRETER_PREFIXES) and not own:
        raise RemoteRefused(
            f"{REMOTE_FILE}: {key} = {value!r} is not a system Python (under "
            f"{', '.join(INTERPRETER_PREFIXES)}) nor this collector's ({sys.executable})"
        )


def _check_backend(key: str, value: object, _results_dir: Path) -> None:
    remote = [name for name, backend in backends.BACKENDS.items() if backend.REMOTE]
    if value not in remote:
        valid = " or ".join(repr(name) for name in remote)
        raise RemoteRefused(f"{REMOTE_FILE}: {key} = {value!r}; the only valid value is {valid}")


def _check_remote_dir(key: str, value: object, results_dir: Path) -> None:
    _check_outside(key, value, results_dir)
    if Path(value).parent.name != "sweeps":
        raise RemoteRefused(
            f"{REMOTE_FILE}: {key} = {value!r} is not a sweep's directory "
            "(<workspace>/sweeps/<sweep_id>)"
        )


def _check_outside(key: str, value: object, results_dir: Path) -> None:
    """An absolute path outside the results directory: the fetch runs the sweep's progress
    script from remote_dir with pythonpath's modules, never ones that came with the results
    (were the target this machine)."""
    _matching(_ABSOLUTE_PATH, "an absolute path")(key, value, results_dir)
    if _inside(Path(value), results_dir):
        raise RemoteRefused(f"{REMOTE_FILE}: {key} = {value!r} is inside the results directory")


def _inside(path: Path, results_dir: Path) -> bool:
    """Whether path, links resolved, is results_dir or below it."""
    results_real = os.path.realpath(results_dir)
    return os.path.commonpath([results_real, os.path.realpath(path)]) == results_real


def _check_inventory(key: str, value: object, results_dir: Path) -> None:
    """Inventory files of this user's own: regular, not executable (a script inventory runs),
    not writable by others, outside the results directory."""
    sources = value if isinstance(value, list) else [value]
    if not sources or not all(isinstance(source, str) for source in sources):
        raise RemoteRefused(f"{REMOTE_FILE}: {key} = {value!r} is not a list of inventory files")
    for source in sources:
        path = Path(source)
        if not (path.is_absolute() and path.is_file()):
            raise RemoteRefused(
                f"{REMOTE_FILE}: {key} {source!r} is not an inventory file on this machine "
                "(an absolute path to a regular file)"
            )
        problems = _not_own_file(path, results_dir)
        if path.stat().st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH):
            problems.insert(0, "executable (a script inventory runs code)")
        if problems:
            raise RemoteRefused(
                f"{REMOTE_FILE}: {key} {source!r} is {', '.join(problems)}; give the "
                "inventory of your own that the sweep was submitted with"
            )


def _not_own_file(path: Path, results_dir: Path) -> list[str]:
    """Why path is not a file of this user's own outside the results directory, that only
    this user (or root) can write; [] when it is (or, outside, does not exist)."""
    problems = []
    if path.exists():
        info = path.stat()
        if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            problems.append("writable by others")
        if info.st_uid not in (os.getuid(), 0):
            problems.append("owned by another user")
    if _inside(path, results_dir):
        problems.append("inside the results directory")
    return problems


def _check_jobs(key: str, value: object, _results_dir: Path) -> None:
    if not isinstance(value, list) or not all(
        isinstance(line, str) and _JOB_LINE.fullmatch(line) for line in value
    ):
        raise RemoteRefused(
            f"{REMOTE_FILE}: {key} = {value!r} is not a list of lines without {{ }}"
        )


def _check_connection(key: str, value: object, results_dir: Path) -> None:
    if not isinstance(value, dict):
        raise RemoteRefused(f"{REMOTE_FILE}: {key} must be an object, not {_kind(value)}")
    _refuse_unknown(f"{REMOTE_FILE}: {key}", value, _CONNECTION_CHECKS, "variables")
    for name, setting in value.items():
        _CONNECTION_CHECKS[name](f"{key}.{name}", setting, results_dir)


def _check_connection_type(key: str, value: object, _results_dir: Path) -> None:
    if value not in CONNECTIONS:
        raise RemoteRefused(f"{REMOTE_FILE}: {key} = {value!r}; valid: {list(CONNECTIONS)}")


def _check_port(key: str, value: object, _results_dir: Path) -> None:
    number = value if isinstance(value, int) else None
    if isinstance(value, str) and value.isdigit():
        number = int(value)
    if isinstance(value, bool) or number is None or not 1 <= number <= 65535:
        raise RemoteRefused(f"{REMOTE_FILE}: {key} = {value!r} is not a port (1 to 65535)")


def _check_ssh_args(key: str, value: object, results_dir: Path) -> None:
    """Only `-o Name=value` with a Name of SSH_OPTIONS and a plain value; a known_hosts file
    of this user's own (one that came with the results would vouch for any host)."""
    options = _ssh_options(value)
    if options is None or not all(
        name.lower() in {known.lower() for known in SSH_OPTIONS}
        and _SSH_OPTION_VALUE.fullmatch(setting)
        for name, setting in options
    ):
        raise RemoteRefused(
            f"{REMOTE_FILE}: {key} = {value!r}; valid: `-o Name=value` options with Name one "
            f"of {', '.join(SSH_OPTIONS)} and a plain value"
        )
    for name, setting in options:
        if name.lower() != "userknownhostsfile":
            continue
        if problems := _not_own_file(Path(setting), results_dir):
            raise RemoteRefused(
                f"{REMOTE_FILE}: {key}: UserKnownHostsFile {setting!r} is "
                f"{', '.join(problems)}; give your own known_hosts"
            )


def _ssh_options(value: object) -> list[tuple[str, str]] | None:
    """(Name, value) of each `-o Name=value` of an ansible_ssh_common_args; None when it holds
    anything else."""
    try:
        words = shlex.split(value) if isinstance(value, str) else None
    except ValueError:  # unbalanced quotes
        return None
    if words is None:
        return None
    options = []
    while words:
        word = words.pop(0)
        if word == "-o" and words:
            option = words.pop(0)
        elif word.startswith("-o") and len(word) > 2:
            option = word[2:]
        else:
            return None
        name, _, setting = option.partition("=")
        options.append((name, setting))
    return options


def known_hosts_file(remote: dict) -> str:
    """The known_hosts file ssh checks the host against: the connection's UserKnownHostsFile
    (a file of the user's own, checked), or the user's ~/.ssh/known_hosts."""
    common_args = remote.get("connection", {}).get("ansible_ssh_common_args", "")
    named = [setting for name, setting in _ssh_options(common_args) or []
             if name.lower() == "userknownhostsfile"]  # fmt: skip
    return named[0] if named else os.path.expanduser("~/.ssh/known_hosts")


def _refuse_unknown(what: str, mapping: dict, checks: dict, names: str) -> None:
    """RemoteRefused naming mapping's keys that checks has no check for, and the valid ones."""
    unknown = sorted(set(mapping) - set(checks))
    if unknown:
        raise RemoteRefused(f"{what} has unknown {names} {unknown}; valid: {sorted(checks)}")


def _kind(value: object) -> str:
    return type(value).__name__


_CONNECTION_CHECKS = {
    "ansible_connection": _check_connection_type,
    "ansible_host": _matching(_HOST, "a host name or address"),
    "ansible_port": _check_port,
    "ansible_user": _matching(_USER, "a user name"),
    "ansible_ssh_private_key_file": _matching(_ABSOLUTE_PATH, "an absolute path"),
    "ansible_ssh_common_args": _check_ssh_args,
    "ansible_python_interpreter": _check_interpreter,
}
_CHECKS = {
    "sweep_id": _matching(_NAME, "a sweep id (letters, digits, . _ -)"),
    "backend": _check_backend,
    "host": _matching(_HOST, "an inventory host name"),
    "inventory": _check_inventory,
    "remote_dir": _check_remote_dir,
    "python": _check_interpreter,
    "pythonpath": _check_outside,
    "jobs": _check_jobs,
    "connection": _check_connection,
}


def main(argv: list[str]) -> int:
    """Print the checked remote.json of argv[0], or why it is refused."""
    results_dir = Path(argv[0])
    try:
        remote = read_remote(results_dir)
    except RemoteRefused as error:
        print(f"{results_dir}: {error}", file=sys.stderr)
        return 2
    if remote is None:
        print(f"{results_dir} has no {REMOTE_FILE}", file=sys.stderr)
        return 2
    print(json.dumps(remote))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
