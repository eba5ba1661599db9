#!/bin/bash
# setup-stamp.sh check STAMP_DIR INPUTS
#   Prints "current" then the recorded facts (JSON) when STAMP_DIR was recorded with the same
#   INPUTS and everything it lists is as recorded; else one line "stale: WHY".
# setup-stamp.sh record STAMP_DIR INPUTS FACTS_JSON [checkout COMMIT DIR | file PATH]...
#   Records INPUTS, FACTS_JSON (kept as given) and, to verify later, each checkout's commit and
#   each file's size and modification time: a checkout verified by git, a file by stat,
#   never re-hashed.
set -euo pipefail
umask 077
command=$1 stamp=$2 inputs=$3

# What a file is, cheaply: size and modification time (nanoseconds).
file_state() { stat --format='%s %y' -- "$1" 2> /dev/null; }
# A checkout is as provisioned when HEAD is the commit and nothing is modified.
checkout_is() {
  [[ $(git -C "$2" rev-parse -q --verify HEAD 2> /dev/null) == "$1" ]] \
    && [[ -z $(git -C "$2" status --porcelain 2> /dev/null || echo modified) ]]
}

case $command in
  check)
    stale() { echo "stale: $*"; exit 0; }
    [[ -f $stamp/inputs ]] || stale "no stamp of an earlier setup in $stamp"
    [[ $(< "$stamp/inputs") == "$inputs" ]] || stale "the inputs changed since the last setup"
    while IFS=$'\t' read -r kind expected path; do
      case $kind in
        checkout) checkout_is "$expected" "$path" || stale "$path is not at $expected or was modified" ;;
        file) [[ $(file_state "$path") == "$expected" ]] || stale "$path is missing or was modified" ;;
      esac
    done < "$stamp/verify.tsv"
    echo current
    cat "$stamp/facts.json"
    ;;
  record)
    shift 3
    facts=$1
    shift
    draft=$(mktemp -d "$stamp.XXXXXX")
    printf '%s\n' "$facts" > "$draft/facts.json"
    while (($#)); do
      case $1 in
        checkout) printf 'checkout\t%s\t%s\n' "$2" "$3" && shift 3 ;;
        file) printf 'file\t%s\t%s\n' "$(file_state "$2")" "$2" && shift 2 ;;
        *) echo "unknown entry '$1': give checkout COMMIT DIR or file PATH" >&2 && exit 2 ;;
      esac
    done > "$draft/verify.tsv"
    printf '%s\n' "$inputs" > "$draft/inputs"
    # A setup interrupted here leaves no stamp: the next one provisions again.
    rm -rf "$stamp"
    mv "$draft" "$stamp"
    ;;
  *) echo "unknown command '$command': give check or record" >&2 && exit 2 ;;
esac
