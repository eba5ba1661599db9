"""Which flag sets a RISC-V partition keeps, decided before anything is submitted (stdlib only).

Two checks drop a flag set from one partition, each with its reason (recorded in plan.json's
partition as dropped_flag_sets, never silently):
- compiler support (the setup probe): a flag set a partition lists in
  requires_compiler_support is kept only where the probe found the partition's own compiler
  accepts its -march (facts/<partition>.json's march list);
- validation before queueing (sweep_validate_riscv): each flag set of a partition whose
  `arch` is riscv64 is cross-compiled on the controller and run briefly under qemu-user; one
  that the compiler or qemu fails is dropped with their message, unless named in
  sweep_validate_riscv_ignore (submitted anyway: the cluster's compiler may accept what the
  controller's cross compiler does not).
"""

import json
import shlex

from ansible_collections.llamasweep.sweep.plugins.module_utils.sweep_rules import run_ok

RISCV_ARCH = "riscv64"
# Characters of the compiler's or qemu's message kept in a reason: its first lines say why.
_MESSAGE_CHARS = 400


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
    """What validation compiles and runs: one entry per distinct CFLAGS of the validated
    partitions' flag sets (those not dropped already), in first-seen order:
    {"cflags", "words" (its argv words), "uses": [[partition, flag_set], ...]}."""
    dropped = dropped or {}
    builds = {}
    for partition in validated_partitions(partitions):
        name = partition["name"]
        for flag_set, cflags in merged_flag_sets(partition, flag_sets).items():
            if flag_set in dropped.get(name, {}):
                continue
            entry = builds.setdefault(
                cflags, {"cflags": cflags, "words": shlex.split(cflags), "uses": []}
            )
            entry["uses"].append([name, flag_set])
    return list(builds.values())


def _message(text):
    """A compiler's or qemu's output as one short line (its first lines)."""
    line = " ".join(part.strip() for part in (text or "").splitlines() if part.strip())
    return line[:_MESSAGE_CHARS] + ("..." if len(line) > _MESSAGE_CHARS else "")


def validation_outcome(builds, compiled, ran, ignore=(), partitions=()):
    """{"dropped": {partition: {flag_set: reason}}, "ignored": [message, ...]} from the
    registered results of validation: compiled and ran are Ansible loop results over builds
    (rc, stdout, stderr, item; ran holds one per build that compiled, skipped ones without
    rc). A flag set fails when its compile fails, or its qemu run does not exit 0 with a
    tok/s figure (sweep_rules.run_ok); named in ignore, it is reported and kept. A flag set
    a partition lists in requires_compiler_support (so kept by the setup probe: the
    partition's own compiler accepts its -march) that this machine's cross compiler rejects
    is reported and kept too: the partition's compiler is the one that builds it."""
    probed = {p["name"]: p.get("requires_compiler_support") or [] for p in partitions}
    ran_by_cflags = {r["item"]["cflags"]: r for r in ran if "rc" in r}
    dropped, ignored = {}, []
    for build, compile_result in zip(builds, compiled, strict=True):
        cflags = build["cflags"]
        compiles = compile_result["rc"] == 0
        if not compiles:
            reason = (
                f"the RISC-V cross compiler rejected it: "
                f"{_message(compile_result['stderr'] or compile_result['stdout'])}"
            )
        else:
            result = ran_by_cflags[cflags]
            # Ansible strips the output's last newline, which ends run.c's tok/s line.
            if run_ok(str(result["rc"]), result["stderr"] + "\n"):
                continue
            reason = (
                f"its binary failed under qemu (exit {result['rc']}"
                f"{', no tok/s' if result['rc'] == 0 else ''}): "
                f"{_message(result['stderr']) or '(no message)'}"
            )
        for partition, flag_set in build["uses"]:
            message = f"flag set {flag_set} ({cflags}) failed validation: {reason}"
            if flag_set in ignore:
                ignored.append(
                    f"{partition}: {message}; submitted anyway (sweep_validate_riscv_ignore)"
                )
            elif not compiles and flag_set in probed.get(partition, []):
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
