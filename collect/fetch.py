"""`python -m collect fetch`: bring a Slurm sweep's results from cluster storage.

A Slurm sweep leaves on the controller only results/<sweep_id>/remote.json (which host and
inventory hold it, and where); this runs playbooks/fetch.yml through ansible-runner with that
inventory, limited to that host, which archives the remote directory, fetches it in one
transfer and unpacks it into results/<sweep_id>/ with `python -m collect.fetch` (unpack
below): all or nothing, the marker `fetched` written last. A local sweep's results are
complete already: nothing to do; nor for a sweep whose marker says the fetch was made once
every job had ended (scheduler.json, brought up to date just before the archive is made), as
after a waited `make sweep`, unless forced. Without the marker (never fetched, or a fetch
interrupted) the next fetch brings everything again.

remote.json is data (collect/remote.py checks it before anything runs), and host-key
checking stays on whatever the environment and ~/.ssh/config say (ssh_environment). A host
whose key is unknown or changed is refused by ssh, known_hosts is left as it was, and the
message says what to do.
"""

import configparser
import contextlib
import errno
import fcntl
import json
import os
import shutil
import stat
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from collect.atomic import write_text
from collect.notebook import NOTEBOOK_FILE
from collect.remote import RemoteRefused, known_hosts_file, read_remote

PROJECT = Path(__file__).resolve().parent.parent
PLAYBOOK = PROJECT / "playbooks" / "fetch.yml"
# What ssh prints when it refuses a host for its key (unknown, or changed).
HOST_KEY_REFUSED = "Host key verification failed"


MARKER = "fetched"
# Inside the results directory, so that nothing of a fetch is written outside it: where the
# archive is extracted before each file is renamed into place, and the lock that keeps one
# unpack at a time per sweep.
STAGING = ".fetching"
LOCK = ".fetch.lock"
# What the controller itself writes in results/<sweep_id>/ (the pointer, the marker, the
# archive being fetched, what `collect summarize` writes): a fetch never brings nor replaces
# these.
CONTROLLER_FILES = frozenset(
    {"remote.json", MARKER, STAGING, LOCK, "remote.tar.gz.part", "runs.csv", "summary.md",
     "report.html", "plots", NOTEBOOK_FILE}
)  # fmt: skip
# Settings of the environment that could turn host-key checking off, run another ssh or
# read another ansible.cfg: the fetch gives ansible-runner none of them (ssh_environment).
OVERRIDDEN_SSH_SETTINGS = frozenset(
    {"ANSIBLE_CONFIG", "ANSIBLE_SSH_ARGS", "ANSIBLE_SSH_COMMON_ARGS", "ANSIBLE_SSH_EXTRA_ARGS",
     "ANSIBLE_SSH_EXECUTABLE"}
)  # fmt: skip
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# A marker that is a link or a FIFO is not opened, nor waited on.
_MARKER_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class ArchiveRefused(ValueError):
    """A member of the fetched archive that a sweep never writes; the message says which."""


def fetch_marker(results_dir: Path, owner: int | None = None) -> dict:
    """What the marker of results_dir's last complete fetch says: {} without one, or where
    it is not a regular file (a link is never followed: unpack writes a file) or, given
    owner, not owned by that uid."""
    try:
        descriptor = os.open(results_dir / MARKER, _MARKER_READ)
    except OSError:
        return {}
    with os.fdopen(descriptor, "rb") as file:
        # The file opened, not the name looked at again: it cannot be swapped in between.
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode) or owner not in (None, info.st_uid):
            return {}
        try:
            marker = json.loads(file.read())
        except (OSError, ValueError):
            return {}
    return marker if isinstance(marker, dict) else {}


def fetched_finished(results_dir: Path) -> bool:
    """Whether results_dir holds a complete fetch made after every job of the sweep had
    ended (its marker says so)."""
    return fetch_marker(results_dir).get("finished") is True


