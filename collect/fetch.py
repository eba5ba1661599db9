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
checking stays on: ansible-runner turns it off unless told otherwise, so it is told. A host
whose key is unknown or changed is refused by ssh, known_hosts is left as it was, and the
message says what to do.
"""

import json
import os
import shutil
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from collect.atomic import write_text
from collect.remote import RemoteRefused, read_remote

PROJECT = Path(__file__).resolve().parent.parent
PLAYBOOK = PROJECT / "playbooks" / "fetch.yml"
# What ssh prints when it refuses a host for its key (unknown, or changed).
HOST_KEY_REFUSED = "Host key verification failed"


MARKER = "fetched"
# What the controller itself writes in results/<sweep_id>/ (the pointer, the marker, what
# `collect summarize` writes): a fetch never brings nor replaces these.
CONTROLLER_FILES = frozenset(
    {"remote.json", MARKER, "runs.csv", "summary.md", "report.html", "plots"}
)


def fetched_finished(results_dir: Path) -> bool:
    """Whether results_dir holds a complete fetch made after every job of the sweep had
    ended (its marker says so)."""
    try:
        marker = json.loads((results_dir / MARKER).read_text())
    except (OSError, ValueError):
        return False
    return isinstance(marker, dict) and marker.get("finished") is True


def unpack(archive: Path, results_dir: Path) -> None:
    """Unpack the fetched archive of a sweep's directory (its one top directory) over
    results_dir, all or nothing: the marker goes first; the archive is extracted into a
    sibling directory (what an interrupted fetch left there is thrown away), each file is
    renamed into place whole, then the marker is written, saying when and whether every job
    had ended (the fetched scheduler.json)."""
    staging = results_dir.with_name(f".{results_dir.name}.fetching")
    shutil.rmtree(staging, ignore_errors=True)
    (results_dir / MARKER).unlink(missing_ok=True)
    staging.mkdir(mode=0o700)
    with tarfile.open(archive, "r|gz") as tar:  # read as a stream: from a pipe too
        tar.extractall(staging, filter="data")  # nothing outside staging, no devices
    (top,) = staging.iterdir()
    for directory, subdirectories, files in os.walk(top):
        # Links to directories are moved as they are, never followed.
        links = [name for name in subdirectories if os.path.islink(os.path.join(directory, name))]
        for name in [*files, *links]:
            relative = Path(directory, name).relative_to(top)
            if relative.parts[0] in CONTROLLER_FILES:
                continue
            (results_dir / relative).parent.mkdir(parents=True, exist_ok=True)
            os.replace(top / relative, results_dir / relative)
    try:
        scheduler = json.loads((results_dir / "scheduler.json").read_text())
    except (OSError, ValueError):
        scheduler = {}
    finished = isinstance(scheduler, dict) and scheduler.get("finished") is True
    marker = {"fetched": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "finished": finished}
    write_text(results_dir / MARKER, json.dumps(marker) + "\n")
    shutil.rmtree(staging)


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
    with tempfile.TemporaryDirectory(prefix="llamasweep-fetch-") as private_data_dir:
        result = ansible_runner.run(
            private_data_dir=private_data_dir,
            project_dir=str(PROJECT),
            playbook=str(PLAYBOOK),
            inventory=remote["inventory"],
            limit=remote["host"],
            # The connection the sweep was submitted with (remote.json), whatever -e it had.
            extravars={**remote.get("connection", {}), "sweep_fetch_results": str(results_dir)},
            # ansible-runner sets ANSIBLE_HOST_KEY_CHECKING=False unless given a value.
            envvars={"ANSIBLE_HOST_KEY_CHECKING": "True"},
            quiet=quiet,
        )
        if result.rc != 0:  # the events live in private_data_dir: read them before it goes
            reasons = failure_messages(list(result.events))
            if any(HOST_KEY_REFUSED in reason for reason in reasons):
                print(host_key_advice(remote), file=sys.stderr)
            print(f"collect fetch: {PLAYBOOK.name} failed ({result.status}): "
                  f"{'; '.join(reasons) or 'see the output above'}", file=sys.stderr)  # fmt: skip
    return result.rc


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
    return (
        f"collect fetch: the host key of {entry} is not the one recorded in known_hosts (or "
        "none is recorded): nothing was fetched and known_hosts is unchanged. If the "
        "cluster's admins announced a new host key, remove the old one with "
        f"`ssh-keygen -R '{entry}'` and run `make onboard` again to check and record the "
        "new one against its published fingerprint; otherwise do not connect, and tell them."
    )


def main(argv: list[str]) -> int:
    """python -m collect.fetch ARCHIVE RESULTS_DIR: the unpack step of playbooks/fetch.yml."""
    if len(argv) != 2:
        print("usage: python -m collect.fetch ARCHIVE RESULTS_DIR", file=sys.stderr)
        return 2
    try:
        unpack(Path(argv[0]), Path(argv[1]))
    except (OSError, tarfile.TarError, ValueError) as error:
        print(f"collect.fetch: cannot unpack {argv[0]} into {argv[1]}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
