"""Files others read while they may be rewritten (report.html open in a browser, runs.csv read
by a student's script, a plot) are written beside, then renamed over the old one: a reader
sees the old file or the new one, never half of one, and a failed write leaves the old one.

The results directory may be someone else's: the temporary file is created exclusively
under a name no one can guess (never opened through a link planted there), and the rename
replaces a link at the path itself, never what it points to."""

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_EXCLUSIVE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


class OutputRefused(ValueError):
    """An output directory of the results directory that is a link, or not a directory."""


class Replacement:
    """New versions of files, each written to a temporary file beside its path, that replace
    them together (see replacing_together)."""

    def __init__(self) -> None:
        self._renames: list[tuple[Path, Path]] = []
        self._removals: list[Path] = []

    def new(self, path: Path) -> Path:
        """A new, empty temporary file to write path's new version to."""
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        # O_EXCL: made here, now, or an error (a link there, dangling or not, is not
        # followed); 0o666 narrowed by the umask, as a file written the ordinary way.
        os.close(os.open(temporary, _EXCLUSIVE, 0o666))
        self._renames.append((temporary, path))
        return temporary

    def remove(self, path: Path) -> None:
        """Remove path (a stale output) with the others' replacement."""
        self._removals.append(path)


@contextmanager
def replacing_together() -> Iterator[Replacement]:
    """A Replacement to write new versions to; when the block ends without an error (a full
    disk among them) they are renamed over the old files, which needs no space, and the
    stale ones removed; otherwise the temporary files are removed and every old file is
    left as it was, none newer than the others."""
    replacement = Replacement()
    try:
        yield replacement
        for temporary, path in replacement._renames:
            os.replace(temporary, path)
        for path in replacement._removals:
            path.unlink(missing_ok=True)
    finally:
        for temporary, _ in replacement._renames:
            temporary.unlink(missing_ok=True)


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A new, empty temporary file beside path to write; renamed over path when the block ends
    without an error, removed otherwise."""
    with replacing_together() as replacement:
        yield replacement.new(path)


def write_text(path: Path, text: str) -> None:
    with replacing(path) as temporary:
        temporary.write_text(text)


def refuse_linked_directory(path: Path) -> None:
    """OutputRefused when the output directory path (plots/) is a link or not a directory:
    what is written and removed there would be elsewhere, outside the results directory."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        raise OutputRefused(
            f"{path} is a link or not a directory: nothing is written through it (remove it, "
            "and the next summary makes it again)"
        )
