#!/bin/bash
# workspace.sh PATH MODE: create the workspace PATH (`~` is the user's home) with MODE, then
# print key=value lines: state (created, changed: its mode was set, present), path (absolute),
# writable (access(2), which sees a read-only mount: yes or no), free_bytes.
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
