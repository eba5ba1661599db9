"""Builders of the test data that several test modules share: sweep plans as
sweep_plan.py makes them (make_plan, make_sweep) and results directories as a sweep leaves
them (SweepWriter)."""

import json
import shutil
from pathlib import Path

from ansible_collections.llamasweep.sweep.plugins.module_utils import sweep_plan as plan

CAPTURED_PERF = Path(__file__).parent / "data" / "runs" / "human" / "perf.txt"
CFLAGS = {"O3": "-O3", "O3-openmp": "-O3 -fopenmp"}


CATALOG = {
    "stories15M": {"size": 60816028, "config": {"seq_len": 256}},
    "stories110M": {"size": 438381596, "config": {"seq_len": 1024}},
}


def make_plan(partitions, **overrides):
    arguments = {
        "flag_sets": {"O3": "-O3", "O3-openmp": "-O3 -fopenmp"},
        "models": ["stories15M", "stories110M"],
        "catalog": CATALOG,
        "steps": 256,
        **overrides,
    }
    return plan.partition_plan(partitions, **arguments)


def make_sweep(
    partitions,
    repetitions=2,
    warmup_runs=0,
    bandwidth_trials=0,
    order_seed=1,
    profile_call_graph="dwarf",
    **overrides,
):
    """plan.json of a sweep of these partitions (make_plan's arguments in overrides)."""
    models = overrides.get("models", ["stories15M", "stories110M"])
    checkpoints = {model: {"path": f"/c/{model}.bin", "sha256": "0" * 64} for model in models}
    return plan.sweep_plan(
        make_plan(partitions, **overrides),
        "sweep",
        "/sweeps/sweep",
        models,
        CATALOG,
        checkpoints,
        256,
        repetitions,
        "commit",
        warmup_runs=warmup_runs,
        bandwidth_trials=bandwidth_trials,
        bandwidth_large_bytes=1000,
        order_seed=order_seed,
        profile_call_graph=profile_call_graph,
    )


