"""A results directory is data, possibly someone else's: the collector reads only regular
text files inside it.

A link that points out of the directory (runs/x/stderr.txt -> ~/.ssh/id_ed25519, a run
directory linked to /etc), a FIFO or a device, a binary file (a NUL byte) or one larger than
MAX_FILE_BYTES (a sparse file of gigabytes costs as much memory, and time) is not read:
its text would end up in summary.md, report.html and runs.csv. Each is noted with why in
the NotRead the readers are given (a summarize's), and summary.md says so. Links that stay
inside are read, as a Slurm run's slurm.out -> ../../slurm/<array job>_<task>.out.
"""

import errno
import os
import stat

# Opening never follows a last-component link (checked first) and never waits on a FIFO.
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC

# The most a file of a sweep is read: far above the largest a sweep writes (a profile's
# perf.script, left when FlameGraph could not fold it on the node, is tens of MB).
MAX_FILE_BYTES = 256 * 2**20


class NotRead:
    """The files of a results directory that were not read, with why. One for each reading
    of the directory (its links may change between two), given to the readers, which note
    into it."""

    def __init__(self) -> None:
        self._why: dict[str, str] = {}

    def note(self, path: str | os.PathLike, results_dir: str | os.PathLike, why: str) -> None:
        self._why[os.path.relpath(os.fspath(path), _key(results_dir))] = why

    def listed(self) -> dict[str, str]:
        """{path relative to the results directory: why}, sorted by path."""
        return dict(sorted(self._why.items()))


def read_text(path: str | os.PathLike, results_dir: str | os.PathLike,
              not_read: NotRead | None = None,
              directory_checked: bool = False) -> str | None:  # fmt: skip
    """The text of path, a file of results_dir; None when it is missing or not read (a link
    out of results_dir, not a regular file, binary: noted in not_read, if given).
    directory_checked: the caller made sure path's directory is inside results_dir (see
    inside())."""
    path, results_dir = os.fspath(path), _key(results_dir)
    if not directory_checked and not _within(
        os.path.realpath(os.path.dirname(path)), os.path.realpath(results_dir)
    ):
        note(not_read, path, results_dir, "its directory is a link out of the results directory")
        return None
    try:
        descriptor = os.open(path, _OPEN_FLAGS)
    except OSError as error:
        if error.errno != errno.ELOOP:
            return None  # missing: the readers say what is missing
        target = os.path.realpath(path)
        if not _within(target, os.path.realpath(results_dir)):
            note(not_read, path, results_dir, f"a link to {target}, outside the results directory")
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
            note(not_read, path, results_dir, "not a regular file")
            return None
        # Not a byte more than the cap, were the file to grow while it is read.
        data = b"" if info.st_size > MAX_FILE_BYTES else file.read(MAX_FILE_BYTES + 1)
    if info.st_size > MAX_FILE_BYTES or len(data) > MAX_FILE_BYTES:
        note(not_read, path, results_dir, f"larger than {MAX_FILE_BYTES // 2**20} MiB")
        return None
    if b"\0" in data:
        note(not_read, path, results_dir, "a binary file, not text")
        return None
    return data.decode(errors="replace")


def inside(directory: str | os.PathLike, results_dir: str | os.PathLike,
           not_read: NotRead | None = None) -> bool:  # fmt: skip
    """Whether directory, links resolved, is inside results_dir; noted in not_read if not."""
    directory, results_dir = os.fspath(directory), _key(results_dir)
    if _within(os.path.realpath(directory), os.path.realpath(results_dir)):
        return True
    note(not_read, directory, results_dir, "a link out of the results directory")
    return False


def note(not_read: NotRead | None, path: str | os.PathLike, results_dir: str | os.PathLike,
         why: str) -> None:  # fmt: skip
    """Note path (inside results_dir) as not read, with why, in not_read (None: unasked)."""
    if not_read is not None:
        not_read.note(path, results_dir, why)


def _key(results_dir: str | os.PathLike) -> str:
    # One spelling per directory: a run's default results_dir is its path's grandparent,
    # "" for runs/<name> when summarising ".", which Path(".") spells ".".
    return os.path.normpath(os.fspath(results_dir))


def _within(real_path: str, root: str) -> bool:
    return real_path == root or real_path.startswith(root.rstrip(os.sep) + os.sep)
