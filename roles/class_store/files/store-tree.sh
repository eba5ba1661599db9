#!/bin/bash
# store-tree.sh CLONE COMMIT DEST: DEST becomes the tree of COMMIT in the git clone CLONE
# (tracked files only, no .git: students read it, never run git on it), group-readable and
# writable by its owner alone. Written once: exported beside, then renamed into place; an
# existing DEST is left as it is (the manifest's sums say whether it still is what was
# exported). Prints "changed DEST" or "unchanged DEST".
set -euo pipefail
umask 027
clone=$1 commit=$2 dest=$3
if [[ -d $dest ]]; then
  echo "unchanged $dest"
  exit 0
fi
draft=$(mktemp -d "$dest.part.XXXXXX")
trap 'rm -rf "$draft"' EXIT
chmod 2750 "$draft"
git -C "$clone" archive --format=tar "$commit" | tar -x --no-same-owner --no-same-permissions -C "$draft"
# rename(2) refuses a non-empty directory: another setup exported it meanwhile.
if mv -T "$draft" "$dest" 2> /dev/null; then
  trap - EXIT
  echo "changed $dest"
else
  echo "unchanged $dest"
fi