class SweepWriter:
    """Writes a results directory the way a sweep does (docs/results-layout.md): plan.json
    (rewritten as tasks are added) and each task's directory with what the node leaves."""

    def __init__(
        self,
        results_dir: Path,
        single_thread_flag_sets: dict | None = None,
        dropped_flag_sets: dict | None = None,
    ):
        """single_thread_flag_sets: partition -> its flag sets without OpenMP;
        dropped_flag_sets: partition -> {flag set: why it was not submitted}."""
        self.results_dir = results_dir
        self.tasks: list[dict] = []
        self.single_thread_flag_sets = single_thread_flag_sets or {}
        self.dropped_flag_sets = dropped_flag_sets or {}
        results_dir.mkdir(parents=True)
        sweep = {"sweep_id": results_dir.name, "steps": 256, "llama2c_commit": "350e04f"}
        (results_dir / "sweep.json").write_text(json.dumps({**sweep, "flag_sets": CFLAGS}))
        self.write_plan()

    def write_plan(self) -> None:
        partitions = list(dict.fromkeys(task["partition"] for task in self.tasks))
        plan = {
            "sweep_id": self.results_dir.name,
            "partitions": [
                {
                    "name": name,
                    "single_thread_flag_sets": self.single_thread_flag_sets.get(name, []),
                    "dropped_flag_sets": self.dropped_flag_sets.get(name, {}),
                }
                for name in partitions
            ],
            "tasks": self.tasks,
        }
        (self.results_dir / "plan.json").write_text(json.dumps(plan, indent=2))

    def task(self, kind: str, directory: str, partition: str, threads: int | None, **facts) -> Path:
        """Adds a task record to plan.json; its directory's path (not made)."""
        index = len(self.tasks)
        record = {"index": index, "kind": kind, "dir": directory, "partition": partition}
        self.tasks.append({**record, "threads": threads, **facts})
        self.write_plan()
        return self.results_dir / directory

    def finish(self, task_dir: Path, exit_status: int, **facts) -> None:
        """execution.txt (defaults, then facts: key=value lines, raw), then status."""
        partition = self.tasks[-1]["partition"]
        execution = {
            "host": f"{partition}-01",
            "nproc": 4 if partition == "nodes" else 64,
            "cpu_model": f"{partition} cpu",
            "start_time": "2026-11-25T13:15:00+01:00",
            "end_time": "2026-11-25T13:16:00+01:00",
            "duration_s": "60.000",
            "exit_status": exit_status,
            "perf": "true",
            "binary_sha256": "cd" * 32,
            "slurm_job_id": "",
            "slurm_array_job_id": "",
            "slurm_array_task_id": "",
            **facts,
        }
        text = "".join(f"{key}={value}\n" for key, value in execution.items())
        (task_dir / "execution.txt").write_text(text)
        (task_dir / "status").write_text(f"{exit_status}\n")

    def run(
        self,
        partition: str,
        flag_set: str,
        threads: int,
        repetition: int,
        tok_s: float | None = None,
        exit_status: int = 0,
        stderr: str = "",
        finished: bool = True,
        started: bool = True,
        model: str = "stories15M",
        perf: Path = CAPTURED_PERF,
        record: dict | None = None,
        execution: dict | None = None,
        kind: str = "run",
    ) -> str:
        """One run task; tok_s adds run.c's line to stderr, finished=False leaves no
        execution.txt nor status, started=False no directory; perf is the perf.txt to
        copy, record extra or other plan facts (cflags: those of a flag set not in CFLAGS),
        execution other execution.txt facts.
        kind "warmup" makes a warm-up (repetition is then its warmup number)."""
        index = len(self.tasks)
        if kind == "run":
            directory = f"runs/{index:04d}-{model}-{flag_set}-t{threads}-r{repetition}"
            numbering = {"repetition": repetition}
        else:
            directory = f"warmup/{partition}-{model}-{flag_set}-w{repetition}"
            numbering = {"warmup": repetition}
        cflags = (record or {}).get("cflags") or CFLAGS[flag_set]
        facts = {
            "model": model,
            "flag_set": flag_set,
            "cflags": cflags,
            "openmp": "-fopenmp" in cflags,
            **numbering,
            "binary": f"/sweep/bin/{partition}/{flag_set}/run",
            "checkpoint": f"/checkpoints/{model}.bin",
            "checkpoint_sha256": "ab" * 32,
            "checkpoint_bytes": None,
            "steps": 256,
            "llama2c_commit": "350e04f",
            **(record or {}),
        }
        run_dir = self.task(kind, directory, partition, threads, **facts)
        if started:
            run_dir.mkdir(parents=True)
            (run_dir / "stdout.txt").write_text("Once upon a time\n")
            if tok_s is not None:
                stderr = f"achieved tok/s: {tok_s:.6f}\n" + stderr
            (run_dir / "stderr.txt").write_text(stderr)
            if finished:
                shutil.copy(perf, run_dir / "perf.txt")
                self.finish(run_dir, exit_status, **(execution or {}))
        return directory

    def bandwidth(self, partition: str, threads: int, label: str, working_set_bytes: int,
                  best_gb_s: float | None, trials: int = 5) -> str:  # fmt: skip
        """One bandwidth task; best_gb_s None: triad failed (exit 1, no JSON)."""
        directory = f"bandwidth/{partition}-t{threads}-{label}"
        task_dir = self.task(
            "bandwidth",
            directory,
            partition,
            threads,
            label=label,
            working_set_bytes=working_set_bytes,
            trials=trials,
            binary=f"/sweep/builds/{partition}/triad",
        )
        task_dir.mkdir(parents=True)
        if best_gb_s is None:
            (task_dir / "stderr.txt").write_text("triad: cannot allocate 1 bytes\n")
            self.finish(task_dir, 1, perf="false", binary_sha256="ef" * 32)
            return directory
        triad = {
            "label": label,
            "working_set_bytes": working_set_bytes,
            "threads": threads,
            "trials": trials,
            "best_gb_s": best_gb_s,
            "mean_gb_s": best_gb_s * 0.9,
        }
        (task_dir / "stdout.txt").write_text(json.dumps(triad) + "\n")
        self.finish(task_dir, 0, perf="false", binary_sha256="ef" * 32)
        return directory

    def profile(
        self,
        partition: str,
        model: str,
        selector: str,
        selection: dict | None = None,
        execution: dict | None = None,
        exit_status: int | None = 0,
        started: bool = True,
    ) -> Path:
        """One profile task; selection: selection.json's object (None: none), execution:
        profile.sh's execution.txt facts; exit_status None leaves no execution.txt nor
        status; started=False no directory."""
        task_dir = self.task(
            "profile",
            f"profiles/{partition}-{model}-{selector}",
            partition,
            None,
            model=model,
            selector=selector,
            checkpoint=f"/checkpoints/{model}.bin",
            checkpoint_sha256="ab" * 32,
            steps=256,
            llama2c_commit="350e04f",
            binaries={name: f"/sweep/bin/{partition}/{name}/run" for name in CFLAGS},
        )
        if not started:
            return task_dir
        task_dir.mkdir(parents=True)
        if selection is not None:
            (task_dir / "selection.json").write_text(json.dumps(selection))
        if exit_status is not None:
            self.finish(task_dir, exit_status, **(execution or {}))
        return task_dir
