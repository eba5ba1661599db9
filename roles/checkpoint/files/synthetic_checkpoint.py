#!/usr/bin/env python3
"""Write a deterministic random-weight checkpoint in llama2.c's format.

The file has exactly the shape and size of a real model (a header of 7 int32,
then float32 weights in run.c's order, including the freq_cis block run.c
skips), so run.c does the same work on it as on the real model. Tests and CI
have no internet, so they benchmark these instead of the trained checkpoints.

Random weights must not change what is measured: small random weights give a
nearly uniform next-token distribution, and run.c's top-p sampling then sorts
all vocab_size candidates every token (qsort becomes ~22 % of the run). So the
shared embedding/classifier gets a larger spread, which makes the logits
peaked like a trained model's, and the BOS row is scaled down so that its
logit stays far below the top ones: run.c stops generating at BOS.

Prints one JSON line {"path", "size", "sha256"} on stdout.
"""

import argparse
import hashlib
import json
import os
import struct
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import astuple, dataclass, fields

import numpy as np

BOS_TOKEN = 1  # run.c's generate() stops when it samples this token
MATMUL_STD = 0.02  # usual init of the attention and feed-forward matrices
# Std of each logit (embedding std * sqrt(dim)). At 5 the next-token
# distribution is peaked, so top-p keeps few candidates, as with a trained model.
LOGIT_STD = 5.0
# The BOS row is scaled down, not zeroed: generation starts from BOS, and a
# zero input row zeroes every activation, giving a uniform first distribution.
BOS_ROW_SCALE = 1e-3
DEFAULT_CHUNK_ELEMENTS = 1 << 22  # 16 MiB of float32 per write: bounded memory
HEADER_FORMAT = "<7i"  # dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len
INT32_MAX = 2**31 - 1


@dataclass(frozen=True)
class Config:
    """The 7 header fields of a llama2.c checkpoint, in header order."""

    dim: int
    hidden_dim: int
    n_layers: int
    n_heads: int
    n_kv_heads: int
    vocab_size: int
    seq_len: int

    def __post_init__(self) -> None:
        for name, value in zip((f.name for f in fields(self)), astuple(self), strict=True):
            if not 0 < value <= INT32_MAX:
                raise ValueError(f"{name} must be a positive int32, got {value}")
        if self.dim % self.n_heads:
            raise ValueError("dim must be a multiple of n_heads")
        if self.n_heads % self.n_kv_heads:
            raise ValueError("n_heads must be a multiple of n_kv_heads")
        if self.vocab_size <= BOS_TOKEN:
            raise ValueError(f"vocab_size must be above the BOS token id {BOS_TOKEN}")

    @property
    def head_size(self) -> int:
        return self.dim // self.n_heads


@dataclass(frozen=True)
class Tensor:
    """One block of float32s in the file; kind says how it is filled."""

    name: str
    n_elements: int
    kind: str  # "embedding", "matmul", "ones" or "zeros"


def tensor_layout(config: Config) -> list[Tensor]:
    """The float32 blocks after the header, in run.c's memory_map_weights order.

    Each per-layer block holds all layers back to back. vocab_size is written
    positive, so the classifier shares the embedding and has no block of its own.
    """
    c = config
    layers = c.n_layers
    kv_dim = c.n_kv_heads * c.head_size
    # run.c skips seq_len * head_size / 2 floats (integer division) twice
    freq_cis = c.seq_len * c.head_size // 2
    return [
        Tensor("token_embedding_table", c.vocab_size * c.dim, "embedding"),
        Tensor("rms_att_weight", layers * c.dim, "ones"),
        Tensor("wq", layers * c.dim * c.dim, "matmul"),
        Tensor("wk", layers * c.dim * kv_dim, "matmul"),
        Tensor("wv", layers * c.dim * kv_dim, "matmul"),
        Tensor("wo", layers * c.dim * c.dim, "matmul"),
        Tensor("rms_ffn_weight", layers * c.dim, "ones"),
        Tensor("w1", layers * c.dim * c.hidden_dim, "matmul"),
        Tensor("w2", layers * c.hidden_dim * c.dim, "matmul"),
        Tensor("w3", layers * c.dim * c.hidden_dim, "matmul"),
        Tensor("rms_final_weight", c.dim, "ones"),
        # run.c never reads these (RoPE is computed on the fly)
        Tensor("freq_cis_real", freq_cis, "zeros"),
        Tensor("freq_cis_imag", freq_cis, "zeros"),
    ]


def checkpoint_size(config: Config) -> int:
    """Size in bytes of the checkpoint file for config."""
    n_floats = sum(tensor.n_elements for tensor in tensor_layout(config))
    return struct.calcsize(HEADER_FORMAT) + 4 * n_floats


def header_bytes(config: Config) -> bytes:
    return struct.pack(HEADER_FORMAT, *astuple(config))


