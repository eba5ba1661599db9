"""The sweep role's inputs, each declared once (stdlib only): its Ansible type, default and
documentation, and which check of module_utils/sweep_inputs.py it has beyond its type.

roles/sweep/meta/argument_specs.yml is generated from INPUTS and ENTRY_POINTS by
scripts/role_docs.py (`make docs`; a unit test fails when the file differs), and the role
README's variable table from that file. Ansible checks the types there before the role runs;
sweep_inputs.errors() (tasks/validate.yml) then checks every input that has a `check`, all at
once, each message naming the bad value and what is valid.

`raw` is the type of an input whose check accepts what Ansible's type would refuse (text
from `-e`, as with the numbers), or refuses with a better message what Ansible's type would
let through: a typed input failing Ansible's check stops the role before errors() can name
the other bad inputs with it.
"""

from dataclasses import dataclass

from ansible_collections.llamasweep.sweep.plugins.module_utils.backends import NAMES as BACKENDS


@dataclass(frozen=True)
class Input:
    """One input of the role, as argument_specs declares it."""

    name: str
    type: str  # Ansible's argument_specs type
    description: str
    elements: str = ""  # of a list
    choices: tuple = ()
    required: bool = False
    # The value when argument_specs can say it; else defaults/main.yml's, or default_note's.
    default: object = None
    # The README's default column where the value is an expression or in group_vars.
    default_note: str = ""
    # What in sweep_inputs.py checks it: RULES (alone), or the function that checks it with
    # other inputs; empty: only its type.
    check: str = ""