def unpack(archive: Path, results_dir: Path, student: str | None = None) -> None:
    """Unpack the fetched archive of a sweep's directory (its one top directory) over
    results_dir, all or nothing, one unpack at a time (a second waits): the marker goes
    first; the archive is extracted into results_dir/.fetching (what an interrupted fetch
    left there is thrown away), each file is renamed into place whole, then the marker is
    written, saying when and whether every job had ended (the fetched scheduler.json) and,
    from a class's fetch, whose sweep it is (the account that owns it on cluster storage)."""
    lock = os.open(results_dir / LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"collect.fetch: another fetch is unpacking into {results_dir}; waiting for it",
                  file=sys.stderr)  # fmt: skip
            fcntl.flock(lock, fcntl.LOCK_EX)
        _unpack_locked(archive, results_dir, student)
    finally:
        os.close(lock)


def _unpack_locked(archive: Path, results_dir: Path, student: str | None) -> None:
    staging = results_dir / STAGING
    if staging.is_symlink():
        staging.unlink()
    shutil.rmtree(staging, ignore_errors=True)
    (results_dir / MARKER).unlink(missing_ok=True)
    staging.mkdir(mode=0o700)
    with tarfile.open(archive, "r|gz") as tar:  # read as a stream: from a pipe too
        placed = _extract(tar, staging)
    for relative in placed:
        _move_into_place(staging, results_dir, relative)
    try:
        scheduler = json.loads((results_dir / "scheduler.json").read_text())
    except (OSError, ValueError):
        scheduler = {}
    finished = isinstance(scheduler, dict) and scheduler.get("finished") is True
    marker = {"fetched": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "finished": finished}
    if student is not None:
        marker["student"] = student
    write_text(results_dir / MARKER, json.dumps(marker) + "\n")
    shutil.rmtree(staging)


def _extract(tar: tarfile.TarFile, staging: Path) -> list[PurePosixPath]:
    """Extract the archive's regular files, directories and links into staging, each member
    checked first (what filter="data" checks, on every Python: tarfile of Debian 12's 3.11.2
    has no filter, and its check is against the staging directory, not where the files
    finally go); the paths, below the top directory, of the files and links to move into
    place. Directories and files get the modes filter="data" gives them; nothing is chowned."""
    top = None
    placed = []
    for member in tar:
        path = _member_path(member.name)
        top = top or path.parts[0]
        if path.parts[0] != top:
            raise ArchiveRefused(f"{member.name}: outside the archive's one top directory {top}")
        relative = PurePosixPath(*path.parts[1:])
        if member.isdir():
            if relative.parts:
                with _open_directory(staging, relative, create=True):
                    pass
            continue
        if not relative.parts:
            raise ArchiveRefused(f"{member.name}: the archive's top is not a directory")
        if relative.parts[0] in CONTROLLER_FILES:
            continue
        if member.issym():
            _check_link(member, relative)
        elif not member.isreg():
            raise ArchiveRefused(f"{member.name}: not a regular file, directory or symbolic link")
        with _open_directory(staging, relative.parent, create=True) as parent:
            if member.issym():
                os.symlink(member.linkname, relative.name, dir_fd=parent)
            else:
                _write_file(tar, member, parent, relative.name)
        placed.append(relative)
    if top is None:
        raise ArchiveRefused("the archive is empty")
    return placed


def _member_path(name: str) -> PurePosixPath:
    """A member's path, refused when absolute or with a .. or an empty part."""
    parts = name.rstrip("/").split("/")
    if name.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise ArchiveRefused(f"{name}: an absolute path, or one with . or .. or an empty part")
    return PurePosixPath(*parts)


