#!/bin/bash
# profile.sh TASK_DIR EVENT CALL_GRAPH FREQUENCY FLAMEGRAPH_DIR SVG_OFF_REASON KEEP_DATA -- COMMAND...
# (CALL_GRAPH: perf record's --call-graph value, fp or dwarf,STACK_BYTES)
# One profiling task (run-task.sh calls it with the selected configuration's run command):
# perf record of COMMAND, then on this node perf script, FlameGraph's stackcollapse-perf.pl
# and flamegraph.pl. Leaves in TASK_DIR profile.folded and flamegraph.svg (or, without
# FlameGraph, perf.script for the collector to fold), stdout.txt and stderr.txt, and prints
# its facts for run-task.sh's execution.txt, key=value a line: event (what perf recorded),
# call_graph (fp or dwarf), frequency, samples, command (the perf record command),
# svg_off_reason and failure (empty when the profile was recorded, else why). Exit status
# 0 when it was.
set -uo pipefail
task_dir=$1 event=$2 call_graph=$3 frequency=$4 flamegraph_dir=$5 svg_off_reason=$6 keep_data=$7
shift 8
cd "$task_dir" || exit 1
samples=0 command=""

# fact KEY VALUE: one key=value line (a newline in VALUE becomes a space).
fact() {
  printf '%s=%s\n' "$1" "${2//$'\n'/ }"
}

# finish FAILURE: prints the facts; exits 0 when FAILURE is empty.
finish() {
  fact event "$event"
  fact call_graph "${call_graph%%,*}"
  fact frequency "$frequency"
  fact samples "$samples"
  fact command "$command"
  fact svg_off_reason "$svg_off_reason"
  fact failure "$1"
  [[ $keep_data == true ]] || rm -f perf.data
  [[ -z $1 ]]
  exit
}

if ! perf_version=$(perf --version 2>&1); then
  finish "perf does not run on $(hostname): $perf_version"
fi
# Some perf versions fall back from a hardware event to cpu-clock by themselves, others
# fail: ask once with a no-op, so the benchmark itself runs once.
if ! perf record -q -e "$event" -o probe.data -- true > /dev/null 2> probe.err; then
  event=cpu-clock
fi
rm -f probe.data probe.err
record=(perf record -q -e "$event" --call-graph "$call_graph" -F "$frequency" -o perf.data -- "$@")
command="OMP_NUM_THREADS=${OMP_NUM_THREADS:-} ${record[*]@Q}"
if ! "${record[@]}" > stdout.txt 2> stderr.txt; then
  finish "perf record -e $event failed on $(hostname): $(tail -n 2 stderr.txt | tr '\n' ' ')"
fi
event=$(perf evlist -i perf.data 2> /dev/null | head -n 1)
if ! perf script -i perf.data > perf.script 2> perf-script.err; then
  finish "perf script failed: $(head -n 2 perf-script.err | tr '\n' ' ')"
fi
rm -f perf-script.err
samples=$(grep -c '^[^[:space:]#]' perf.script)

if [[ -n $flamegraph_dir ]]; then
  title="$(basename "$task_dir") on $(hostname): perf record -e $event --call-graph $call_graph"
  if perl "$flamegraph_dir/stackcollapse-perf.pl" perf.script > profile.folded 2> flamegraph.err \
      && perl "$flamegraph_dir/flamegraph.pl" --title "$title" profile.folded > flamegraph.svg 2>> flamegraph.err; then
    rm -f perf.script flamegraph.err
  else
    svg_off_reason="FlameGraph failed: $(head -n 2 flamegraph.err | tr '\n' ' ')"
    rm -f profile.folded flamegraph.svg
  fi
fi
finish ""
