"""Tests of roles/checkpoint/files/synthetic_checkpoint.py.

The run.c checks need llama2.c's source: LLAMASWEEP_TEST_LLAMA2C names a git
bundle or repository (CI sets it); without it the shared mirror is used.
"""

import hashlib
import importlib.util
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.unit

TESTS_DIR = Path(__file__).resolve().parent
SCRIPT = TESTS_DIR.parent / "roles" / "checkpoint" / "files" / "synthetic_checkpoint.py"
SHARED_DIR = Path("/work/shared")
SHARED_LLAMA2C_BUNDLE = SHARED_DIR / "mirrors" / "llama2.c.bundle"

# name: (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len), bytes
REAL_MODELS = {
    "stories15M": ((288, 768, 6, 6, 6, 32000, 256), 60_816_028),
    "stories42M": ((512, 1376, 8, 8, 8, 32000, 1024), 167_020_572),
    "stories110M": ((768, 2048, 12, 12, 12, 32000, 1024), 438_381_596),
}
STEPS = 256  # run.c's default -n
TINY_SHAPE = (16, 32, 2, 4, 2, 64, 8)  # 2 kv heads for 4 query heads


def load_generator():
    spec = importlib.util.spec_from_file_location("synthetic_checkpoint", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


synthetic = load_generator()
STORIES15M = synthetic.Config(*REAL_MODELS["stories15M"][0])


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cli_args(config, seed_name: str, output: Path) -> list[str]:
    """The generator's command line, in the --option=value form the checkpoint role uses."""
    c = config
    options = (
        f"--dim={c.dim} --hidden-dim={c.hidden_dim} --n-layers={c.n_layers} "
        f"--n-heads={c.n_heads} --n-kv-heads={c.n_kv_heads} --vocab-size={c.vocab_size} "
        f"--seq-len={c.seq_len} --seed-name={seed_name}"
    ).split()
    return [sys.executable, str(SCRIPT), *options, f"--output={output}"]


def parse_probe(stdout: str) -> dict[str, float]:
    return {key: float(value) for key, value in (line.split() for line in stdout.splitlines())}


@pytest.fixture(scope="module")
def checkpoint_15m(tmp_path_factory) -> dict:
    path = tmp_path_factory.mktemp("checkpoint") / "stories15M.bin"
    return synthetic.write_checkpoint(STORIES15M, str(path), "stories15M")


@pytest.fixture(scope="module")
def llama2c_dir(tmp_path_factory) -> Path:
    source = os.environ.get("LLAMASWEEP_TEST_LLAMA2C")
    if source is None:
        if not SHARED_DIR.exists():
            pytest.skip(
                "llama2.c source unavailable: set LLAMASWEEP_TEST_LLAMA2C to its git bundle or repo"
            )
        source = str(SHARED_LLAMA2C_BUNDLE)
    checkout = tmp_path_factory.mktemp("llama2c") / "llama2.c"
    subprocess.run(["git", "clone", "--quiet", os.path.abspath(source), str(checkout)], check=True)
    return checkout


@pytest.fixture(scope="module")
def run_binary(llama2c_dir) -> Path:
    binary = llama2c_dir / "run"
    subprocess.run(["gcc", "-O3", "-o", str(binary), str(llama2c_dir / "run.c"), "-lm"], check=True)
    return binary


@pytest.fixture(scope="module")
def probe_binary(llama2c_dir) -> Path:
    binary = llama2c_dir / "synthetic_checkpoint_probe"
    source = TESTS_DIR / "synthetic_checkpoint_probe.c"
    compile_flags = ["-O3", "-I", str(llama2c_dir)]
    subprocess.run(["gcc", *compile_flags, "-o", str(binary), str(source), "-lm"], check=True)
    return binary


@pytest.fixture(scope="module")
def fflush_counter(tmp_path_factory) -> Path:
    shim = tmp_path_factory.mktemp("shim") / "fflush_counter.so"
    source = TESTS_DIR / "synthetic_fflush_counter.c"
    compile_flags = ["-shared", "-fPIC", "-O2"]
    subprocess.run(["gcc", *compile_flags, "-o", str(shim), str(source), "-ldl"], check=True)
    return shim


@pytest.fixture(scope="module")
def probe_15m(probe_binary, checkpoint_15m) -> dict[str, float]:
    command = [str(probe_binary), checkpoint_15m["path"], str(STEPS)]
    return parse_probe(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


@pytest.mark.parametrize("name", REAL_MODELS)
def test_size_equals_real_model(name):
    shape, real_size = REAL_MODELS[name]
    assert synthetic.checkpoint_size(synthetic.Config(*shape)) == real_size


def test_written_checkpoint_has_real_size_header_and_hash(checkpoint_15m):
    path = Path(checkpoint_15m["path"])
    assert path.stat().st_size == checkpoint_15m["size"] == REAL_MODELS["stories15M"][1]
    with open(path, "rb") as file:
        assert struct.unpack("<7i", file.read(28)) == REAL_MODELS["stories15M"][0]
    assert sha256_of(path) == checkpoint_15m["sha256"]
    assert sorted(p.name for p in path.parent.iterdir()) == ["stories15M.bin"]  # no temp file left


def test_weights_have_the_planned_values(checkpoint_15m):
    floats = np.memmap(checkpoint_15m["path"], dtype="<f4", mode="r", offset=28)
    offset = 0
    for tensor in synthetic.tensor_layout(STORIES15M):
        values = floats[offset : offset + tensor.n_elements]
        offset += tensor.n_elements
        if tensor.kind == "ones":
            assert np.all(values == 1.0), tensor.name
        elif tensor.kind == "zeros":
            assert np.all(values == 0.0), tensor.name
        elif tensor.kind == "matmul":
            assert values.std() == pytest.approx(synthetic.MATMUL_STD, rel=0.01), tensor.name
        else:
            embedding = values.reshape(STORIES15M.vocab_size, STORIES15M.dim)
            logit_std = embedding.std() * np.sqrt(STORIES15M.dim)
            assert logit_std == pytest.approx(synthetic.LOGIT_STD, rel=0.01)
            bos_row_std = embedding[synthetic.BOS_TOKEN].std() * np.sqrt(STORIES15M.dim)
            assert 0 < bos_row_std < 0.1
    assert offset == len(floats)


def test_cli_prints_same_bytes_for_another_chunk_size(checkpoint_15m, tmp_path):
    output = tmp_path / "stories15M.bin"
    # 999_983 is prime, so chunks and tensors never line up as with the default
    command = [*cli_args(STORIES15M, "stories15M", output), "--chunk-elements=999983"]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    printed = json.loads(result.stdout)
    expected = {key: checkpoint_15m[key] for key in ("size", "sha256")}
    assert printed == {"path": str(output), **expected}
    assert sha256_of(output) == printed["sha256"]


def test_bytes_depend_on_seed_name_not_on_chunking():
    config = synthetic.Config(*TINY_SHAPE)

    def checkpoint_hash(seed_name: str, chunk_elements: int) -> str:
        return hashlib.sha256(
            b"".join(synthetic.checkpoint_chunks(config, seed_name, chunk_elements))
        ).hexdigest()

    reference = checkpoint_hash("tiny", synthetic.DEFAULT_CHUNK_ELEMENTS)
    assert checkpoint_hash("tiny", 1) == checkpoint_hash("tiny", 7) == reference
    assert checkpoint_hash("tiny2", synthetic.DEFAULT_CHUNK_ELEMENTS) != reference
    size = sum(len(piece) for piece in synthetic.checkpoint_chunks(config, "tiny"))
    assert size == synthetic.checkpoint_size(config)


@pytest.mark.parametrize(
    "shape",
    [
        (288, 768, 6, 7, 7, 32000, 256),  # dim not a multiple of n_heads
        (288, 768, 6, 6, 4, 32000, 256),  # n_heads not a multiple of n_kv_heads
        (288, 768, 6, 6, 6, 1, 256),  # no room for the BOS token
        (288, 768, 0, 6, 6, 32000, 256),  # no layers
        (288, 768, 6, 6, 6, -32000, 256),  # unshared classifier: not generated
        (288, 2**31, 6, 6, 6, 32000, 256),  # does not fit the int32 header
    ],
)
def test_invalid_shape_is_rejected(shape):
    with pytest.raises(ValueError):
        synthetic.Config(*shape)


def test_cli_reports_invalid_shape(tmp_path):
    args = cli_args(synthetic.Config(*TINY_SHAPE), "tiny", tmp_path / "tiny.bin")
    args[args.index("--n-heads=4")] = "--n-heads=5"
    result = subprocess.run(args, capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert "dim must be a multiple of n_heads" in result.stderr
    assert result.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_failed_write_keeps_previous_file(tmp_path, monkeypatch):
    target = tmp_path / "tiny.bin"
    target.write_bytes(b"previous")

    def failing_chunks(config, seed_name, chunk_elements):
        yield synthetic.header_bytes(config)
        raise OSError("disk full")

    monkeypatch.setattr(synthetic, "checkpoint_chunks", failing_chunks)
    with pytest.raises(OSError, match="disk full"):
        synthetic.write_checkpoint(synthetic.Config(*TINY_SHAPE), str(target), "tiny")
    assert target.read_bytes() == b"previous"
    assert list(tmp_path.iterdir()) == [target]


def test_run_c_maps_weights_where_the_generator_puts_them(probe_15m):
    expected, offset = {}, 28
    for tensor in synthetic.tensor_layout(STORIES15M):
        if not tensor.name.startswith("freq_cis"):  # run.c skips it, so has no pointer to it
            expected[tensor.name] = offset
        offset += 4 * tensor.n_elements
    assert {name: probe_15m[name] for name in expected} == expected
    assert probe_15m["wcls"] == expected["token_embedding_table"]  # shared classifier
    assert probe_15m["weights_end"] == probe_15m["file_size"] == REAL_MODELS["stories15M"][1]


def test_top_p_sorts_few_candidates_and_never_meets_bos(probe_15m):
    # A nearly uniform distribution would pass all 32000 tokens to qsort each step.
    assert probe_15m["steps_generated"] == STEPS
    assert probe_15m["mean_candidates"] < 0.01 * STORIES15M.vocab_size
    assert probe_15m["max_bos_prob"] < 1e-6


def test_small_embedding_would_make_top_p_sort_everything(probe_binary, tmp_path, monkeypatch):
    # Control: the same check fails on weights of the usual small spread (0.02).
    monkeypatch.setattr(synthetic, "LOGIT_STD", synthetic.MATMUL_STD * np.sqrt(STORIES15M.dim))
    path = tmp_path / "small.bin"
    synthetic.write_checkpoint(STORIES15M, str(path), "stories15M")
    result = subprocess.run(
        [str(probe_binary), str(path), "4"], capture_output=True, text=True, check=True
    )
    assert parse_probe(result.stdout)["mean_candidates"] > 0.9 * STORIES15M.vocab_size


def test_run_c_generates_every_step(run_binary, fflush_counter, checkpoint_15m, tmp_path):
    count_file = tmp_path / "fflush_count"
    env = {**os.environ, "LD_PRELOAD": str(fflush_counter), "FFLUSH_COUNT_FILE": str(count_file)}
    tokenizer = run_binary.parent / "tokenizer.bin"
    options = ["-n", str(STEPS), "-s", "42", "-z", str(tokenizer)]  # default -t 1.0 -p 0.9
    command = [str(run_binary), checkpoint_15m["path"], *options]
    result = subprocess.run(command, capture_output=True, text=True, env=env, check=True)
    # generate() flushes stdout once per generated token and stops early at BOS
    assert int(count_file.read_text()) == STEPS
    assert "achieved tok/s" in result.stderr
