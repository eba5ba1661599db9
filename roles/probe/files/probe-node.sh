#!/bin/bash
# probe-node.sh [--emulator 'EMULATOR WORDS'] COMPILER MARCH...: what this node offers a
# llama2.c benchmark, as one JSON object: hostname, CPU model, cores, memory, compiler
# version, perf and what perf_event_paranoid allows, which of the given -march values the
# compiler accepts, and the node's machine (uname -m: riscv64 marks a RISC-V partition for
# validation before queueing). With --emulator (an emulated partition, whose runs execute under
# qemu-user here) it describes the emulation, so that nobody reads it as the chip's:
# "emulated": true, "emulator": its words, cpu_model the emulator's -cpu, host_cpu_model
# this host's CPU, perf false (qemu-user gives no counters of the program). A node that runs
# under qemu-user itself (its /proc/cpuinfo another architecture's) is described the same way.
set -u
emulator=""
if [[ ${1:-} == --emulator ]]; then
  emulator=$2
  shift 2
fi
compiler=${1:-gcc}
shift
# Only characters that need no JSON escaping.
clean() { tr -cd '[:alnum:] ._()@,/+:=-' | head -c 200; }

cpu_model=$(awk -F': *' '/^(model name|uarch|cpu model|isa)[[:space:]]*:/ {print $2; exit}' /proc/cpuinfo | clean)
emulation=""
if [[ -n $emulator ]]; then
  emulated_cpu=$(sed -n 's/.*-cpu \([^ ]*\).*/\1/p' <<<"$emulator" | clean)
  emulation=$(printf '"emulated": true, "emulator": "%s", "host_cpu_model": "%s", ' \
    "$(clean <<<"$emulator")" "$cpu_model")
  cpu_model="${emulated_cpu:-unknown} under $(clean <<<"${emulator%% *}") (emulated)"
else
  # A node whose own binaries run under qemu-user (binfmt_misc: the local replica's riscv64
  # nodes) sees this host's /proc/cpuinfo, another architecture's lines than uname -m's: it
  # executes uname -m's ISA with qemu's CPU (QEMU_CPU, else qemu's default).
  case $(uname -m) in riscv*) own='^isa' ;; x86_64 | i?86) own='^vendor_id' ;; *) own='' ;; esac
  if [[ -n $own ]] && ! grep -q "$own" /proc/cpuinfo; then
    emulation=$(printf '"emulated": true, "emulator": "qemu-user (binfmt_misc)", "host_cpu_model": "%s", ' "$cpu_model")
    cpu_model="$(uname -m | clean) $(clean <<<"${QEMU_CPU:-qemu default CPU}") under qemu-user (emulated)"
  fi
fi
mem_kb=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)
compiler_version=$("$compiler" --version 2>/dev/null | head -n 1 | clean)
paranoid=$(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null || echo null)
perf=false
perf_version=""
if [[ -z $emulator ]] && command -v perf >/dev/null && perf stat -o /dev/null true 2>/dev/null; then
  perf=true
  perf_version=$(perf --version 2>/dev/null | clean)
fi
unsupported=()
if [[ $perf == true ]]; then
  for event in cycles instructions branches branch-misses cache-misses; do
    perf stat -x, -e "$event" -o /dev/stdout true 2>/dev/null | grep -q '<not supported>' \
      && unsupported+=("\"$event\"")
  done
fi
accepted=()
for march in "$@"; do
  echo 'int main(void) { return 0; }' \
    | "$compiler" -march="$march" -x c - -o /dev/null 2>/dev/null && accepted+=("\"$(clean <<<"$march")\"")
done
join() { local IFS=,; echo "$*"; }
printf '{%s"hostname": "%s", "machine": "%s", "cpu_model": "%s", "nproc": %d, "mem_total_kb": %d, "compiler": "%s", "compiler_version": "%s", "perf": %s, "perf_version": "%s", "perf_event_paranoid": %s, "perf_unsupported": [%s], "march": [%s]}\n' \
  "$emulation" "$(hostname | clean)" "$(uname -m | clean)" "$cpu_model" "$(nproc)" "${mem_kb:-0}" "$(clean <<<"$compiler")" "$compiler_version" \
  "$perf" "$perf_version" "$paranoid" "$(join "${unsupported[@]}")" "$(join "${accepted[@]}")"
