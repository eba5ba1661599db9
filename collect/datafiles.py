"""A results directory is data, possibly someone else's: the collector reads only regular
text files inside it.

A link that points out of the directory (runs/x/stderr.txt -> ~/.ssh/id_ed25519, a run
directory linked to /etc), a FIFO or a device, a binary file (a NUL byte) or one larger than
MAX_FILE_BYTES (a sparse file of gigabytes costs as much memory, and time) is not read:
its text would end up in summary.md, report.html and runs.csv. Each is noted with why;
`not_read` lists them, and summary.md says so. Links that stay inside are read, as a Slurm
run's slurm.out -> ../../slurm/<array job>_<task>.out.
"""

import errno
import os
import stat

# Opening never follows a last-component link (checked first) and never waits on a FIFO.
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC

# The most a file of a sweep is read: far above the largest a sweep writes (a profile's
# perf.script, left when FlameGraph could not fold it on the node, is tens of MB).
MAX_FILE_BYTES = 256 * 2**20

# results directory (normalised) -> its real path, and -> {relative path: why it was not read}
_real_roots: dict[str, str] = {}
_not_read: dict[str, dict[str, str]] = {}


def read_text(path: str | os.PathLike, results_dir: str | os.PathLike,
              directory_checked: bool = False) -> str | None:  # fmt: skip
    """The text of path, a file of results_dir; None when it is missing or not read (a link
    out of results_dir, not a regular file, binary: noted for not_read). directory_checked:
    the caller made sure path's directory is inside results_dir (see inside())."""
    path, results_dir = os.fspath(path), _key(results_dir)
    root = _real_root(results_dir)
    if not directory_checked and not _within(os.path.realpath(os.path.dirname(path)), root):
        note(path, results_dir, "its directory is a link out of the results directory")
        return None
    try:
        descriptor = os.open(path, _OPEN_FLAGS)
    except OSError as error:
        if error.errno != errno.ELOOP:
            return None  # missing: the readers say what is missing
        target = os.path.realpath(path)
        if not _within(target, root):
            note(path, results_dir, f"a link to {target}, outside the results directory")
            return None
        try:
            descriptor = os.open(target, _OPEN_FLAGS)
        except OSError:
            return None
    with os.fdopen(descriptor, "rb") as file:
        info = os.fstat(descriptor)
        if stat.S_ISDIR(info.st_mode):
            return None
        if not stat.S_ISREG(info.st_mode):
            note(path, results_dir, "not a regular file")
            return None
        # Not a byte more than the cap, were the file to grow while it is read.
        data = b"" if info.st_size > MAX_FILE_BYTES else file.read(MAX_FILE_BYTES + 1)
    if info.st_size > MAX_FILE_BYTES or len(data) > MAX_FILE_BYTES:
        note(path, results_dir, f"larger than {MAX_FILE_BYTES // 2**20} MiB")
        return None
    if b"\0" in data:
        note(path, results_dir, "a binary file, not text")
        return None
    return data.decode(errors="replace")


def inside(directory: str | os.PathLike, results_dir: str | os.PathLike) -> bool:
    """Whether directory, links resolved, is inside results_dir; noted for not_read if not."""
    directory, results_dir = os.fspath(directory), _key(results_dir)
    if _within(os.path.realpath(directory), _real_root(results_dir)):
        return True
    note(directory, results_dir, "a link out of the results directory")
    return False


def not_read(results_dir: str | os.PathLike) -> dict[str, str]:
    """{path relative to results_dir: why} of the files not read since forget_not_read."""
    return dict(sorted(_not_read.get(_key(results_dir), {}).items()))


def forget_not_read(results_dir: str | os.PathLike) -> None:
    """Start afresh for results_dir (its links may have changed since)."""
    _not_read.pop(_key(results_dir), None)
    _real_roots.pop(_key(results_dir), None)


def _key(results_dir: str | os.PathLike) -> str:
    # One spelling per directory: a run's default results_dir is its path's grandparent,
    # "" for runs/<name> when summarising ".", which Path(".") spells ".".
    return os.path.normpath(os.fspath(results_dir))


def _real_root(results_dir: str) -> str:
    if results_dir not in _real_roots:
        _real_roots[results_dir] = os.path.realpath(results_dir)
    return _real_roots[results_dir]


def _within(real_path: str, root: str) -> bool:
    return real_path == root or real_path.startswith(root.rstrip(os.sep) + os.sep)


def note(path: str | os.PathLike, results_dir: str | os.PathLike, why: str) -> None:
    """Note path (inside results_dir) as not read, with why: for not_read."""
    path, results_dir = os.fspath(path), _key(results_dir)
    _not_read.setdefault(results_dir, {})[os.path.relpath(path, results_dir)] = why
