#!/usr/bin/env python3
"""The class store's manifest: what the store holds and every file's sha256.

store_manifest.py write STORE META_JSON
    (the instructor) Lists every file under STORE with its sha256 in STORE/manifest.json,
    with META (what the store provides: llama2c and flamegraph {commit, dir}, and
    checkpoints: name -> {path, sha256} as the checkpoint role verified them, all of
    checkpoint_source), written beside and renamed into place, and only when it differs. A
    checkpoint may change (its provisioning verified the new one against its catalog); any
    other file the manifest already lists must still have its sum: a changed one is refused
    (exit 1) rather than blessed. Prints "changed" or "unchanged".
store_manifest.py use STORE REQUEST_JSON
    (a student) Reads the manifest, decides what of the request the store provides (llama2.c
    at the same commit with the same tokenizer, FlameGraph at the same commit, each
    checkpoint of the same source and, where the catalog pins one, the same sum), verifies
    every file of those against the manifest and prints JSON: what to use (absolute paths),
    the models the store lacks, the prebuilt binaries (builds_dir, the store's build cache,
    and builds: key -> sha256; only with the store's llama2.c, whose path is in every key),
    and the problems (a file changed or missing, with both sums).
    Reads only. Exit 1 (the reason on stderr) when the manifest cannot be read.

Standard library only: it runs with the target's python3 (a cluster's login node).
"""

import hashlib
import json
import os
import re
import sys
import tempfile
from pathlib import Path

MANIFEST = "manifest.json"
# The store's build cache: BUILDS/KEY/run, as roles/sweep/templates/build.sh.j2 writes it.
BUILDS = "builds/cache"
FORMAT = 1
# Work in progress of the store's writers, never listed: a download (NAME.part), a tree
# being exported (NAME.part.XXXXXX), a binary being built (.build.XXXXXX), a manifest being
# written (.manifest.json.XXXXXX).
DRAFT = re.compile(r"(\.part|\.part\.\w{6}|^\.build\.\w{6}|^\.manifest\.json\.\w+)$")


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def store_files(store: Path) -> list[str]:
    """Every regular file under store (relative, sorted) but the manifest and drafts."""
    found = []
    for directory, dirs, files in os.walk(store):
        dirs[:] = sorted(d for d in dirs if not DRAFT.search(d))
        for name in files:
            relative = os.path.relpath(os.path.join(directory, name), store)
            if relative != MANIFEST and not DRAFT.search(name):
                found.append(relative)
    return sorted(found)


def read_manifest(store: Path) -> dict:
    return json.loads((store / MANIFEST).read_text())


class ChangedFiles(Exception):
    """Files the manifest lists whose sum changed: (path, listed, actual) each."""

    def __init__(self, changed: list[tuple[str, str, str]]):
        self.changed = changed
        super().__init__(
            "; ".join(
                f"{path} has sha256 {actual}, the manifest says {listed}"
                for path, listed, actual in changed
            )
        )


def build_manifest(store: Path, meta: dict, old: dict | None) -> dict:
    """The manifest of store as it is now (raises ChangedFiles, see the module's doc)."""
    checkpoints = {
        name: {
            "path": os.path.relpath(entry["path"], store),
            "sha256": entry["sha256"],
            "source": meta["checkpoint_source"],
        }
        for name, entry in meta.get("checkpoints", {}).items()
    }
    verified = {entry["path"]: entry["sha256"] for entry in checkpoints.values()}
    listed = (old or {}).get("files", {})
    files, changed = {}, []
    for relative in store_files(store):
        actual = sha256(store / relative)
        if relative in listed and relative not in verified and listed[relative] != actual:
            changed.append((relative, listed[relative], actual))
        files[relative] = actual
    for relative, expected in verified.items():
        if files.get(relative) != expected:
            changed.append((relative, expected, files.get(relative, "(missing file)")))
    if changed:
        raise ChangedFiles(changed)
    # Checkpoints of earlier runs (other models) stay listed while their files are there.
    for name, entry in ((old or {}).get("checkpoints") or {}).items():
        if name not in checkpoints and entry.get("path") in files:
            checkpoints[name] = entry
    return {
        "format": FORMAT,
        "llama2c": meta.get("llama2c"),
        "flamegraph": meta.get("flamegraph"),
        "checkpoints": checkpoints,
        # What the prebuilt binaries were built from (setup-class compares it to build again).
        "builds_inputs": meta.get("builds_inputs", ""),
        "files": files,
    }


