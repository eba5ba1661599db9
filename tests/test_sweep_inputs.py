"""Unit tests of the sweep's input rules (module_utils/sweep_inputs.py): errors() names every
bad input at once, each message with the bad value and what is valid."""

import pytest
import yaml
from ansible_collections.llamasweep.sweep.plugins.module_utils import sweep_inputs as inputs
from ansible_collections.llamasweep.sweep.plugins.module_utils.sweep_model import INPUTS
from conftest import PROJECT

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def valid():
    """The project's own sweep definition: the role's defaults under group_vars/all."""
    values = {}
    for path in ("roles/sweep/defaults/main.yml", *sorted(PROJECT.glob("group_vars/all/*.yml"))):
        values.update(yaml.safe_load((PROJECT / path).read_text()))
    return {name: values[name] for name in inputs.INPUT_NAMES}


def test_each_check_the_model_names_is_one_of_sweep_inputs():
    """RULES holds exactly the inputs the model says are checked alone; every other check is
    a function of sweep_inputs."""
    assert set(inputs.RULES) == {spec.name for spec in INPUTS if spec.check == "RULES"}
    for spec in INPUTS:
        if spec.check not in ("", "RULES"):
            assert callable(getattr(inputs, spec.check, None)), f"{spec.name}: {spec.check}"


def test_the_project_s_own_sweep_definition_is_valid(valid):
    assert inputs.errors(valid) == []


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("sweep_models", [], "sweep_models [] is not a non-empty list of known models;"),
        ("sweep_models", "stories15M", 'sweep_models "stories15M" is not a non-empty list'),
        ("sweep_models", ["stories99M"], "(unknown: stories99M); valid names (checkpoint_catalog)"),
        ("sweep_flag_sets", {}, "sweep_flag_sets {} is not valid: it must be a non-empty mapping"),
        ("sweep_flag_sets", {"a b": "-O3"}, 'sweep_flag_sets {"a b": "-O3"} is not valid'),
        ("sweep_flag_sets", {"O3": ["-O3"]}, 'sweep_flag_sets {"O3": ["-O3"]} is not valid'),
        ("sweep_threads", "-1", 'sweep_threads "-1" is not valid: give a list of positive'),
        ("sweep_threads", [2, 2.5], "sweep_threads [2, 2.5] is not valid"),
        ("sweep_threads", "1,0", 'sweep_threads "1,0" is not valid'),
        ("sweep_repetitions", "0", 'sweep_repetitions "0" is not valid: give a positive integer'),
        ("sweep_repetitions", True, "sweep_repetitions true is not valid"),
        ("sweep_steps", 2.0, "sweep_steps 2.0 is not valid: give a positive integer"),
        ("sweep_order_seed", "-3", 'sweep_order_seed "-3" is not valid: give a non-negative'),
        ("sweep_seed", "x", 'sweep_seed "x" is not valid: give a non-negative integer'),
        ("sweep_temperature", "-1", 'sweep_temperature "-1" is not valid: give a number >= 0'),
        ("sweep_topp", 1.5, "sweep_topp 1.5 is not valid: give a number from 0 to 1"),
        ("sweep_bandwidth_trials", 0, "sweep_bandwidth_trials 0 is not valid: give a positive"),
        ("sweep_bandwidth_large_bytes", "8", 'sweep_bandwidth_large_bytes "8" is not valid'),
        ("sweep_warmup_runs", "-1", 'sweep_warmup_runs "-1" is not valid: give an integer >= 0'),
        ("sweep_profile_event", "$(reboot)", 'sweep_profile_event "$(reboot)" is not valid: give'),
        ("sweep_profile_frequency", "0", 'sweep_profile_frequency "0" is not valid'),
        ("sweep_profile_stack_bytes", 4100, "sweep_profile_stack_bytes 4100 is not valid"),
        ("sweep_profile_stack_bytes", 65536, "a multiple of 8 from 8 to 65528"),
        ("sweep_prompt", 3, "sweep_prompt 3 is not valid: give a string"),
        ("sweep_run_prefix", "numactl", 'sweep_run_prefix "numactl" is not valid: give a list'),
        ("sweep_backend", "pbs", 'sweep_backend "pbs" is not valid: give local or slurm'),
        ("sweep_validate_riscv", "maybe", 'sweep_validate_riscv "maybe" is not valid'),
        ("sweep_validate_riscv_ignore", [1], "sweep_validate_riscv_ignore [1] is not valid"),
        ("sweep_validate_riscv_emulator", "qemu", "emulator 'qemu' is not a mapping"),
        ("sweep_validate_riscv_steps", 0, "sweep_validate_riscv_steps 0 is not valid"),
        ("sweep_slurm_build_time_limit", "1h", 'sweep_slurm_build_time_limit "1h" is not valid'),
        ("sweep_slurm_array_throttle", -1, "sweep_slurm_array_throttle -1 is not valid"),
        ("sweep_slurm_node_share", 0, "sweep_slurm_node_share 0 is not valid: give a number"),
        ("sweep_slurm_node_share", "1.5", "at most 1"),
        (
            "sweep_profile_select",
            ["fastest", "quickest"],
            "names 'quickest', which is neither fastest, slowest nor a flag set",
        ),
    ],
)
def test_each_rule_names_the_bad_value_and_what_is_valid(valid, name, value, message):
    problems = inputs.errors({**valid, name: value})
    assert len(problems) == 1, problems
    assert message in problems[0]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("sweep_threads", "1, 2,"),  # -e sweep_threads=1,2 gives text
        ("sweep_threads", []),
        ("sweep_repetitions", "3"),
        ("sweep_order_seed", None),
        ("sweep_order_seed", ""),
        ("sweep_topp", "1"),
        ("sweep_validate_riscv", True),
        ("sweep_validate_riscv_ignore", "a,b"),
        ("sweep_slurm_build_time_limit", "1-00:30"),
        ("sweep_slurm_node_share", 1),
    ],
)
def test_what_ansible_and_e_give_is_accepted(valid, name, value):
    assert inputs.errors({**valid, name: value}) == []


def test_several_bad_inputs_give_one_message_each_in_one_run(valid):
    problems = inputs.errors(
        {**valid, "sweep_models": ["stories99M"], "sweep_threads": "two", "sweep_steps": 0}
    )
    assert [problem.split()[0] for problem in problems] == [
        "sweep_models",
        "sweep_threads",
        "sweep_steps",
    ]


def test_partitions_are_checked_for_a_slurm_sweep_only(valid):
    partitions = [{"name": "p", "time_limt": "5"}]
    assert inputs.errors({**valid, "sweep_partitions": partitions}) == []
    (problem,) = inputs.errors({**valid, "sweep_backend": "slurm", "sweep_partitions": partitions})
    assert problem.startswith("sweep_partitions (from the inventory) is not valid: partition 'p':")
    assert "unknown keys ['time_limt']" in problem
    assert problem.endswith("perf_events, emulator, arch and requires_compiler_support.")


def test_the_thread_list_accepts_a_list_or_comma_separated_text():
    assert inputs.thread_list("1, 2,,4") == ["1", "2", "4"]
    assert inputs.thread_list([1, " 2"]) == ["1", "2"]
    assert inputs.thread_list([]) == []
