#!/bin/bash
# workspace.sh PATH MODE: create the workspace PATH (`~` is the user's home) with MODE, then
# print key=value lines: state (created, changed: its mode was set, present), path (absolute),
# writable (access(2), which sees a read-only mount: yes or no), free_bytes (df), filesystem
# (df's source), and the user's quota as a quota tool prints it: quota_tool (`lfs quota` on
# Lustre, else `quota` where installed, else empty) and quota_output (base64). Python reads
# the quota (module_utils/quota.py); nothing here decides.
set -euo pipefail
path=$1 mode=$2
# A literal `~` (the argument is quoted): the user's home, as Ansible's modules take it.
# shellcheck disable=SC2088
if [[ $path == "~" || $path == "~/"* ]]; then
  path=$HOME${path:1}
fi
if [[ -d $path ]]; then
  before=$(stat --format=%a -- "$path")
  chmod -- "$mode" "$path"
  state=$([[ $(stat --format=%a -- "$path") == "$before" ]] && echo present || echo changed)
else
  mkdir -p -- "$path"
  chmod -- "$mode" "$path"
  state=created
fi
path=$(cd -- "$path" && pwd)
echo "state=$state"
echo "path=$path"
echo "writable=$([[ -w $path ]] && echo yes || echo no)"
echo "free_bytes=$(df --output=avail --block-size=1 -- "$path" | tail -n 1 | tr -d ' ')"
read -r filesystem _ < <(df --output=source,target -- "$path" | tail -n 1)
echo "filesystem=$filesystem"
tool="" output=""
if [[ $(stat --file-system --format=%T -- "$path") == lustre ]] && command -v lfs >/dev/null; then
  tool="lfs quota"
  output=$(timeout 30 lfs quota -u "$(id -un)" "$path" 2>&1) || true
elif command -v quota >/dev/null; then
  tool=quota
  output=$(timeout 30 quota -w -u "$(id -un)" 2>&1) || true  # exits 1 over a limit
fi
echo "quota_tool=$tool"
echo "quota_output=$(printf '%s' "$output" | base64 -w 0)"
