"""End to end: the real playbooks/sweep.yml on localhost, offline, on the real llama2.c."""

import json
import os
import re
import shutil
import subprocess

import pandas as pd
import pytest
from conftest import PROJECT, run_playbook, summarize
from notebooks import outputs, run_notebook

from collect.notebook import NOTEBOOK_FILE
from collect.profiles import parse_folded, top_functions
from collect.sweepfiles import read_sweep_files

pytestmark = pytest.mark.e2e

FLAG_SETS = ["O3", "O3-openmp", "Ofast-openmp"]


def default_threads(cores: int) -> list[int]:
    """A partition's default thread counts: 1, 2, 4, ... up to its cores, cores included."""
    counts = [1 << power for power in range(cores.bit_length()) if 1 << power < cores]
    return [*counts, cores]


THREADS = default_threads(os.cpu_count())
# The seed of the run order of the end-to-end sweep (any: its order is checked from the plan).
ORDER_SEED = 2026
PLAN_FILES = ("plan.json", "sweep.json")


def test_sweep_runs_every_configuration_and_summarises(sweep_args, tmp_path):
    run = run_playbook(
        "sweep.yml",
        *sweep_args,
        "-e", "sweep_steps=64",
        "-e", "sweep_repetitions=2",
        "-e", f"sweep_bandwidth_large_bytes={48 * 2**20}",
        "-e", "sweep_bandwidth_trials=3",
        "-e", f"sweep_order_seed={ORDER_SEED}",
        # 64 steps of the fastest configuration last a fraction of a second: sampled at the
        # default 199 Hz a fast machine gives too few samples to name the hottest frame.
        "-e", "sweep_profile_frequency=997",
    )  # fmt: skip
    latest = tmp_path / "results" / "latest"
    summary = summarize(latest)

    runs = pd.read_csv(latest / "runs.csv")
    # O3 has no OpenMP: it runs at 1 thread only
    assert len(runs) == (1 + (len(FLAG_SETS) - 1) * len(THREADS)) * 2
    assert set(runs[runs["flag_set"] == "O3"]["threads"]) == {1}
    assert not runs["run_dir"].str.startswith(("warmup/", "bandwidth/", "runs/warmup")).any()
    assert (runs["status"] == "ok").all(), runs[["run_dir", "reason"]].to_string()
    assert (runs["tok_s"] > 0).all()
    assert sorted(runs["flag_set"].unique()) == FLAG_SETS
    assert set(runs["partition"]) == {"local"}
    assert set(runs["threads"]) == set(THREADS)
    assert "runs done" in run.stdout  # progress while the runs go on
    for flag_set in FLAG_SETS:
        assert flag_set in summary.stdout
    # The sweep's own files are all read (the bandwidth benchmark's binary is not a record).
    assert "Files not read" not in summary.stdout
    # How fast each configuration ran depends on the machine and its load: speed is measured
    # by bench/, never asserted here.

    # The run order is the plan's index order: round 1 of every configuration, then round
    # 2, each round in the order the recorded seed shuffled it (not the declared one).
    assert json.loads((latest / "plan.json").read_text())["order_seed"] == ORDER_SEED
    assert json.loads((latest / "sweep.json").read_text())["order_seed"] == ORDER_SEED
    started = pd.to_datetime(runs.sort_values("index")["start_time"], format="ISO8601")
    assert started.is_monotonic_increasing and started.is_unique
    by_round = runs.assign(started=started).groupby("repetition")["started"]
    assert by_round.max()[1] < by_round.min()[2]
    first_round = runs[runs["repetition"] == 1].sort_values("index")
    assert list(first_round["declared_order"]) != sorted(first_round["declared_order"])
    drift = summary.stdout.split("## Drift over the sweep")[1].split("\n## ")[0]
    assert f"sweep_order_seed={ORDER_SEED}" in drift
    (line,) = [line for line in drift.splitlines() if line.startswith("- `local`: ")]
    # On a machine of few cores the sweep has fewer configurations than drift needs.
    judged = ("tok/s drifted by ", "no detectable drift (", "too few runs to tell drift (")
    assert any(phrase in line for phrase in judged), line

    # The characterisation: the node's facts, bandwidth per thread count and working set
    # (run before the runs), one warm-up run per flag set; the report has the roofline.
    facts = json.loads((latest / "facts" / "local.json").read_text())
    assert facts["nproc"] == os.cpu_count() and facts["cpu_model"]
    for threads in THREADS:
        for label, size in [("large", 48 * 2**20), ("stories15M", 60_816_028)]:
            path = latest / "bandwidth" / f"local-t{threads}-{label}"
            measured = json.loads((path / "stdout.txt").read_text())  # triad's own JSON
            assert measured["best_gb_s"] > 0, measured
            assert (measured["threads"], measured["label"]) == (threads, label)
            assert abs(measured["working_set_bytes"] - size) < 24 and measured["trials"] == 3
            facts = (path / "execution.txt").read_text().splitlines()
            assert any(line.startswith("host=") for line in facts)
            first_run = min((latest / "runs").glob("*/status"), key=lambda p: p.stat().st_mtime)
            assert (path / "status").stat().st_mtime <= first_run.stat().st_mtime
    warmups = sorted(path.name for path in (latest / "warmup").iterdir())
    assert len(warmups) == len(FLAG_SETS), warmups
    for name in warmups:
        assert (latest / "warmup" / name / "status").read_text().strip() == "0"
        assert name not in set(runs["run_dir"].str.split("/").str[-1])
    assert len(list((latest / "runs").iterdir())) == len(runs)
    report = (latest / "report.html").read_text()
    assert "No bandwidth measurement" not in report
    assert "Files not read" not in report  # the triad binary in builds/ is no record
    assert "roofline: tok/s against threads under the memory-bandwidth bound" in report
    assert (latest / "plots" / "roofline.png").is_file()
    assert "of bound" in report

    # Profiles of the fastest and slowest flag set (each at its best thread count by median
    # tok/s), recorded after every run; llama2.c's matmul is the hottest frame of both.
    best = (
        runs.groupby(["flag_set", "threads"])["tok_s"]
        .median()
        .groupby("flag_set")
        .agg(["max", "idxmax"])
    )
    expected = {
        "fastest": best["idxmax"][best["max"].idxmax()],
        "slowest": best["idxmax"][best["max"].idxmin()],
    }
    last_run = max(path.stat().st_mtime for path in (latest / "runs").glob("*/status"))
    files = read_sweep_files(latest)
    assert sorted(profile.run_name for profile in files.profiles) == [
        "local-stories15M-fastest", "local-stories15M-slowest",
    ]  # fmt: skip
    flame_graphs = "LLAMASWEEP_TEST_FLAMEGRAPH" in os.environ
    for profile in files.profiles:
        info = profile.info
        assert profile.status == "ok", info
        assert (info["flag_set"], info["threads"]) == expected[info["selector"]]
        assert info["event"] in ("cycles", "cpu-clock") and info["call_graph"] == "dwarf"
        assert info["samples"] > 50
        top = top_functions(parse_folded(profile.folded_text))
        assert top.iloc[0]["function"].startswith("matmul"), top.head().to_string()
        assert top.iloc[0]["self_pct"] > 50
        assert (latest / "profiles" / profile.run_name / "status").stat().st_mtime >= last_run
        if flame_graphs:
            assert "<svg" in profile.svg_text and "matmul" in profile.svg_text
            assert not (latest / "profiles" / profile.run_name / "perf.data").exists()
    if flame_graphs:
        assert "2 of 2 profiling runs ok, 2 with a flame graph (perf record -e " in summary.stdout
        # Each in its sandboxed frame: what the sweep's flamegraph.pl writes is shown.
        assert report.count('<iframe sandbox="allow-scripts allow-modals"') == 2
        assert "flamegraph.svg not shown" not in report
    for selector in ("fastest", "slowest"):
        flag_set, threads = expected[selector]
        assert (
            f"- local / stories15M / {flag_set} / {threads} thread{'s' if threads > 1 else ''} "
            f"({selector}): hottest frame `matmul"
        ) in summary.stdout

    # The student's notebook runs headless on these results, and redraws the report's plots.
    notebook = run_notebook(latest / NOTEBOOK_FILE)
    assert len(outputs(notebook, "image/png")) == 3  # tok/s by flag set, speedup, roofline
    tables = " ".join(outputs(notebook, "text/plain"))
    assert all(flag_set in tables for flag_set in FLAG_SETS), tables


