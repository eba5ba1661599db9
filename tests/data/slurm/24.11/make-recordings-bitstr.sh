#!/bin/bash
# The array_task_string of a long pending remainder, cut to 64 characters plus "..." unless
# SLURM_BITSTR_LEN=0; same cluster and environment as make-recordings.sh. The array (the
# primes below 300 as task ids, which no range with a step covers; throttle 1) is held,
# recorded both ways, then cancelled.
set -euo pipefail
out=$(cd "$(dirname "$0")" && pwd)
cd /tmp
array_job=$(sbatch --parsable --hold --job-name=rec-bitstr --cpus-per-task=1 --time=1 \
  --array="$(seq 2 299 | factor | awk 'NF == 2 { printf "%s%s", sep, $2; sep = "," }')%1" --output=/dev/null --wrap=true)
squeue --json --jobs="$array_job" >"$out/squeue--json.long-pending-array.json"
SLURM_BITSTR_LEN=0 squeue --json --jobs="$array_job" \
  >"$out/squeue--json.long-pending-array.SLURM_BITSTR_LEN=0.json"
squeue --array --noheader --jobs="$array_job" --format='%i|%A|%K|%T|%r' \
  >"$out/squeue--array-format.long-pending-array.txt"
scancel "$array_job"
echo "array job $array_job; recordings in $out"
