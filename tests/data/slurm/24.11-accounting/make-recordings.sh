#!/bin/bash
# An array task cancelled while it is pending, on the 24.11 cluster of scripts/slurm-local
# with accounting (slurmdbd, MariaDB):
#   LLAMASWEEP_SLURM_ROOT=/var/tmp/llamasweep-trixie scripts/slurm-local up
#   eval "$(LLAMASWEEP_SLURM_ROOT=/var/tmp/llamasweep-trixie scripts/slurm-local env)"
#   bash make-recordings.sh
# An array of three tasks throttled to one (0-2%1): task 0 runs, task 1 is cancelled while
# it pends, task 2 runs after task 0. Recorded as the progress report asks (squeue --json
# --me --states=all --jobs=, sacct --json --jobs=, sacct's text form) right after the
# cancellation, and again once slurmctld has purged the array (MinJobAge lowered to 2 s
# meanwhile, put back afterwards).
set -euo pipefail
out=$(cd "$(dirname "$0")" && pwd)
cd /tmp
conf=$SLURM_CONF
saved=$(mktemp)
cp "$conf" "$saved"
restore() { cp "$saved" "$conf"; scontrol reconfigure; rm -f "$saved"; }
trap restore EXIT
sed -i 's/^MinJobAge=.*/MinJobAge=2/' "$conf"
scontrol reconfigure

record() {  # record WHEN: the three answers
  squeue --json --me --states=all --jobs="$array_job" >"$out/squeue--json--me--states=all--jobs=ARRAY.$1.json" 2>&1 || true  # purged: an error
  sacct --json --jobs="$array_job" >"$out/sacct--json--jobs=ARRAY.$1.json"
  sacct --parsable2 --noheader --allocations --jobs="$array_job" \
    --format=JobID,JobIDRaw,State,Reason,ExitCode,NodeList,JobName >"$out/sacct--parsable2.$1.txt"
}
array_job=$(sbatch --parsable --job-name=rec-pending-cancel --cpus-per-task=1 --time=5 \
  --array=0-2%1 --output=/dev/null --wrap='sleep 15')
until [[ $(squeue --noheader --jobs="${array_job}_0" --format=%T) == RUNNING ]]; do sleep 1; done
scancel "${array_job}_1"
sleep 2  # slurmdbd hears of it
record after-cancelling-pending-task-1
until ! squeue --noheader --jobs="$array_job" >/dev/null 2>&1; do sleep 5; done
sleep 2
record purged
echo "array job $array_job; recordings in $out"