def test_frame_pointer_profile_of_a_named_flag_set_without_flamegraph(sweep_args, tmp_path):
    args = [
        *sweep_args, "-e", "sweep_steps=64", "-e", "sweep_repetitions=1", "-e", "sweep_threads=1",
        "-e", "sweep_bandwidth=false", "-e", "sweep_warmup_runs=0", "-e", "flamegraph_repo=",
        "-e", "sweep_profile_call_graph=fp", "-e", "sweep_perf_events=task-clock,page-faults",
        "-e", '{"sweep_profile_select": ["O3"]}',
        "-e", '{"sweep_flag_sets": {"O3": "-O3", "O3-openmp": "-O3 -fopenmp"}}',
    ]  # fmt: skip
    run = run_playbook("sweep.yml", *args)
    latest = tmp_path / "results" / "latest"
    summary = summarize(latest).stdout
    (profile,) = read_sweep_files(latest).profiles
    assert profile.run_name == "local-stories15M-O3"
    assert (profile.status, profile.info["flag_set"], profile.info["call_graph"]) == (
        "ok", "O3", "fp",
    )  # fmt: skip
    assert profile.info["svg_off_reason"] == "flamegraph_repo is empty"
    assert profile.svg_text is None
    assert (latest / "profiles" / profile.run_name / "perf.script").exists()
    # The profiling build of the flag set has frame pointers: the callers of the hottest
    # frame are known (frame-pointer call graphs do not name inlined functions: at -O3
    # matmul is inlined into forward).
    assert "built O3+fp" in run.stdout or "reused O3+fp" in run.stdout
    assert "-fno-omit-frame-pointer" in (latest / "builds" / "local" / "O3+fp.txt").read_text()
    stacks = parse_folded(profile.folded_text)
    frames, _ = max(stacks, key=lambda stack: stack[1])
    assert frames[-1] in ("matmul", "forward"), frames
    assert frames[-3:-1] == ["main", "generate"] or frames[-4:-1] == ["main", "generate", "forward"]
    assert "Without an SVG (flamegraph_repo is empty): their top functions are still listed." in (
        " ".join(summary.split())
    )
    # The event list of the partition (here sweep_perf_events) reached perf stat.
    perf = next((latest / "runs").glob("*/perf.txt")).read_text()
    assert "task-clock" in perf and "page-faults" in perf and "context-switches" not in perf


