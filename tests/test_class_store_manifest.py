"""The class store's manifest (roles/class_store/files/store_manifest.py): what the
instructor's setup writes, and what a student's setup takes from the store and refuses."""

import hashlib
import importlib.util
import json
import stat
from pathlib import Path

import pytest
from conftest import PROJECT

pytestmark = pytest.mark.unit

SCRIPT = PROJECT / "roles" / "class_store" / "files" / "store_manifest.py"
spec = importlib.util.spec_from_file_location("store_manifest", SCRIPT)
store_manifest = importlib.util.module_from_spec(spec)
spec.loader.exec_module(store_manifest)

COMMIT = "a" * 40
OTHER = "b" * 40
TOKENIZER = "t" * 64
KEY = "k" * 64


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def store(tmp_path) -> Path:
    """A store as setup-class leaves it, before its manifest."""
    root = tmp_path / "store"
    for relative, data in {
        f"llama2.c/{COMMIT}/run.c": b"int main() {}\n",
        f"llama2.c/{COMMIT}/tokenizer.bin": b"tokens",
        f"FlameGraph/{COMMIT}/flamegraph.pl": b"#!/usr/bin/perl\n",
        "checkpoints/tiny.bin": b"weights",
        "checkpoints/big.bin.part": b"half a download",  # drafts are never listed
        f"builds/cache/{KEY}/run": b"a binary",
        f"builds/cache/{KEY}/compile.log": b"\n",
        f"llama2.c/{OTHER}.part.x1y2z3/run.c": b"an export in progress",
        "builds/cache/.build.a1B2c3/run": b"a build in progress",
        ".manifest.json.k9x_2q": b"a manifest being written",
        f"FlameGraph/{COMMIT}/test/part.partition.txt": b"a file whose name says part",
    }.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_bytes(data)
    return root


def meta(store: Path, **changes) -> dict:
    return {
        "llama2c": {"commit": COMMIT, "dir": f"llama2.c/{COMMIT}", "tokenizer_sha256": TOKENIZER},
        "flamegraph": {"commit": COMMIT, "dir": f"FlameGraph/{COMMIT}"},
        "checkpoint_source": "download",
        "checkpoints": {
            "tiny": {"path": str(store / "checkpoints/tiny.bin"), "sha256": sha(b"weights")}
        },
        **changes,
    }


def write(store: Path, meta: dict) -> bool:
    old = (
        json.loads((store / "manifest.json").read_text())
        if (store / "manifest.json").exists()
        else None
    )
    return store_manifest.write_manifest(store, store_manifest.build_manifest(store, meta, old))


def request(**changes) -> dict:
    return {
        "llama2c_version": COMMIT,
        "tokenizer_sha256": TOKENIZER,
        "flamegraph_repo": "https://example.org/FlameGraph.git",
        "flamegraph_version": COMMIT,
        "models": ["tiny"],
        "checkpoint_source": "download",
        "pinned": {"tiny": ""},
        **changes,
    }


def use(store: Path, **changes) -> dict:
    manifest = json.loads((store / "manifest.json").read_text())
    return store_manifest.plan_use(store, manifest, request(**changes))


def test_the_manifest_lists_every_file_and_its_sum_written_once(store):
    assert write(store, meta(store)) is True
    manifest = json.loads((store / "manifest.json").read_text())
    assert manifest["files"] == {
        f"builds/cache/{KEY}/compile.log": sha(b"\n"),
        f"builds/cache/{KEY}/run": sha(b"a binary"),
        f"FlameGraph/{COMMIT}/flamegraph.pl": sha(b"#!/usr/bin/perl\n"),
        f"FlameGraph/{COMMIT}/test/part.partition.txt": sha(b"a file whose name says part"),
        "checkpoints/tiny.bin": sha(b"weights"),
        f"llama2.c/{COMMIT}/run.c": sha(b"int main() {}\n"),
        f"llama2.c/{COMMIT}/tokenizer.bin": sha(b"tokens"),
    }
    assert manifest["checkpoints"] == {
        "tiny": {"path": "checkpoints/tiny.bin", "sha256": sha(b"weights"), "source": "download"}
    }
    assert stat.S_IMODE((store / "manifest.json").stat().st_mode) == 0o640
    before = (store / "manifest.json").stat().st_mtime_ns
    assert write(store, meta(store)) is False  # the same manifest: not rewritten
    assert (store / "manifest.json").stat().st_mtime_ns == before
    drafts = [p.name for p in store.iterdir() if p.name.startswith(".manifest.json.")]
    assert drafts == [".manifest.json.k9x_2q"]  # the fixture's own: none left by the writes


