"""Unit tests of a sweep's fair share of a Slurm cluster, as planned (no cluster needed): the
default array throttle derived from sinfo's node counts, the CPUs each job asks for, and
slurm-jobs.tsv's several run arrays read back by the progress report."""

import pytest
from builders import make_plan, make_sweep
from conftest import PROJECT, run_playbook
from test_slurm_progress import progress, write_sweep

pytestmark = [pytest.mark.e2e, pytest.mark.slurm]

SINFO = [
    # sinfo --noheader --format='%R %c %D': one line per group of nodes of a partition
    "mcimone-nodes 4 6",
    "mcimone-nodes 4 2",
    "mcimone-milkvs 64+ 1",
    "mcimone-milkvs 32 2",
    "tiny 2 1",
]


def test_sinfo_lines_give_each_partition_its_nodes_and_least_cores():
    scheduler = progress.partitions(SINFO)
    assert scheduler["nodes"] == {"mcimone-nodes": 8, "mcimone-milkvs": 3, "tiny": 1}
    assert scheduler["cores"] == {"mcimone-nodes": 4, "mcimone-milkvs": 32, "tiny": 2}


def test_default_throttle_is_a_share_of_the_partition_s_nodes():
    scheduler = progress.partitions(SINFO)
    nodes, milkvs, tiny = make_plan(
        [{"name": "mcimone-nodes"}, {"name": "mcimone-milkvs"}, {"name": "tiny"}],
        node_cores=scheduler["cores"],
        node_counts=scheduler["nodes"],
    )
    # half of 8 nodes; half of 3 rounded down; never below one task at a time
    assert [p["array_throttle"] for p in (nodes, milkvs, tiny)] == [4, 1, 1]
    assert {p["array_throttle_source"] for p in (nodes, milkvs, tiny)} == {"derived"}
    assert [p["nodes"] for p in (nodes, milkvs, tiny)] == [8, 3, 1]
    (everything,) = make_plan(
        [{"name": "mcimone-nodes"}], node_cores={"mcimone-nodes": 4},
        node_counts={"mcimone-nodes": 8}, node_share=1,
    )  # fmt: skip
    assert everything["array_throttle"] == 8


def test_an_explicit_throttle_wins():
    counts = {"a": 8, "b": 8}
    own, swept = make_plan(
        [{"name": "a", "cores": 4, "array_throttle": 7}, {"name": "b", "cores": 4}],
        node_counts=counts,
        array_throttle=2,
    )
    assert (own["array_throttle"], own["array_throttle_source"]) == (7, "given")
    assert (swept["array_throttle"], swept["array_throttle_source"]) == (2, "given")


def test_node_count_unknown_means_no_throttle():
    # a local sweep: no scheduler, no array
    (local,) = make_plan([{"name": "local", "cores": 4}])
    assert (local["nodes"], local["array_throttle"]) == (None, 0)


@pytest.mark.parametrize(
    ("exclusive", "runs", "profiles"),
    [(True, [8], 8), (False, [1, 2, 4], 4)],
)
def test_cpus_per_task(exclusive, runs, profiles):
    # Exclusive: one array asking for the node's cores. Not exclusive: one array per thread
    # count asking for it; profiling runs ask for the largest (they choose when they run).
    (partition,) = make_sweep(
        [{"name": "p", "cores": 8, "threads": [4, 1, 2], "exclusive": exclusive}],
        flag_sets={"O3-openmp": "-O3 -fopenmp"},
        profile_selectors=["fastest"],
    )["partitions"]
    assert [array["cpus_per_task"] for array in partition["arrays"]] == runs
    assert partition["profile_array"]["cpus_per_task"] == profiles


def test_progress_reads_several_run_arrays_per_partition(tmp_path):
    write_sweep(tmp_path, ("p1", 10, [11, 12, 13], 6, 14, 2), ("p2", 20, [21], 2))
    (first, second), _ = progress.read_jobs(tmp_path)
    assert first["array_job_ids"] == [11, 12, 13] and second["array_job_ids"] == [21]
    arrays = progress.arrays_of([first, second])
    # every array's task ids count from the partition's first task; each holds its own
    assert {job: arrays[job] for job in (11, 12, 13, 21)} == {
        11: (0, {0, 3}),
        12: (0, {1, 4}),
        13: (0, {2, 5}),
        21: (8, {0, 1}),
    }
    assert arrays[14] == (6, {0, 1})


@pytest.mark.parametrize(
    ("share", "message"),
    [
        ("0", 'sweep_slurm_node_share "0" is not valid: give a number above 0 and at most 1'),
        ("1.5", 'sweep_slurm_node_share "1.5" is not valid: give a number above 0 and at most 1'),
        ("half", "argument 'sweep_slurm_node_share' is of type str and we were unable to convert"),
    ],
)
def test_bad_node_share_fails_before_anything_is_provisioned(tmp_path, share, message):
    run = run_playbook(
        "sweep.yml", "-i", str(PROJECT / "inventory" / "local-slurm.yml"),
        "-e", f"llamasweep_workspace={tmp_path / 'ws'}",
        "-e", f"sweep_slurm_node_share={share}", check=False,
    )  # fmt: skip
    output = " ".join(run.stdout.split())
    assert run.returncode != 0
    assert message in output
    assert not (tmp_path / "ws" / "llama2.c").exists()
