#!/bin/bash
# Makes the recordings in this folder from the 24.11 cluster of scripts/slurm-local:
#   LLAMASWEEP_SLURM_ROOT=/var/tmp/llamasweep-trixie scripts/slurm-local up
#   eval "$(LLAMASWEEP_SLURM_ROOT=/var/tmp/llamasweep-trixie scripts/slurm-local env)"
#   bash make-recordings.sh
# (the node has 2 CPUs; every job asks for 1, not exclusive).
set -euo pipefail
out=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/recordings-24.11.XXXXXX)  # /tmp is shared with the root's jobs
cd "$work"
state() { squeue --noheader --jobs="$1" --format=%T 2>/dev/null | head -n 1; }
wait_state() {  # wait_state JOB STATE
  until [[ $(state "$1") == "$2" ]]; do sleep 1; done
}

sinfo --version >"$out/sinfo--version.txt"
squeue --version >"$out/squeue--version.txt"
scontrol --version >"$out/scontrol--version.txt"

# A job over its time limit (--time=1: TIMEOUT after 60 s) and one cancelled while running.
timeout_job=$(sbatch --parsable --job-name=rec-timeout --cpus-per-task=1 --time=1 \
  --output=timeout.out --wrap='sleep 600')
cancel_job=$(sbatch --parsable --job-name=rec-cancel --cpus-per-task=1 --time=10 \
  --output=cancel.out --wrap='sleep 600')
wait_state "$cancel_job" RUNNING
scancel "$cancel_job"
echo "timeout job $timeout_job, cancelled job $cancel_job; waiting for the TIMEOUT"
until [[ -z $(squeue --noheader --jobs="$timeout_job" --states=PD,R,CG --format=%i) ]]; do sleep 2; done

# An array throttled to 2: task 0 completes, task 1 fails (exit 3), tasks 2-5 sleep; 2 and 3
# run while 4 and 5 pend (JobArrayTaskLimit); then task 3 is cancelled, and 4 starts.
cat >array.sh <<'SH'
#!/bin/bash
case $SLURM_ARRAY_TASK_ID in
  0) exit 0 ;;
  1) echo "task 1 fails" >&2; exit 3 ;;
  *) sleep 600 ;;
esac
SH
array_job=$(sbatch --parsable --job-name=rec-array --cpus-per-task=1 --time=15 \
  --array=0-5%2 --output=array-%A_%a.out array.sh)
wait_state "${array_job}_2" RUNNING
wait_state "${array_job}_3" RUNNING
# 24.11's squeue --json lists finished jobs only with --states=all (22.05's lists every
# job whatever the filters); both are recorded.
squeue --json >"$out/squeue--json.array-running-pending.json"
squeue --json --states=all \
  >"$out/squeue--json--states=all.array-running-pending-completed-failed-timeout-cancelled.json"
squeue --json --me --states=all --jobs="$array_job" >"$out/squeue--json--me--states=all--jobs=ARRAY.json"
squeue --array --noheader --format='%i|%A|%K|%T|%r|%N|%M|%l' \
  >"$out/squeue--array-format.txt"
scancel "${array_job}_3"
wait_state "${array_job}_4" RUNNING
squeue --json --states=all >"$out/squeue--json--states=all.after-cancelling-task-3.json"
sacct --json >"$out/sacct--json.accounting-off.txt" 2>&1 || true
scancel "$array_job"
echo "array job $array_job; recordings in $out"
