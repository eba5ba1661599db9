"""The scheduler backends behind one interface (module_utils/backends.py): every backend
module has every part of it, every backend's task file has every step, and the role's
common task files name no backend."""

import inspect
import re

import pytest
import yaml
from ansible_collections.llamasweep.sweep.plugins.module_utils import backends, sweep_rules
from conftest import PROJECT

pytestmark = pytest.mark.unit

TASKS = PROJECT / "roles" / "sweep" / "tasks"
STEPS = {"query", "files", "build", "run", "active", "resume"}
STATUSES = {
    None,
    sweep_rules.STATUS_FAILED,
    sweep_rules.STATUS_TIMEOUT,
    sweep_rules.STATUS_CANCELLED,
}


@pytest.mark.parametrize("name", backends.NAMES)
def test_each_backend_module_has_the_whole_interface(name):
    backend = backends.backend(name)
    assert backend.NAME == name
    assert isinstance(backend.REMOTE, bool)
    assert set(backend.TASK_ENVIRONMENT) <= set(backends.TASK_FIELDS)
    assert all(re.fullmatch(r"[A-Z_][A-Z0-9_]*", v) for v in backend.TASK_ENVIRONMENT.values())
    assert set(backend.FINAL_STATES.values()) <= STATUSES
    assert list(inspect.signature(backend.scheduled_status).parameters) == [
        "started", "output_text", "job", "build", "build_error", "partition",
    ]  # fmt: skip
    assert callable(backend.progress) and callable(backend.main)
    # The progress report runs from the sweep's tools/, beside sweep_rules.py, on a Python
    # that may lack Ansible: the collection's import is only tried.
    source = inspect.getsource(backend)
    assert "except ImportError:" in source and "from sweep_rules import" in source


def test_a_backend_without_a_scheduler_says_nothing_of_a_run_without_files():
    local = backends.backend("local")
    assert local.FINAL_STATES == {} and local.TASK_ENVIRONMENT == {}
    assert (
        local.scheduled_status(False, "CANCELLED AT now", {"state": "TIMEOUT"}, {}, "", "p") is None
    )


def test_an_unknown_backend_is_named_with_the_valid_ones():
    with pytest.raises(ValueError, match=r"backend 'pbs' is none of this project's: local, slurm"):
        backends.backend("pbs")


def test_task_facts_give_every_field_and_the_output():
    slurm = backends.task_facts("slurm")
    assert set(slurm["environment"]) == set(backends.TASK_FIELDS)
    assert slurm["environment"]["array_task_id"] == "SLURM_ARRAY_TASK_ID"
    assert slurm["output"] == "slurm/%A_%a.out"
    local = backends.task_facts("local")
    assert local == {"environment": dict.fromkeys(backends.TASK_FIELDS, ""), "output": ""}


def steps_of(path) -> set[str]:
    """The steps a backend's task file implements: the values its top-level `when` compare
    sweep_backend_step with."""
    steps = set()
    for task in yaml.safe_load(path.read_text()):
        when = task.get("when", "")
        steps |= set(re.findall(r"sweep_backend_step == '(\w+)'", when))
        for listed in re.findall(r"sweep_backend_step in \[([^\]]*)\]", when):
            steps |= set(re.findall(r"'(\w+)'", listed))
    return steps


@pytest.mark.parametrize("name", backends.NAMES)
def test_each_backend_task_file_implements_only_the_steps(name):
    steps = steps_of(TASKS / f"backend_{name}.yml")
    # A step a backend has nothing to do in (Slurm compiles in its build jobs) may be absent.
    assert steps <= STEPS and {"query", "files", "run", "active", "resume"} <= steps, steps


def test_the_role_calls_every_step_and_its_common_files_name_no_backend():
    called = set()
    for path in TASKS.glob("*.yml"):
        if path.name.startswith("backend_"):
            continue
        text = path.read_text()
        called |= set(re.findall(r"sweep_backend_step: (\w+)", text))
        assert not re.search(r"sweep_backend [!=]= '", text), path.name
    assert called == STEPS