def test_profile_with_no_finished_run_is_failed_with_its_reason(sweep_args, tmp_path):
    args = [
        *sweep_args, "-e", "sweep_steps=4", "-e", "sweep_repetitions=1", "-e", "sweep_threads=1",
        "-e", "sweep_bandwidth=false", "-e", "sweep_warmup_runs=0",
        "-e", '{"sweep_run_prefix": ["false"], "sweep_flag_sets": {"O3": "-O3"}}',
    ]  # fmt: skip
    run_playbook("sweep.yml", *args)
    latest = tmp_path / "results" / "latest"
    summary = " ".join(summarize(latest).stdout.split())
    runs = pd.read_csv(latest / "runs.csv")
    assert list(runs["status"]) == ["failed"]
    (profile,) = read_sweep_files(latest).profiles
    assert profile.status == "no finished run of stories15M on local to select from"
    # no sweep_order_seed: a fresh one, recorded where plan.json and sweep.json agree
    seeds = {json.loads((latest / name).read_text())["order_seed"] for name in PLAN_FILES}
    assert len(seeds) == 1 and isinstance(seeds.pop(), int)
    assert (
        "0 of 1 profiling runs ok, 0 with a flame graph. "
        "Failed: no finished run of stories15M on local to select from."
    ) in summary


