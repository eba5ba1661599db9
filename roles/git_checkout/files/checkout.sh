#!/bin/bash
# checkout.sh REPO DEST VERSION: make DEST a clone of REPO checked out at VERSION (a commit,
# branch or tag). REPO may be any git URL, a local path or a bundle file (which Ansible's git
# module cannot read). Prints "changed SHA" or "unchanged SHA".
set -euo pipefail
repo=$1 dest=$2 version=$3
changed=unchanged
if [[ ! -d $dest/.git ]]; then
  git clone --quiet --no-checkout "$repo" "$dest"
  changed=changed
fi
git -C "$dest" remote set-url origin "$repo"
# A full commit id already present needs no fetch: a pinned setup runs offline and unchanged.
if ! [[ $version =~ ^[0-9a-f]{40}$ ]] || ! commit=$(git -C "$dest" rev-parse -q --verify "$version^{commit}"); then
  git -C "$dest" fetch --quiet --tags origin '+refs/heads/*:refs/remotes/origin/*'
  commit=$(git -C "$dest" rev-parse -q --verify "origin/$version^{commit}" \
    || git -C "$dest" rev-parse -q --verify "$version^{commit}") \
    || { echo "version '$version' is not in $repo" >&2; exit 1; }
fi
if [[ $(git -C "$dest" rev-parse -q --verify HEAD || true) != "$commit" \
    || -n $(git -C "$dest" status --porcelain) ]]; then
  git -C "$dest" checkout --quiet --force --detach "$commit"
  changed=changed
fi
echo "$changed $commit"
