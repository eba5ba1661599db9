"""Which flag sets a RISC-V partition keeps, decided before anything is submitted (stdlib only).

Two checks drop a flag set from one partition, each with its reason (recorded in plan.json's
partition as dropped_flag_sets, never silently):
- compiler support (the setup probe): a flag set a partition lists in
  requires_compiler_support is kept only where the probe found the partition's own compiler
  accepts its -march (facts/<partition>.json's march list);
- validation before queueing (sweep_validate_riscv): the flag sets of the partitions whose
  `arch` is riscv64 are an emulated sweep on the controller (validation_partition: the build
  and run scripts of every sweep cross-compile them and run each briefly under qemu-user);
  one that the compiler or qemu fails is dropped with their message, unless named in
  sweep_validate_riscv_ignore (submitted anyway: the cluster's compiler may accept what the
  controller's cross compiler does not).
"""

import json
import pathlib
import shlex

from ansible_collections.llamasweep.sweep.plugins.module_utils.sweep_rules import run_ok

RISCV_ARCH = "riscv64"
# Characters of the compiler's or qemu's message kept in a reason: its first lines say why.
_MESSAGE_CHARS = 400
# The emulated partition whose sweep validates: its build script is build-<it>.sh, its
# build records builds/<it>/<flag set>.txt.
VALIDATION_PARTITION = "riscv-validation"
# Threads of a validation run of an OpenMP flag set: its parallel code runs too.
VALIDATION_THREADS = 2


def march_of(cflags):
    """The -march value of a CFLAGS string (the last one, as gcc takes it), or None."""
    values = [word.split("=", 1)[1] for word in shlex.split(cflags) if word.startswith("-march=")]
    return values[-1] if values else None


def merged_flag_sets(partition, flag_sets):
    """A partition's flag sets: the sweep's, with the partition's own merged over them (as
    sweep_plan.partition_plan merges them)."""
    return {**flag_sets, **(partition.get("flag_sets") or {})}


def with_probed_arch(partitions, facts):
    """The partitions, each without `arch` given that from the setup probe's facts (facts:
    {partition: the text of facts/<partition>.json, "" when none}: its machine, uname -m),
    so that a RISC-V partition of a user's inventory is validated without saying so."""
    resolved = []
    for partition in partitions:
        machine = (_json_object(facts.get(partition["name"])) or {}).get("machine")
        if "arch" not in partition and machine:
            partition = {**partition, "arch": machine}
        resolved.append(partition)
    return resolved


def validated_partitions(partitions):
    """The partitions validation before queueing covers: real (not emulated) RISC-V ones."""
    return [p for p in partitions if p.get("arch") == RISCV_ARCH and not p.get("emulator")]


def validation_builds(partitions, flag_sets, dropped=None):
    """What validation builds and runs: one entry per distinct CFLAGS of the validated
    partitions' flag sets (those not dropped already), in first-seen order: {"name" (the
    flag set it is built as in the validation sweep: its first use's, numbered where
    another CFLAGS took it), "cflags", "uses": [[partition, flag_set], ...]}."""
    dropped = dropped or {}
    builds = {}
    for partition in validated_partitions(partitions):
        name = partition["name"]
        for flag_set, cflags in merged_flag_sets(partition, flag_sets).items():
            if flag_set in dropped.get(name, {}):
                continue
            if cflags not in builds:
                taken = {build["name"] for build in builds.values()}
                build_name, number = flag_set, 1
                while build_name in taken:
                    number += 1
                    build_name = f"{flag_set}-{number}"
                builds[cflags] = {"name": build_name, "cflags": cflags, "uses": []}
            builds[cflags]["uses"].append([name, flag_set])
    return list(builds.values())


def validation_partition(builds, compiler, emulator):
    """The emulated partition of the validation sweep (sweep_plan.partition_plan's input):
    each build a flag set, compiled by this machine's cross compiler and run under its
    emulator (sweep_validate_riscv_emulator) by the scripts of every sweep."""
    return {
        "name": VALIDATION_PARTITION,
        "cores": VALIDATION_THREADS,
        "threads": [VALIDATION_THREADS],
        "compiler": compiler,
        "emulator": emulator,
        "flag_sets": {build["name"]: build["cflags"] for build in builds},
    }


def _message(text):
    """A compiler's or qemu's output as one short line (its first lines)."""
    line = " ".join(part.strip() for part in (text or "").splitlines() if part.strip())
    return line[:_MESSAGE_CHARS] + ("..." if len(line) > _MESSAGE_CHARS else "")


def _text(path):
    """A file's text, "" when there is none."""
    return path.read_text(errors="replace") if path.is_file() else ""


def _key_values(text):
    """A record's key=value lines (build.sh's build records, run-task.sh's execution.txt)."""
    return dict(line.partition("=")[::2] for line in text.splitlines() if "=" in line)