def test_unchanged_builds_are_not_built_again(sweep_args, workspace, tmp_path):
    quick = [
        *sweep_args,
        "-e",
        "sweep_steps=4",
        "-e",
        "sweep_repetitions=1",
        "-e",
        "sweep_profile=false",
    ]
    run_playbook("sweep.yml", *quick)
    first = {name: build_record(tmp_path, name) for name in FLAG_SETS}
    built_at = {name: os.stat(first[name]["cache_path"]).st_mtime_ns for name in FLAG_SETS}

    second = run_playbook("sweep.yml", *quick)
    for name in FLAG_SETS:
        assert f"reused {name}" in second.stdout
        record = build_record(tmp_path, name)
        assert record["outcome"] == "reused" and record["cache_path"] == first[name]["cache_path"]
        assert os.stat(record["cache_path"]).st_mtime_ns == built_at[name]
        # the sweep's link leads to the cached binary
        run_link = tmp_path / "results" / "latest" / "bin" / "local" / name / "run"
        assert os.path.realpath(run_link) == record["cache_path"]
    assert "built " not in second.stdout
    summary = summarize(tmp_path / "results" / "latest").stdout
    assert "Flame graphs were not recorded: sweep_profile is false." in summary


def build_record(tmp_path, flag_set: str) -> dict[str, str]:
    """builds/local/FLAG_SET.txt of the latest sweep (key=value lines)."""
    path = tmp_path / "results" / "latest" / "builds" / "local" / f"{flag_set}.txt"
    return dict(line.split("=", 1) for line in path.read_text().splitlines())


def test_top_level_group_vars_apply_to_any_inventory(tmp_path, sweep_args):
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(PROJECT / "ansible.cfg", project)
    for folder in ["group_vars", "playbooks", "roles", "collections"]:
        shutil.copytree(PROJECT / folder, project / folder, symlinks=True)
    sweep_file = project / "group_vars" / "all" / "sweep.yml"
    sweep_file.write_text(
        sweep_file.read_text()
        .replace("sweep_repetitions: 5", "sweep_repetitions: 2")
        .replace("  O3-openmp: -O3 -fopenmp\n", "")
        .replace("  Ofast-openmp: -Ofast -fopenmp\n", "")
    )
    # An inventory outside the project's inventory/ folder: no group_vars beside it.
    inventory = tmp_path / "elsewhere.yml"
    inventory.write_text(
        "all:\n  hosts:\n    localhost:\n      ansible_connection: local\n"
        "      ansible_python_interpreter: '{{ ansible_playbook_python }}'\n"
    )
    results = tmp_path / "results"
    args = [a for a in sweep_args if "sweep_results_dir" not in a and a != "-e"]
    run_playbook(
        "sweep.yml",
        "-i",
        str(inventory),
        "-e",
        f"sweep_results_dir={results}",
        "-e",
        "sweep_steps=4",
        "-e",
        "sweep_profile=false",
        *(x for arg in args for x in ("-e", arg)),
        cwd=project,
    )
    tasks = json.loads((results / "latest" / "plan.json").read_text())["tasks"]
    runs = [task for task in tasks if task["kind"] == "run"]
    # O3 has no OpenMP: one thread, whatever the cores
    assert [(r["flag_set"], r["threads"], r["repetition"]) for r in runs] == [
        ("O3", 1, 1), ("O3", 1, 2),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("setting", "named"),
    [
        ('{"sweep_models": ["stories99M"]}', ["stories99M", "stories15M, stories42M, stories110M"]),
        ('{"sweep_flag_sets": {}}', ["sweep_flag_sets {}", "non-empty mapping"]),
        ("sweep_threads=-1", ['sweep_threads "-1"', "positive integers"]),
        ("sweep_threads=two", ['sweep_threads "two"', "positive integers"]),
        ('{"sweep_threads": [2, 2.5]}', ["sweep_threads [2, 2.5]", "positive integers"]),
        ("sweep_repetitions=0", ['sweep_repetitions "0"', "positive integer"]),
        ("sweep_repetitions=three", ['sweep_repetitions "three"', "positive integer"]),
        ("sweep_warmup_runs=-1", ['sweep_warmup_runs "-1"', "integer >= 0"]),
        ("sweep_order_seed=-3", ['sweep_order_seed "-3"', "non-negative integer"]),
        ("sweep_bandwidth_trials=0", ['sweep_bandwidth_trials "0"', "positive integer"]),
        ("sweep_bandwidth_large_bytes=8", ['sweep_bandwidth_large_bytes "8"', "at least 24"]),
        ("llama2c_repo=/nonexistent/llama2.c.git", ["llama2c_repo '/nonexistent/llama2.c.git'"]),
        (
            '{"sweep_profile_select": ["fastest", "quickest"]}',
            ["'quickest', which is neither fastest, slowest nor a flag set", "O3-openmp"],
        ),
        (
            "sweep_profile_call_graph=lbr",
            ["sweep_profile_call_graph must be one of: dwarf, fp, got: lbr"],
        ),
        ("sweep_profile_frequency=0", ['sweep_profile_frequency "0"', "positive integer"]),
        ("sweep_profile_event=$(reboot)", ['sweep_profile_event "$(reboot)"', "one perf event"]),
    ],
)
def test_bad_input_fails_before_any_compile(setting, named, sweep_args, tmp_path):
    workspace = tmp_path / "bad-workspace"
    args = [*sweep_args, "-e", f"llamasweep_workspace={workspace}", "-e", setting]
    run = run_playbook("sweep.yml", *args, check=False)
    assert run.returncode != 0
    output = " ".join(run.stdout.split())  # the callback wraps long messages
    for text in named:
        assert text in output
    assert not (workspace / "bin").exists()
    assert not (tmp_path / "results").exists()