def write_manifest(store: Path, manifest: dict) -> bool:
    """Write manifest into store atomically (beside, then renamed), group-readable; False
    when the one there is the same."""
    text = json.dumps(manifest, indent=1, sort_keys=True) + "\n"
    target = store / MANIFEST
    if target.exists() and target.read_text() == text:
        return False
    handle, draft = tempfile.mkstemp(prefix=".manifest.json.", dir=store)
    try:
        with os.fdopen(handle, "w") as stream:
            stream.write(text)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(draft, 0o640)
        os.replace(draft, target)
    except BaseException:
        Path(draft).unlink(missing_ok=True)
        raise
    return True


def plan_use(store: Path, manifest: dict, request: dict) -> dict:
    """What of request the store provides, verified (see the module's doc)."""
    files = manifest.get("files", {})
    problems, verify = [], []

    def tree(kind: str, commit: str, extra_ok: bool = True) -> dict | None:
        entry = manifest.get(kind) or {}
        if not extra_ok or not entry.get("commit") or entry["commit"] != commit:
            return None
        prefix = entry["dir"].rstrip("/") + "/"
        verify.extend(path for path in files if path.startswith(prefix))
        return {"dir": str(store / entry["dir"]), "commit": entry["commit"]}

    llama2c = tree(
        "llama2c",
        request["llama2c_version"],
        (manifest.get("llama2c") or {}).get("tokenizer_sha256") == request["tokenizer_sha256"],
    )
    flamegraph = tree("flamegraph", request["flamegraph_version"], bool(request["flamegraph_repo"]))
    checkpoints, missing = {}, []
    for name in request["models"]:
        entry = (manifest.get("checkpoints") or {}).get(name)
        if not entry or entry.get("source") != request["checkpoint_source"]:
            missing.append(name)
            continue
        pinned = request.get("pinned", {}).get(name) or ""
        if entry["source"] == "download" and pinned and pinned != entry["sha256"]:
            problems.append(
                f"{store / entry['path']}: the store's {name} has sha256 {entry['sha256']}, "
                f"the checkpoint catalog pins {pinned}"
            )
            continue
        verify.append(entry["path"])
        checkpoints[name] = {"path": str(store / entry["path"]), "sha256": entry["sha256"]}
    builds = {}
    if llama2c:
        for path, expected in files.items():
            parts = path.split("/")
            if path.startswith(BUILDS + "/") and len(parts) == 4 and parts[3] == "run":
                builds[parts[2]] = expected
                verify.append(path)
    for relative in verify:
        expected = files.get(relative)
        path = store / relative
        try:
            actual = sha256(path)
        except OSError as error:
            actual = f"(unreadable: {error.strerror})"
        if expected is None:
            problems.append(f"{path}: not in the store's manifest")
        elif actual != expected:
            problems.append(f"{path}: sha256 {actual}, the store's manifest says {expected}")
    return {
        "llama2c": llama2c,
        "flamegraph": flamegraph,
        "checkpoints": checkpoints,
        "missing_models": missing,
        "builds_dir": str(store / BUILDS) if builds else "",
        "builds": builds,
        "problems": problems,
        "verified_files": len(verify),
    }


def main(argv: list[str]) -> int:
    command, store = argv[1], Path(argv[2])
    if command == "write":
        meta = json.loads(argv[3])
        try:
            old = read_manifest(store)
        except FileNotFoundError:
            old = None
        try:
            manifest = build_manifest(store, meta, old)
        except ChangedFiles as error:
            print(
                f"the class store {store} changed since its manifest was written: {error}. "
                "Remove what changed (a tree: its whole directory) and run setup-class again.",
                file=sys.stderr,
            )
            return 1
        print("changed" if write_manifest(store, manifest) else "unchanged")
        return 0
    if command == "use":
        try:
            manifest = read_manifest(store)
        except (OSError, ValueError) as error:
            print(f"cannot read the store's manifest {store / MANIFEST}: {error}", file=sys.stderr)
            return 1
        print(json.dumps(plan_use(store, manifest, json.loads(argv[3]))))
        return 0
    print(f"unknown command {command!r}: give write or use", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