def _rejection(validation_dir, build):
    """Why the cross compiler rejected a build (its build record's error line), None when
    it was built."""
    record_path = validation_dir / "builds" / VALIDATION_PARTITION / f"{build['name']}.txt"
    record = _key_values(_text(record_path))
    if record.get("outcome") not in (None, "rejected"):
        return None
    message = _message(record.get("error")) or "no build record"
    return f"the RISC-V cross compiler rejected it: {message}"


def _run_failure(validation_dir, run_task):
    """Why a build's run under qemu failed (its exit status, signal and stderr), None when
    it exited 0 with a tok/s figure (sweep_rules.run_ok)."""
    run_dir = validation_dir / run_task["dir"]
    status, stderr = _text(run_dir / "status").strip(), _text(run_dir / "stderr.txt")
    if run_ok(status, stderr):
        return None
    signal = _key_values(_text(run_dir / "execution.txt")).get("signal")
    return (
        f"its binary failed under qemu (exit {status or '?'}"
        f"{f', SIG{signal}' if signal else ''}{', no tok/s' if status == '0' else ''}): "
        f"{_message(stderr) or '(no message)'}"
    )


def validation_outcome(builds, validation_dir, plan, ignore=(), partitions=()):
    """{"dropped": {partition: {flag_set: reason}}, "ignored": [message, ...]} from the
    validation sweep in validation_dir, planned as plan (sweep_plan.sweep_plan of
    validation_partition: one run per build). A flag set fails when its build is rejected,
    or its run does not exit 0 with a tok/s figure; named in ignore, it is reported and
    kept. A flag set a partition lists in requires_compiler_support (so kept by the setup
    probe: the partition's own compiler accepts its -march) that this machine's cross
    compiler rejects is reported and kept too: the partition's compiler is the one that
    builds it."""
    validation_dir = pathlib.Path(validation_dir)
    probed = {p["name"]: p.get("requires_compiler_support") or [] for p in partitions}
    runs = {task["flag_set"]: task for task in plan["tasks"] if task["kind"] == "run"}
    dropped, ignored = {}, []
    for build in builds:
        rejection = _rejection(validation_dir, build)
        reason = rejection or _run_failure(validation_dir, runs[build["name"]])
        if reason is None:
            continue
        for partition, flag_set in build["uses"]:
            message = f"flag set {flag_set} ({build['cflags']}) failed validation: {reason}"
            if flag_set in ignore:
                ignored.append(
                    f"{partition}: {message}; submitted anyway (sweep_validate_riscv_ignore)"
                )
            elif rejection and flag_set in probed.get(partition, []):
                ignored.append(
                    f"{partition}: {message}; submitted unvalidated: the setup probe found "
                    "the partition's own compiler accepts its -march"
                )
            else:
                dropped.setdefault(partition, {})[flag_set] = message
    return {"dropped": dropped, "ignored": ignored}


def unsupported_flag_sets(partitions, flag_sets, facts):
    """{partition: {flag_set: reason}}: each flag set a partition lists in
    requires_compiler_support whose -march its compiler does not accept, as the setup probe
    recorded it (facts: {partition: the text of its facts/<partition>.json, "" when there is
    none})."""
    dropped = {}
    for partition in partitions:
        name = partition["name"]
        merged = merged_flag_sets(partition, flag_sets)
        probed = _json_object(facts.get(name))
        for flag_set in partition.get("requires_compiler_support") or []:
            march = march_of(merged[flag_set])
            if probed is None:
                reason = "the setup probe recorded no facts for this partition (setup.yml)"
            elif march in (probed.get("march") or []):
                continue
            else:
                reason = (
                    f"the compiler of the partition ({probed.get('compiler_version') or '?'}) does "
                    f"not accept -march={march} (setup probe)"
                )
            dropped.setdefault(name, {})[flag_set] = (
                f"flag set {flag_set} requires compiler support: {reason}"
            )
    return dropped


def _json_object(text):
    """A JSON object's text as a dict; None when empty or no JSON object."""
    try:
        value = json.loads(text or "")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def flag_set_marches(partitions, flag_sets):
    """Every -march value of the sweep's and the partitions' flag sets (what the setup probe
    checks on each partition), sorted."""
    all_flag_sets = [flag_sets, *((p.get("flag_sets") or {}) for p in partitions)]
    marches = {march_of(cflags) for mapping in all_flag_sets for cflags in mapping.values()}
    return sorted(march for march in marches if march)


def merge_drops(*drops):
    """One {partition: {flag_set: reason}} of several (the first reason of a flag set kept)."""
    merged = {}
    for drop in drops:
        for partition, reasons in drop.items():
            for flag_set, reason in reasons.items():
                merged.setdefault(partition, {}).setdefault(flag_set, reason)
    return merged


def drop_messages(dropped):
    """One line per dropped flag set: which partition it is not submitted to, and why."""
    return [
        f"Not submitted to partition {partition}: {reason}"
        for partition, reasons in dropped.items()
        for reason in reasons.values()
    ]
