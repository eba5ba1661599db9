"""The build records of a sweep (builds/<partition>/<flag_set>.txt, written by build.sh:
key=value lines) and what a RISC-V build holds: whether its -march asks for a vector
extension, how many vector instructions the binary has (vector_instructions, counted in
objdump -d), and how many loops the compiler reported vectorised (<flag_set>.vec.txt, its
-fopt-info-vec-optimized output)."""

import re
import shlex
from pathlib import Path

from collect.datafiles import NotRead, read_text

# Files of builds/<partition>/ that are no flag set's record.
_NOT_RECORDS = ("compiler-version.txt",)
_VECTOR_REPORT = ".vec.txt"
# An ISA string's base (rv64gcv: v among its single-letter extensions) and the named
# extensions after it that give vector instructions (_zve32x, _zve64d, _xtheadvector, _v).
_ISA_BASE = re.compile(r"^rv(?:32|64)([a-z]*)$")
_VECTOR_EXTENSIONS = re.compile(r"^(zve[0-9]+[a-z]*|xtheadvector|v)$")
OUTCOME_REJECTED = "rejected"


def read_build_records(
    results_dir: Path, not_read: NotRead | None = None
) -> dict[tuple[str, str], dict]:
    """(partition, flag_set) -> its build record's keys, plus vectorized_loops (the
    "loop vectorized" lines of its .vec.txt, None without one); the files not read noted
    in not_read."""
    records = {}
    builds = results_dir / "builds"
    if not builds.is_dir():
        return records
    for directory in sorted(path for path in builds.iterdir() if path.is_dir()):
        for path in sorted(directory.glob("*.txt")):
            if path.name in _NOT_RECORDS or path.name.endswith(_VECTOR_REPORT):
                continue
            text = read_text(path, results_dir, not_read)
            if text is None:
                continue
            record = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
            report = read_text(path.with_name(path.stem + _VECTOR_REPORT), results_dir, not_read)
            record["vectorized_loops"] = None if report is None else report.count("loop vectorized")
            records[(directory.name, path.stem)] = record
    return records


def march(record: dict) -> str | None:
    """The -march value of a build record's compile command (the last one given)."""
    try:
        words = shlex.split(record.get("command", ""))
    except ValueError:
        return None
    values = [word.split("=", 1)[1] for word in words if word.startswith("-march=")]
    return values[-1] if values else None


def asks_for_vectors(isa: str | None) -> bool:
    """Whether a RISC-V -march asks for a vector extension: v among the base's letters
    (rv64gcv), or a named vector extension (rv64gc_zve32x, rv64gc_xtheadvector)."""
    if not isa:
        return False
    base, *named = isa.lower().split("_")
    letters = _ISA_BASE.match(base)
    return bool(letters and "v" in letters.group(1)) or any(
        _VECTOR_EXTENSIONS.match(extension) for extension in named
    )


def is_riscv(record: dict) -> bool:
    """Whether the record is of a RISC-V build (the compiler's -dumpmachine target)."""
    return record.get("target", "").startswith("riscv")


def vector_count(record: dict, key: str = "vector_instructions") -> int | None:
    """vector_instructions (or another count, e.g. undecoded_instructions: the words the
    node's objdump could not decode) as an int, None when the build did not count them."""
    try:
        return int(record[key])
    except (KeyError, ValueError):
        return None


def rejection(flag_set: str, record: dict | None) -> str:
    """Why the compiler rejected the flag set ("" when it did not)."""
    if not record or record.get("outcome") != OUTCOME_REJECTED:
        return ""
    return (
        f"build failed: the compiler rejected flag set {flag_set}: "
        f"{record.get('error') or '(no message)'}"
    )
