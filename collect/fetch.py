"""`python -m collect fetch`: bring a Slurm sweep's results from cluster storage.

A Slurm sweep leaves on the controller only results/<sweep_id>/remote.json (which host and
inventory hold it, and where); this runs playbooks/fetch.yml through ansible-runner with that
inventory, limited to that host, which archives the remote directory, fetches it in one
transfer and unpacks it into results/<sweep_id>/. A local sweep's results are complete
already: nothing to do; nor for a sweep fetched once every job had ended (its
scheduler.json, brought up to date just before the archive is made, says finished), as
after a waited `make sweep`, unless forced.

remote.json is data (collect/remote.py checks it before anything runs), and host-key
checking stays on: ansible-runner turns it off unless told otherwise, so it is told. A host
whose key is unknown or changed is refused by ssh, known_hosts is left as it was, and the
message says what to do.
"""

import json
import os
import sys
import tempfile
from pathlib import Path

from collect.remote import RemoteRefused, read_remote

PROJECT = Path(__file__).resolve().parent.parent
PLAYBOOK = PROJECT / "playbooks" / "fetch.yml"
# What ssh prints when it refuses a host for its key (unknown, or changed).
HOST_KEY_REFUSED = "Host key verification failed"


def fetched_finished(results_dir: Path) -> bool:
    """Whether results_dir holds a fetch made after every job of the sweep had ended."""
    try:
        state = json.loads((results_dir / "scheduler.json").read_text())
    except (OSError, ValueError):
        return False
    return isinstance(state, dict) and state.get("finished") is True


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
            f"{results_dir}: fetched after every job had ended (scheduler.json), nothing "
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