def test_a_changed_file_is_refused_not_blessed_but_a_reverified_checkpoint_may_change(store):
    write(store, meta(store))
    run_c = store / "llama2.c" / COMMIT / "run.c"
    run_c.write_bytes(b"planted\n")
    with pytest.raises(store_manifest.ChangedFiles) as refused:
        write(store, meta(store))
    planted, listed = sha(b"planted\n"), sha(b"int main() {}\n")
    assert str(refused.value) == (
        f"llama2.c/{COMMIT}/run.c has sha256 {planted}, the manifest says {listed}"
    )
    run_c.write_bytes(b"int main() {}\n")
    # A checkpoint provisioned again (its catalog changed) is verified by its own role.
    (store / "checkpoints/tiny.bin").write_bytes(b"new weights")
    changed = meta(store)
    changed["checkpoints"]["tiny"]["sha256"] = sha(b"new weights")
    assert write(store, changed) is True
    # ... and one that differs from what its role verified is refused.
    (store / "checkpoints/tiny.bin").write_bytes(b"other weights")
    with pytest.raises(store_manifest.ChangedFiles):
        write(store, changed)


def test_a_student_takes_what_the_store_has_and_verifies_it(store):
    write(store, meta(store))
    plan = use(store, models=["tiny", "stories42M"])
    assert plan["llama2c"] == {"dir": str(store / "llama2.c" / COMMIT), "commit": COMMIT}
    assert plan["flamegraph"] == {"dir": str(store / "FlameGraph" / COMMIT), "commit": COMMIT}
    assert plan["checkpoints"] == {
        "tiny": {"path": str(store / "checkpoints/tiny.bin"), "sha256": sha(b"weights")}
    }
    assert plan["missing_models"] == ["stories42M"]
    # The prebuilt binaries, keyed as the build cache (the store's run.c path is in the key).
    assert plan["builds"] == {KEY: sha(b"a binary")}
    assert plan["builds_dir"] == str(store / "builds" / "cache")
    assert plan["problems"] == [] and plan["verified_files"] == 6


def test_what_the_store_lacks_is_left_to_the_workspace(store):
    write(store, meta(store))
    plan = use(
        store,
        llama2c_version=OTHER,  # another commit
        flamegraph_repo="",  # flame graphs off
        checkpoint_source="synthetic",  # the store's checkpoint was downloaded
    )
    assert plan["llama2c"] is None and plan["flamegraph"] is None
    assert plan["builds"] == {} and plan["builds_dir"] == ""  # keys name the store's run.c
    assert plan["checkpoints"] == {} and plan["missing_models"] == ["tiny"]
    assert use(store, tokenizer_sha256="x" * 64)["llama2c"] is None


def test_a_changed_missing_or_unpinned_file_is_a_problem_naming_both_sums(store):
    write(store, meta(store))
    checkpoint = store / "checkpoints/tiny.bin"
    checkpoint.write_bytes(b"weighty")  # same size, one byte changed
    (store / "FlameGraph" / COMMIT / "flamegraph.pl").unlink()
    plan = use(store)
    assert plan["problems"] == [
        f"{store / 'FlameGraph' / COMMIT / 'flamegraph.pl'}: sha256 (unreadable: No such file or "
        "directory), the store's manifest says " + sha(b"#!/usr/bin/perl\n"),
        f"{checkpoint}: sha256 {sha(b'weighty')}, the store's manifest says {sha(b'weights')}",
    ]
    pinned = use(store, pinned={"tiny": "c" * 64}, flamegraph_repo="")
    assert pinned["problems"] == [
        f"{checkpoint}: the store's tiny has sha256 {sha(b'weights')}, "
        f"the checkpoint catalog pins {'c' * 64}"
    ]


def test_an_unreadable_manifest_is_one_message(tmp_path, capsys):
    assert store_manifest.main(["store_manifest.py", "use", str(tmp_path), "{}"]) == 1
    assert "cannot read the store's manifest" in capsys.readouterr().err