INPUTS = (
    Input(
        "sweep_models",
        "list",
        elements="str",
        required=True,
        default_note="in `group_vars/all/sweep.yml`",
        description="Models to run (names in checkpoint_catalog).",
        check="errors",
    ),
    Input(
        "sweep_flag_sets",
        "dict",
        required=True,
        default_note="in `group_vars/all/sweep.yml`",
        description="Flag-set name -> CFLAGS; the first is the speedup baseline.",
        check="errors",
    ),
    # raw, not list of int: Ansible's list splits `-e sweep_threads=1,2` as sweep_inputs'
    # thread_list does, but refuses its empty words (`-e sweep_threads=`, "1,2,") and would
    # answer "two" or 2.5 with its own message, before errors() names the other bad inputs;
    # and nor can it say "positive". The plan reads it through thread_list too: Ansible checks
    # a value against its type but passes it on as given.
    Input(
        "sweep_threads",
        "raw",
        default=[],
        description=(
            "OMP_NUM_THREADS values (list or comma-separated); empty means each partition's "
            "default: 1, 2, 4, ... up to its cores (cores included). A flag set built without "
            "OpenMP (no -fopenmp, -qopenmp or -fiopenmp in its CFLAGS or sweep_ldflags) runs at "
            "1 thread only."
        ),
        check="RULES",
    ),
    Input(
        "sweep_repetitions",
        "raw",
        default=5,
        description="Runs of each configuration (positive integer).",
        check="RULES",
    ),
    Input(
        "sweep_order_seed",
        "raw",
        default_note="unset (a fresh seed per sweep)",
        description=(
            "Seed of the run order: within each repetition round the configurations run in an "
            "order shuffled by it (rounds one after another), so that drift over time spreads "
            "over every configuration. Unset or empty draws a fresh one; either way plan.json "
            "and sweep.json record it (`order_seed`), and giving it again repeats the order "
            "(non-negative integer)."
        ),
        check="RULES",
    ),
    Input(
        "checkpoint_catalog",
        "dict",
        required=True,
        description="Known checkpoints (group_vars/all/checkpoints.yml).",
        check="errors",
    ),
    Input(
        "sweep_steps",
        "raw",
        default=256,
        description="Tokens to generate (run.c -n).",
        check="RULES",
    ),
    Input(
        "sweep_seed",
        "raw",
        default=42,
        description="Sampling seed (run.c -s).",
        check="RULES",
    ),
    Input(
        "sweep_temperature",
        "raw",
        default=1.0,
        description=(
            "Temperature (run.c -t) of the measured runs; each build's check run is greedy "
            "(temperature 0)."
        ),
        check="RULES",
    ),
    Input(
        "sweep_topp",
        "raw",
        default=0.9,
        description="Top-p (run.c -p).",
        check="RULES",
    ),
    Input(
        "sweep_prompt",
        "str",
        default="",
        description="Prompt (run.c -i); passed literally, never interpreted by a shell.",
        check="RULES",
    ),
    Input(
        "sweep_compiler",
        "str",
        default="gcc",
        description="C compiler.",
    ),
    Input(
        "sweep_debug_info",
        "bool",
        default=True,
        description=(
            "Compile with `-g` before each flag set's CFLAGS (a flag set's own `-g0` wins): "
            "debug info, which GCC and clang keep out of the generated code, lets perf name the "
            "functions inlined into others in profiles (at -O3 matmul is inlined into forward)."
        ),
    ),
    Input(
        "sweep_ldflags",
        "str",
        default="-lm",
        description="Linker flags.",
    ),
    Input(
        "sweep_perf",
        "bool",
        default=True,
        description="Wrap runs in perf stat where perf works.",
    ),
    Input(
        "sweep_perf_events",
        "str",
        default="",
        description=(
            "perf stat -e event list; empty means perf's default set (a partition's "
            "`perf_events` overrides it)."
        ),
    ),
    Input(
        "sweep_run_prefix",
        "list",
        elements="str",
        default=[],
        description=(
            "Words put before the run command (inside perf stat), e.g. `[numactl, "
            '--interleave=all]`; `["true"]` makes every run a no-op (orchestration benchmarks).'
        ),
        check="RULES",
    ),
    Input(
        "sweep_bandwidth",
        "bool",
        default=True,
        description=(
            "Measure memory bandwidth (`files/triad.c`, compiled on the node) once per partition "
            "and thread count, before the runs, at `sweep_bandwidth_large_bytes` (label `large`) "
            "and at each model's checkpoint size (label = the model): "
            "`bandwidth/<partition>-t<threads>-<label>.json`."
        ),
    ),
    Input(
        "sweep_bandwidth_trials",
        "raw",
        default=5,
        description="Trials of each bandwidth measurement; the best is kept (positive integer).",
        check="RULES",
    ),
    Input(
        "sweep_bandwidth_large_bytes",
        "raw",
        default=805306368,
        description=(
            "Working set of the `large` measurement in bytes (3 x 256 MiB: far beyond the "
            "last-level cache)."
        ),
        check="RULES",
    ),
    Input(
        "sweep_warmup_runs",
        "raw",
        default=1,
        description=(
            "Warm-up runs per flag set and model (at the partition's largest thread count), "
            "before the measured runs, under `warmup/` (never rows of runs.csv); 0 for none."
        ),
        check="RULES",
    ),
    Input(
        "sweep_profile",
        "bool",
        default=True,
        description=(
            "After each partition's runs, profile selected configurations of each model "
            "(`sweep_profile_select`): `profiles/<partition>-<model>-<selector>/`."
        ),
    ),
    Input(
        "sweep_profile_select",
        "list",
        elements="str",
        default=["fastest", "slowest"],
        description=(
            "Which configurations: `fastest` / `slowest` is the flag set whose best thread count "
            "has the highest / lowest median tok/s over the finished runs, at that thread count; "
            "a flag-set name is that flag set at its best thread count (profiled on the "
            "partitions that have it). Selectors that pick the same flag set are profiled once."
        ),
        check="profile_selector_errors",
    ),
    Input(
        "sweep_profile_event",
        "str",
        default="cycles",
        description=(
            "`perf record -e`; `cpu-clock` where the node cannot count it (no hardware PMU, as "
            "on a VM). The profile's execution.txt records the event perf recorded."
        ),
        check="RULES",
    ),
    Input(
        "sweep_profile_call_graph",
        "str",
        choices=("dwarf", "fp"),
        default="dwarf",
        description=(
            "`dwarf`: `--call-graph dwarf` on the benchmarked binary (run.c is built without "
            "frame pointers, so plain `-g` shows the callers of matmul as `[unknown]`); `fp`: "
            "`--call-graph fp` on a profiling build of the flag set with "
            "`-fno-omit-frame-pointer` added (`<flag_set>+fp`, built with the others; smaller "
            "perf.data, faster `perf script`, but inlined functions are not named: at -O3 "
            "matmul's samples show as forward)."
        ),
    ),
    Input(
        "sweep_profile_frequency",
        "raw",
        default=199,
        description="`perf record -F`: samples per second and thread (positive integer).",
        check="RULES",
    ),
    Input(
        "sweep_profile_stack_bytes",
        "raw",
        default=4096,
        description=(
            "With dwarf: the user stack perf copies per sample (`--call-graph dwarf,N`; perf's "
            "default 8192), a multiple of 8 up to 65528. It sets the size of perf.data: about N "
            "bytes per sample, so 199 Hz x 4096 B is 0.8 MB per thread and second of the run (64 "
            "threads for 30 s: 1.6 GB, deleted once folded unless `sweep_profile_keep_data`). "
            "4096 keeps run.c's whole stacks on x86-64 (2048 did too; 1024 lost the frames above "
            "main)."
        ),
        check="RULES",
    ),
    Input(
        "sweep_profile_keep_data",
        "bool",
        default=False,
        description=(
            "Keep `perf.data` (tens to hundreds of MB with dwarf) beside the folded stacks."
        ),
    ),
    Input(
        "sweep_flamegraph_dir",
        "str",
        default_note="the flamegraph role's `flamegraph_source_dir`",
        description=(
            "FlameGraph's checkout on the target; empty: profiles keep `perf.script` for the "
            "collector and have no SVG."
        ),
    ),
    Input(
        "sweep_flamegraph_off_reason",
        "str",
        default_note="the flamegraph role's `flamegraph_off_reason`",
        description="Why there is no FlameGraph; recorded as each profile's `svg_off_reason`.",
    ),
    Input(
        "sweep_backend",
        "str",
        choices=BACKENDS,
        default="local",
        description=(
            "`local` runs one configuration at a time on the target; `slurm` submits to "
            "`sweep_partitions` (set by a Slurm inventory)."
        ),
        check="RULES",
    ),
    Input(
        "sweep_partition",
        "str",
        default="local",
        description="Partition name recorded with each run of a local sweep.",
    ),
    Input(
        "sweep_emulated_partitions",
        "list",
        elements="dict",
        default=[],
        description=(
            "Emulated partitions a local sweep can run beside localhost (inventory data; "
            "inventory/local.yml has `riscv64-qemu`): partitions with an `emulator` (`{cpu: "
            "'rv64,v=true,vlen=128', sysroot: /usr/riscv64-linux-gnu}`, optionally `command`, "
            "default `qemu-riscv64`) and a cross `compiler`. Their runs prove a flag set "
            "compiles, runs and generates tokens: no perf, bandwidth, warm-up or profile, and "
            "kept out of every performance table."
        ),
    ),
    Input(
        "sweep_emulate",
        "raw",
        default=[],
        description=(
            "Names of `sweep_emulated_partitions` a local sweep runs too (list or "
            "comma-separated), e.g. `riscv64-qemu`; empty: none. One whose compiler or emulator "
            "is missing is skipped with a message (`make riscv-tools` installs Debian's)."
        ),
    ),
    Input(
        "sweep_validate_riscv",
        "raw",
        default="auto",
        description=(
            "Validation before queueing: before anything is submitted, each flag set of a Slurm "
            "partition with `arch: riscv64` is cross-compiled on this machine and its binary run "
            "briefly under qemu-user, by an emulated sweep through the sweep's own build and run "
            "scripts (see below); one that the compiler or qemu fails is not submitted to "
            "that partition (named with their message; the rest is). `auto`: when the cross "
            "compiler and qemu are installed, else one message; `true`: refused without them; "
            "`false`: off."
        ),
        check="RULES",
    ),
    Input(
        "sweep_validate_riscv_ignore",
        "raw",
        default=[],
        description=(
            "Flag-set names submitted even when they fail validation (list or comma-separated), "
            "e.g. one the cluster's newer compiler accepts and this machine's does not."
        ),
        check="RULES",
    ),
    Input(
        "sweep_validate_riscv_compiler",
        "str",
        default="riscv64-linux-gnu-gcc",
        description="The RISC-V cross compiler validation builds with (`make riscv-tools`).",
    ),
    Input(
        "sweep_validate_riscv_emulator",
        "dict",
        default={"cpu": "rv64", "sysroot": "/usr/riscv64-linux-gnu"},
        description=(
            "qemu-user of the validation runs, as a partition's `emulator`: `cpu` (qemu's -cpu; "
            "`rv64` is RV64GC without RVV 1.0, as Monte Cimone's chips), `sysroot` (-L) and "
            "optionally `command` (default `qemu-riscv64`)."
        ),
        check="emulator_errors",
    ),
    Input(
        "sweep_validate_riscv_steps",
        "int",
        default=8,
        description="Tokens each validation run generates (a tiny synthetic checkpoint).",
        check="RULES",
    ),
    Input(
        "sweep_validate_riscv_timeout",
        "int",
        default=300,
        description="Seconds a validation run may take under qemu before it counts as failed.",
    ),
    Input(
        "sweep_partitions",
        "list",
        elements="dict",
        default=[],
        description=(
            "Slurm partitions (inventory data): mappings with `name` and optionally `cores`, "
            "`compiler`, `flag_sets` (merged over `sweep_flag_sets`), `threads`, `time_limit`, "
            "`sbatch_options`, `exclusive`, `array_throttle`, `seconds_per_gb_token`, "
            "`perf_events`, `emulator`, `arch`, `requires_compiler_support` (the role README's "
            '"Slurm backend" says what each means).'
        ),
        check="partition_errors",
    ),
    Input(
        "sweep_slurm_exclusive",
        "bool",
        default=True,
        description=(
            "Submit with `--exclusive`, so benchmarks never share a node (a partition may "
            "override)."
        ),
    ),
    Input(
        "sweep_slurm_array_throttle",
        "int",
        default=0,
        description=(
            "At most this many tasks of an array at once (%N); 0 derives it from the partition's "
            "node count (sweep_slurm_node_share of its nodes, at least 1)."
        ),
        check="RULES",
    ),
    Input(
        "sweep_slurm_node_share",
        "float",
        default=0.5,
        description=(
            "Share of a partition's nodes (from sinfo) a sweep's array may hold at once when no "
            "array throttle is given, above 0 and at most 1 (1: every node)."
        ),
        check="RULES",
    ),
    Input(
        "sweep_slurm_requeue",
        "bool",
        default=False,
        description=(
            "A run killed by a node failure: false submits with --no-requeue (a NODE_FAIL row, "
            "the rest of the sweep goes on); true with --requeue (Slurm runs it again)."
        ),
    ),
    Input(
        "sweep_slurm_build_time_limit",
        "str",
        default="30",
        description="`--time` of each build job (Slurm format).",
        check="RULES",
    ),
    Input(
        "sweep_slurm_seconds_per_gb_token",
        "float",
        default=2.0,
        description=(
            "Throughput guess for time limits: seconds per generated token per GB of checkpoint "
            "(a partition may override)."
        ),
    ),
    Input(
        "sweep_slurm_time_safety",
        "float",
        default=2.0,
        description="Factor on a run's estimated time.",
    ),
    Input(
        "sweep_slurm_startup_seconds",
        "int",
        default=60,
        description="Seconds added to each run's estimate (job start, checkpoint loading).",
    ),
    Input(
        "sweep_slurm_time_floor",
        "int",
        default=300,
        description="Least time limit of an array, seconds.",
    ),
    Input(
        "sweep_slurm_max_array_size",
        "int",
        default=1001,
        description="The cluster's MaxArraySize: a partition's runs must fit in one array.",
    ),
    Input(
        "sweep_slurm_environment",
        "dict",
        default={},
        description=(
            "Environment of the Slurm commands (sbatch, squeue, sacct), e.g. `SLURM_CONF`, and "
            "`PATH` where the cluster's client commands are not the first on it."
        ),
    ),
    Input(
        "sweep_remote_dir",
        "str",
        description="Where Slurm sweeps live on the target (storage the nodes share).",
    ),
    Input(
        "sweep_fetch_results",
        "str",
        default_note="`results/latest`",
        description=(
            "The controller's directory of the sweep `playbooks/wait.yml` and "
            "`playbooks/fetch.yml` pick up."
        ),
    ),
    Input(
        "sweep_results_dir",
        "str",
        description="Where sweep directories are written.",
    ),
    Input(
        "sweep_bin_dir",
        "str",
        description=(
            "Where binaries are cached between sweeps (`cache/<key>/run`, keyed by compiler "
            "version, compile command, run.c, llama2.c commit and partition; never replaced)."
        ),
    ),
    Input(
        "sweep_store_cache_dir",
        "str",
        default_note="the class store's, where the inventory names one (`class_store`)",
        description=(
            "A class store's build cache (`STORE/builds/cache`): an entry whose key is there and "
            "whose binary has the store manifest's sha256 is used in place (the build record's "
            "`outcome=reused-from-store`); empty: none."
        ),
    ),
    Input(
        "sweep_store_builds",
        "dict",
        default_note="the class store's, where the inventory names one",
        description="Key -> sha256 of each binary of the class store's cache, from its manifest.",
    ),
    Input(
        "sweep_build_only",
        "bool",
        default=False,
        description=(
            "Compile every flag set, then end the role with nothing run (setup-class builds a "
            "class store's binaries this way): on this machine, or on Slurm by each partition's "
            "build job alone on its own nodes, which submit-slurm.sh submits with "
            "`sbatch --wait` and waits for (a failed one fails the role, naming the partition and "
            "its `builds/<partition>/build.err`)."
        ),
    ),
    Input(
        "sweep_results_path_file",
        "str",
        default="",
        description=(
            "A file on the controller that gets this sweep's results directory "
            "(results/<sweep_id>), written as soon as it is created: how `make sweep` summarises "
            "its own sweep. Empty: none written."
        ),
    ),
    Input(
        "sweep_resume",
        "str",
        default="",
        description=(
            "A sweep id (a directory of sweep_results_dir): run again only that sweep's tasks "
            "without an ok result (`tools/sweep_rules.py unfinished`), by its own plan.json and "
            "scripts, keeping everything finished (`make resume SWEEP=<id>`). Empty: a new "
            "sweep."
        ),
    ),
    Input(
        "sweep_topup",
        "str",
        default="",
        description=(
            "A sweep id: each configuration of that sweep whose CV of tok/s is above the noise "
            "threshold (sweep_rules.NOISY_CV) gets as many more repetitions as it has, appended "
            "to its plan.json and tasks.tsv; then the sweep is resumed as with sweep_resume "
            "(`make topup SWEEP=<id>`)."
        ),
    ),
    Input(
        "sweep_wait",
        "bool",
        default=True,
        description="Wait for the runs, showing progress; false starts them and returns.",
    ),
    Input(
        "sweep_local_lock_wait",
        "bool",
        default=True,
        description=(
            "Local sweeps run one at a time on a machine (a lock in the workspace): true waits "
            "for the running one (the progress names it), false refuses at once with a message "
            "naming it."
        ),
    ),
    Input(
        "sweep_wait_timeout",
        "int",
        default=86400,
        description="Seconds to wait before the playbook gives up (the runs go on).",
    ),
    Input(
        "sweep_poll_interval",
        "int",
        default=5,
        description="Seconds between progress reports.",
    ),
    Input(
        "sweep_poll_max_interval",
        "int",
        default=60,
        description=(
            "Slurm: most seconds between polls; while the progress does not change the wait "
            "doubles from sweep_poll_interval up to this, and any change resets it. Also the "
            "fewest seconds between two scheduler queries (squeue, sacct) of the wait."
        ),
    ),
)


@dataclass(frozen=True)
class EntryPoint:
    """Entry points of the role that take the same inputs (argument_specs writes the first's,
    the others are aliases of it)."""

    names: tuple
    short_description: str
    inputs: tuple = ()  # names of INPUTS; empty: every one


ENTRY_POINTS = (
    # validate: playbooks/setup.yml checks the inputs before provisioning.
    EntryPoint(
        ("main", "validate"),
        "Compile llama2.c per flag set, run every configuration, record each run.",
    ),
    # playbooks/wait.yml and fetch.yml: a submitted Slurm sweep, found from its remote.json.
    EntryPoint(
        ("wait", "fetch"),
        "Wait for a submitted Slurm sweep (wait), then fetch its results (fetch).",
        inputs=(
            "sweep_fetch_results",
            "sweep_results_dir",
            "sweep_wait_timeout",
            "sweep_poll_interval",
            "sweep_poll_max_interval",
        ),
    ),
)
