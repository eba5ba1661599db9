#!/bin/bash
# profile.sh RUN_DIR META EVENT CALL_GRAPH FREQUENCY FLAMEGRAPH_DIR SVG_OFF_REASON KEEP_DATA -- COMMAND...
# (CALL_GRAPH: perf record's --call-graph value, fp or dwarf,STACK_BYTES)
# One profiling run (run-config.sh calls it with the selected configuration's run command):
# perf record of COMMAND, then on this node perf script, FlameGraph's stackcollapse-perf.pl
# and flamegraph.pl. Leaves in RUN_DIR profile.folded and flamegraph.svg (or, without
# FlameGraph, perf.script for the collector to fold), stdout.txt, stderr.txt and, last,
# profile.json: META (a JSON object) with host, event (what perf recorded), call_graph (fp
# or dwarf), frequency, samples, command (the perf record command), duration_s (recording,
# perf script and FlameGraph), svg_off_reason and status ("ok" or why it failed).
set -uo pipefail
run_dir=$1 meta=$2 event=$3 call_graph=$4 frequency=$5 flamegraph_dir=$6 svg_off_reason=$7 keep_data=$8
shift 9
cd "$run_dir" || exit 1
samples=0 command="" start_ns=$(date +%s%N)

json_string() {
  local text=${1//\\/\\\\}
  printf '"%s"' "$(printf '%s' "${text//\"/\\\"}" | tr '\000-\037' ' ')"
}

# finish STATUS: writes profile.json; exits 0 when STATUS is ok.
finish() {
  local elapsed_ms=$((($(date +%s%N) - start_ns) / 1000000))
  printf '%s, "host": %s, "event": %s, "call_graph": %s, "frequency": %d, "samples": %d, "command": %s, "duration_s": %d.%03d, "svg_off_reason": %s, "status": %s}\n' \
    "${meta%\}}" "$(json_string "$(hostname)")" "$(json_string "$event")" "$(json_string "${call_graph%%,*}")" \
    "$frequency" "$samples" "$(json_string "$command")" $((elapsed_ms / 1000)) $((elapsed_ms % 1000)) \
    "$(json_string "$svg_off_reason")" "$(json_string "$1")" > profile.json.tmp
  mv -f profile.json.tmp profile.json
  [[ $keep_data == true ]] || rm -f perf.data
  [[ $1 == ok ]]
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
  title="$(basename "$run_dir") on $(hostname): perf record -e $event --call-graph $call_graph"
  if perl "$flamegraph_dir/stackcollapse-perf.pl" perf.script > profile.folded 2> flamegraph.err \
      && perl "$flamegraph_dir/flamegraph.pl" --title "$title" profile.folded > flamegraph.svg 2>> flamegraph.err; then
    rm -f perf.script flamegraph.err
  else
    svg_off_reason="FlameGraph failed: $(head -n 2 flamegraph.err | tr '\n' ' ')"
    rm -f profile.folded flamegraph.svg
  fi
fi
finish ok