def _check_link(member: tarfile.TarInfo, relative: PurePosixPath) -> None:
    """A link must stay inside the sweep's directory wherever the links it passes through
    lead: relative, its .. only at the start, and no more of them than directories above
    it (a run's slurm.out -> ../../slurm/<job>_<task>.out). Going only down after the ..,
    through links that are themselves inside, it can never leave the directory; a .. after
    a link (`up/..` with up -> ..) could."""
    parts = member.linkname.split("/")
    ups = next((i for i, part in enumerate(parts) if part != ".."), len(parts))
    if (
        member.linkname.startswith("/")
        or any(part in ("", "..") for part in parts[ups:])
        or ups > len(relative.parts) - 1
    ):
        raise ArchiveRefused(
            f"{member.name} -> {member.linkname}: a link that may lead out of the sweep's directory"
        )


def _write_file(tar: tarfile.TarFile, member: tarfile.TarInfo, parent: int, name: str) -> None:
    """The member's content into a file created exclusively (never through a link), with
    filter="data"'s mode: no setuid, setgid or sticky bit, no write for others, readable and
    writable by the owner, executable by others only when by the owner."""
    mode = member.mode & 0o755 | 0o600
    if not mode & 0o100:
        mode &= ~0o111
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        descriptor = os.open(name, flags, mode, dir_fd=parent)
    except FileExistsError:
        raise ArchiveRefused(f"{member.name}: twice in the archive") from None
    with os.fdopen(descriptor, "wb") as file, tar.extractfile(member) as content:
        shutil.copyfileobj(content, file)
        os.fchmod(descriptor, mode)  # not narrowed by the umask, as tarfile does
        os.utime(descriptor, (member.mtime, member.mtime))


@contextlib.contextmanager
def _open_directory(root: Path, relative: PurePosixPath, create: bool = False) -> Iterator[int]:
    """A descriptor of the directory root/relative, opened without following any link on
    the way: each part must be a real directory (a link placed by an earlier fetch is never
    walked through); missing parts are made when create."""
    descriptor = os.open(root, _DIRECTORY)
    try:
        for part in relative.parts:
            if create:
                with contextlib.suppress(FileExistsError):
                    os.mkdir(part, 0o755, dir_fd=descriptor)
            try:
                child = os.open(part, _DIRECTORY, dir_fd=descriptor)
            except OSError as error:
                if error.errno not in (errno.ENOTDIR, errno.ELOOP):
                    raise
                raise ArchiveRefused(
                    f"{root / relative}: {part} is a link or a file, not a directory; nothing "
                    "is placed through it"
                ) from None
            os.close(descriptor)
            descriptor = child
        yield descriptor
    finally:
        os.close(descriptor)


def _move_into_place(staging: Path, results_dir: Path, relative: PurePosixPath) -> None:
    """Rename staging/relative over results_dir/relative, through real directories only."""
    with (
        _open_directory(staging, relative.parent) as source,
        _open_directory(results_dir, relative.parent, create=True) as destination,
    ):
        os.replace(relative.name, relative.name, src_dir_fd=source, dst_dir_fd=destination)


def fetch(results_dir: Path, quiet: bool = False, force: bool = False) -> int:
    """Fetch a Slurm sweep into results_dir; the playbook's exit status (0 for a local sweep
    or one fetched once finished, unless force)."""
    results_dir = results_dir.resolve()
    if "{" in str(results_dir) or "}" in str(results_dir):
        # The path becomes an extra variable, and extra variables are Jinja templates.
        raise RemoteRefused(f"{results_dir}: a results directory's path holds no {{ or }}")
    remote = read_remote(results_dir)
    if remote is None:
        if not results_dir.is_dir():
            raise FileNotFoundError(f"{results_dir} is not a sweep's results directory")
        print(f"{results_dir}: a local sweep (no remote.json), nothing to fetch")
        return 0
    if not force and fetched_finished(results_dir):
        print(
            f"{results_dir}: fetched whole after every job had ended ({MARKER}), nothing "
            "new to fetch (--force fetches again)"
        )
        return 0
    import ansible_runner  # only needed here: keeps the rest of collect light

    # ansible-runner runs ansible-playbook from PATH: the one beside this Python first.
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    for name in OVERRIDDEN_SSH_SETTINGS:
        os.environ.pop(name, None)  # ansible-runner passes on this process's environment
    with tempfile.TemporaryDirectory(prefix="llamasweep-fetch-") as private_data_dir:
        result = ansible_runner.run(
            private_data_dir=private_data_dir,
            project_dir=str(PROJECT),
            playbook=str(PLAYBOOK),
            inventory=remote["inventory"],
            limit=remote["host"],
            # The connection the sweep was submitted with (remote.json), whatever -e it had.
            extravars={**remote.get("connection", {}), "sweep_fetch_results": str(results_dir)},
            envvars=ssh_environment(remote),
            quiet=quiet,
        )
        if result.rc != 0:  # the events live in private_data_dir: read them before it goes
            reasons = failure_messages(list(result.events))
            if any(HOST_KEY_REFUSED in reason for reason in reasons):
                print(host_key_advice(remote), file=sys.stderr)
            print(f"collect fetch: {PLAYBOOK.name} failed ({result.status}): "
                  f"{'; '.join(reasons) or 'see the output above'}", file=sys.stderr)  # fmt: skip
    return result.rc