def seed_entropy(seed_name: str) -> int:
    """The RNG seed for a name, e.g. "stories15M": the sha256 of its UTF-8 bytes."""
    return int.from_bytes(hashlib.sha256(seed_name.encode()).digest(), "little")


def _tensor_chunks(
    config: Config, tensor: Tensor, rng: np.random.Generator, chunk_elements: int
) -> Iterator[np.ndarray]:
    """The tensor's values as float32 arrays of at most chunk_elements each.

    Normal draws continue the generator's stream across calls, so the values do
    not depend on chunk_elements.
    """
    std = LOGIT_STD / np.sqrt(config.dim) if tensor.kind == "embedding" else MATMUL_STD
    bos_begin, bos_end = BOS_TOKEN * config.dim, (BOS_TOKEN + 1) * config.dim
    for start in range(0, tensor.n_elements, chunk_elements):
        count = min(chunk_elements, tensor.n_elements - start)
        if tensor.kind == "ones":
            yield np.ones(count, dtype=np.float32)
        elif tensor.kind == "zeros":
            yield np.zeros(count, dtype=np.float32)
        else:
            chunk = rng.standard_normal(count, dtype=np.float32)
            chunk *= np.float32(std)
            if tensor.kind == "embedding":
                # shrink the BOS row: its logit is then ~0, far below the top logits
                bos_in_chunk = slice(max(bos_begin - start, 0), max(bos_end - start, 0))
                chunk[bos_in_chunk] *= np.float32(BOS_ROW_SCALE)
            yield chunk


def checkpoint_chunks(
    config: Config, seed_name: str, chunk_elements: int = DEFAULT_CHUNK_ELEMENTS
) -> Iterator[bytes]:
    """The checkpoint's bytes, in pieces of at most chunk_elements float32s."""
    if chunk_elements <= 0:
        raise ValueError("chunk_elements must be positive")
    yield header_bytes(config)
    entropy = seed_entropy(seed_name)
    for index, tensor in enumerate(tensor_layout(config)):
        # one stream per tensor, so each tensor's values depend only on its own index
        rng = np.random.Generator(
            np.random.PCG64(np.random.SeedSequence(entropy, spawn_key=(index,)))
        )
        for chunk in _tensor_chunks(config, tensor, rng, chunk_elements):
            yield chunk.astype("<f4", copy=False).tobytes()


def write_checkpoint(
    config: Config,
    path: str,
    seed_name: str,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> dict[str, str | int]:
    """Write the checkpoint atomically; return {"path", "size", "sha256"}.

    The bytes go to a temporary file in the target's directory, which is then
    renamed over path, so a reader never sees a partial checkpoint.
    """
    path = os.path.abspath(path)
    digest = hashlib.sha256()
    size = 0
    fd, temp_path = tempfile.mkstemp(
        dir=os.path.dirname(path), prefix=f".{os.path.basename(path)}.", suffix=".tmp"
    )
    try:
        with os.fdopen(fd, "wb") as out:
            for piece in checkpoint_chunks(config, seed_name, chunk_elements):
                out.write(piece)
                digest.update(piece)
                size += len(piece)
            out.flush()
            os.fsync(out.fileno())
            os.fchmod(out.fileno(), 0o644)  # mkstemp makes it 0600; weights are not secret
        os.replace(temp_path, path)
    except BaseException:
        os.unlink(temp_path)
        raise
    return {"path": path, "size": size, "sha256": digest.hexdigest()}


SHAPE_HELP = {  # one --option per Config field
    "dim": "transformer dimension",
    "hidden_dim": "feed-forward hidden dimension",
    "n_layers": "number of layers",
    "n_heads": "number of query heads",
    "n_kv_heads": "number of key/value heads",
    "vocab_size": "vocabulary size (the classifier shares the embedding)",
    "seq_len": "maximum sequence length",
}


def option_name(field_name: str) -> str:
    return "--" + field_name.replace("_", "-")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Write a deterministic random-weight llama2.c checkpoint with a real model's "
        "shape and size, and print {path, size, sha256} as one JSON line."
    )
    for name, help_text in SHAPE_HELP.items():
        parser.add_argument(option_name(name), type=int, required=True, help=help_text)
    parser.add_argument(
        "--seed-name",
        required=True,
        help="name the RNG seed is derived from, e.g. stories15M",
    )
    parser.add_argument("--output", required=True, help="checkpoint path to write")
    parser.add_argument(
        "--chunk-elements",
        type=int,
        default=DEFAULT_CHUNK_ELEMENTS,
        help="float32s generated per write; bounds memory, does not change the bytes "
        f"(default {DEFAULT_CHUNK_ELEMENTS})",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = Config(**{name: getattr(args, name) for name in SHAPE_HELP})
        result = write_checkpoint(config, args.output, args.seed_name, args.chunk_elements)
    except (ValueError, OSError) as error:
        print(f"synthetic_checkpoint: {error}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