def test_flag_set_rejected_by_the_compiler_stops_before_any_run(sweep_args, tmp_path):
    marker = tmp_path / "executed"
    flags = f"-O3 $(touch {marker}) `touch {marker}`; touch {marker}"
    args = [*sweep_args, "-e", f'{{"sweep_flag_sets": {{"O3": "-O3", "evil": "{flags}"}}}}']
    run = run_playbook("sweep.yml", *args, check=False)
    output = " ".join(run.stdout.split())
    assert run.returncode != 0
    assert "flag set evil" in output and "was rejected by gcc" in output
    assert not marker.exists()
    assert not list((tmp_path / "results").glob("*/runs/*"))


def test_prompt_is_passed_literally(sweep_args, tmp_path):
    marker = tmp_path / "executed"
    prompt = f'It\'s "Lily"; touch {marker} $(touch {marker}) `touch {marker}`'
    args = [
        *sweep_args,
        "-e",
        json.dumps({"sweep_prompt": prompt}),
        "-e",
        "sweep_steps=64",
        "-e",
        "sweep_repetitions=1",
        "-e",
        '{"sweep_flag_sets": {"O3": "-O3"}}',
        "-e",
        "sweep_threads=1",
    ]
    run_playbook("sweep.yml", *args)
    assert not marker.exists()
    (run_dir,) = (tmp_path / "results" / "latest" / "runs").iterdir()
    assert (run_dir / "status").read_text().strip() == "0"
    # run.c echoes the prompt's tokens (all but the first) before generating.
    assert '"Lily"; touch' in (run_dir / "stdout.txt").read_text()
    # The profiling run got the same prompt, literally, and execution.txt quotes it.
    profile_dir = tmp_path / "results" / "latest" / "profiles" / "local-stories15M-fastest"
    assert '"Lily"; touch' in (profile_dir / "stdout.txt").read_text()
    assert (profile_dir / "status").read_text().strip() == "0"
    facts = dict(
        line.split("=", 1) for line in (profile_dir / "execution.txt").read_text().splitlines()
    )
    assert facts["failure"] == "" and "Lily" in facts["command"]


def test_runs_print_perf_in_the_c_locale_whatever_the_callers(sweep_args, tmp_path, monkeypatch):
    # A comma-decimal locale of the caller's (compiled here: Debian ships only C.UTF-8).
    locales = tmp_path / "locales"
    locales.mkdir()
    subprocess.run(["localedef", "-i", "de_DE", "-f", "UTF-8", locales / "de_DE.UTF-8"], check=True)
    monkeypatch.setenv("LOCPATH", str(locales))
    monkeypatch.setenv("LC_ALL", "de_DE.UTF-8")
    probe = tmp_path / "perf-de_DE.txt"
    subprocess.run(["perf", "stat", "-o", probe, "--", "true"], check=True)
    assert re.search(r"[0-9],[0-9]+ msec task-clock", probe.read_text())  # the locale works
    args = ["-e", "sweep_steps=64", "-e", "sweep_repetitions=1", "-e", "sweep_threads=1"]
    args += ["-e", "sweep_profile=false", "-e", "sweep_bandwidth=false"]
    args += ["-e", "sweep_warmup_runs=0", "-e", '{"sweep_flag_sets": {"O3": "-O3"}}']
    run_playbook("sweep.yml", *sweep_args, *args)
    (run_dir,) = (tmp_path / "results" / "latest" / "runs").iterdir()
    assert re.search(
        r"^ +[0-9]+\.[0-9]{2} msec task-clock", (run_dir / "perf.txt").read_text(), re.M
    )
    summarize(tmp_path / "results" / "latest")
    (row,) = pd.read_csv(tmp_path / "results" / "latest" / "runs.csv").to_dict("records")
    assert row["task_clock_ms"] > 0 and row["page_faults"] > 0 and row["elapsed_s"] > 0