def ssh_environment(remote: dict) -> dict[str, str]:
    """The environment that keeps host-key checking on for the fetch's ssh: ansible-runner
    sets ANSIBLE_HOST_KEY_CHECKING=False unless given a value, and ANSIBLE_SSH_ARGS (the
    user's, which fetch clears with the rest of OVERRIDDEN_SSH_SETTINGS) would replace
    ansible.cfg's ssh_args. ssh keeps the first value it sees of an option, and these come
    first on its command line, before ansible_ssh_common_args and ~/.ssh/config: a
    `StrictHostKeyChecking no` or another known_hosts file there changes nothing."""
    config = configparser.ConfigParser(interpolation=None)
    config.read(PROJECT / "ansible.cfg")
    checked = f"-o StrictHostKeyChecking=yes -o UserKnownHostsFile={known_hosts_file(remote)}"
    return {
        "ANSIBLE_HOST_KEY_CHECKING": "True",
        "ANSIBLE_SSH_ARGS": f"{checked} {config['ssh_connection']['ssh_args']}",
    }


def failure_messages(events: list[dict]) -> list[str]:
    """The messages of the tasks that failed or could not reach their host, from
    ansible-runner's events."""
    import jmespath

    query = "[?event=='runner_on_failed' || event=='runner_on_unreachable'].event_data.res.msg"
    return [str(message).strip() for message in jmespath.search(query, events) or []]


def host_key_advice(remote: dict) -> str:
    """What to do when ssh refused the host of remote.json for its key."""
    connection = remote.get("connection", {})
    host = connection.get("ansible_host", remote["host"])
    port = int(connection.get("ansible_port", 22))
    entry = host if port == 22 else f"[{host}]:{port}"
    known_hosts = known_hosts_file(remote)
    return (
        f"collect fetch: the host key of {entry} is not the one recorded in {known_hosts} (or "
        "none is recorded): nothing was fetched and known_hosts is unchanged. If the "
        "cluster's admins announced a new host key, remove the old one with "
        f"`ssh-keygen -f '{known_hosts}' -R '{entry}'` and run `make onboard` again to check "
        "and record the new one against its published fingerprint; otherwise do not connect, "
        "and tell them."
    )


def main(argv: list[str]) -> int:
    """python -m collect.fetch ARCHIVE RESULTS_DIR [STUDENT]: the unpack step of
    playbooks/fetch.yml, and of fetch-class.yml (which names the sweep's student)."""
    if len(argv) not in (2, 3):
        print("usage: python -m collect.fetch ARCHIVE RESULTS_DIR [STUDENT]", file=sys.stderr)
        return 2
    try:
        unpack(Path(argv[0]), Path(argv[1]), *argv[2:])
    except (OSError, tarfile.TarError, ValueError) as error:  # ArchiveRefused too
        print(f"collect.fetch: cannot unpack {argv[0]} into {argv[1]}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
