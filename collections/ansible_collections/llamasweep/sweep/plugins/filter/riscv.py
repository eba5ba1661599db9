"""Filters of the RISC-V checks before queueing; the rules are module_utils/riscv_checks.py."""

from ansible_collections.llamasweep.sweep.plugins.module_utils import riscv_checks

DOCUMENTATION = r"""
name: validation_builds
short_description: Decide which flag sets each RISC-V partition keeps before submitting
description:
  - C(validation_builds) lists what validation before queueing cross-compiles and runs under
    qemu (one entry per distinct CFLAGS of the riscv64 partitions); C(validation_partition)
    makes them the emulated partition of the validation sweep; C(validation_outcome) turns
    what that sweep's build and run scripts left into the flag sets dropped, with their
    reasons; C(unsupported_flag_sets) drops flag sets listed in requires_compiler_support
    whose -march the setup probe found the partition's compiler does not accept;
    C(flag_set_marches) lists the -march values the probe checks; C(merge_drops) joins them.
positional: _input
options:
  _input:
    description: The partitions (sweep_partitions), or for merge_drops a drop mapping.
    type: raw
    required: true
"""

EXAMPLES = r"""
builds: "{{ sweep_partitions | llamasweep.sweep.validation_builds(sweep_flag_sets) }}"
"""

RETURN = r"""
_value:
  description: See each function's docstring in module_utils/riscv_checks.py.
  type: raw
"""


class FilterModule:
    def filters(self):
        return {
            name: getattr(riscv_checks, name)
            for name in (
                "with_probed_arch",
                "validated_partitions",
                "validation_builds",
                "validation_partition",
                "validation_outcome",
                "unsupported_flag_sets",
                "flag_set_marches",
                "merge_drops",
                "drop_messages",
            )
        }