def test_each_build_makes_a_greedy_check_run_compared_with_the_baseline(sweep_args, tmp_path):
    args = ["-e", "sweep_steps=16", "-e", "sweep_repetitions=1", "-e", "sweep_threads=1"]
    args += ["-e", "sweep_profile=false", "-e", "sweep_bandwidth=false"]
    args += ["-e", "sweep_warmup_runs=0"]
    args += ["-e", '{"sweep_flag_sets": {"O3": "-O3", "Ofast": "-Ofast"}}']
    run_playbook("sweep.yml", *sweep_args, *args)
    latest = tmp_path / "results" / "latest"
    plan = json.loads((latest / "plan.json").read_text())
    checks = [task for task in plan["tasks"] if task["kind"] == "check"]
    assert [(task["flag_set"], task["threads"], task["steps"]) for task in checks] == [
        ("O3", 1, 16), ("Ofast", 1, 16),
    ]  # fmt: skip
    for task in checks:  # greedy, never measured, before the runs
        assert (latest / task["dir"] / "status").read_text().strip() == "0"
        assert (latest / task["dir"] / "stdout.txt").read_text().split()
        assert not (latest / task["dir"] / "perf.txt").exists()
        facts = (latest / task["dir"] / "execution.txt").read_text()
        assert "perf=false" in facts
    summary = summarize(latest).stdout
    section = summary.split("## Output checks")[1].split("\n## ")[0]
    assert "| `local` | stories15M | `O3` | the reference (" in section
    (ofast,) = [line for line in section.splitlines() if "| `Ofast` | " in line]
    assert re.search(
        r"\| (\*\*suspect: )?"  # a suspect build's is in bold
        r"(identical \(\d+ words\)|diverges at word \d+ of \d+) against local/O3",
        ofast,
    )
    runs = pd.read_csv(latest / "runs.csv")
    assert sorted(runs["flag_set"]) == ["O3", "Ofast"]  # check runs are no rows of runs.csv
    # every run went through its 16 positions (the synthetic checkpoint never samples BOS)
    assert list(runs["tokens"]) == [16, 16] and not runs["stopped_early"].any()


@pytest.mark.parametrize("perf", [True, False], ids=["perf", "no-perf"])
def test_a_run_killed_by_a_signal_records_it_with_and_without_perf(sweep_args, tmp_path, perf):
    """A run that dies of SIGILL (as a binary using an instruction the CPU lacks does; here
    a run prefix that kills itself) is recorded with its signal, never as exit 0: perf stat
    itself exits 0 when its command is killed."""
    settings = {"sweep_run_prefix": ["sh", "-c", "kill -ILL $$", "sh"], "sweep_perf": perf,
                "sweep_flag_sets": {"O3": "-O3"}}  # fmt: skip
    args = ["-e", "sweep_steps=8", "-e", "sweep_repetitions=1", "-e", "sweep_threads=1"]
    args += ["-e", "sweep_profile=false", "-e", "sweep_bandwidth=false"]
    args += ["-e", "sweep_warmup_runs=0", "-e", json.dumps(settings)]
    run_playbook("sweep.yml", *sweep_args, *args)
    latest = tmp_path / "results" / "latest"
    summary = " ".join(summarize(latest).stdout.split())
    (row,) = pd.read_csv(latest / "runs.csv").to_dict("records")
    assert (row["status"], row["exit_status"], row["signal"]) == ("failed", 132, "ILL")
    assert row["perf"] is perf
    assert row["reason"].startswith(
        "killed by SIGILL (Illegal instruction), exit status 132: this node's CPU lacks an "
        "extension the flag set asks for (the compiler's default -march; node's ISA: "
    )
    assert "killed by SIGILL (Illegal instruction)" in summary
