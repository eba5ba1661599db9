#!/bin/bash
# bandwidth.sh SWEEP_DIR NAME TRIAD PARTITION THREADS LABEL BYTES TRIALS: one memory
# bandwidth measurement (TRIAD: files/triad.c, compiled by build.sh) written to
# SWEEP_DIR/NAME.json (NAME = bandwidth/PARTITION-tTHREADS-LABEL); on failure the reason
# goes to SWEEP_DIR/NAME.err and the exit status is not 0.
set -uo pipefail
sweep_dir=$1 name=$2 triad=$3 partition=$4 threads=$5 label=$6 bytes=$7 trials=$8
out=$sweep_dir/$name
mkdir -p "$(dirname "$out")"
if [[ ! -x $triad ]]; then
  echo "no bandwidth benchmark at $triad (see triad.log beside it)" > "$out.err"
  exit 1
fi
if ! result=$(OMP_NUM_THREADS=$threads "$triad" "$bytes" "$trials" "$label" 2> "$out.err"); then
  exit 1
fi
host=$(hostname | tr -cd '[:alnum:]._-')
# triad prints one JSON object; partition and host go in before its closing brace.
printf '%s, "partition": "%s", "host": "%s"}\n' "${result%\}}" "$partition" "$host" > "$out.json.tmp" \
  && mv -f "$out.json.tmp" "$out.json"
rm -f "$out.err"
