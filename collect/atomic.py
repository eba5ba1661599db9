"""Files others read while they may be rewritten (report.html open in a browser, runs.csv read
by a student's script, a plot) are written beside, then renamed over the old one: a reader
sees the old file or the new one, never half of one, and a failed write leaves the old one."""

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """A temporary path beside path to write; renamed over path when the block ends without
    an error, removed otherwise."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_text(path: Path, text: str) -> None:
    with replacing(path) as temporary:
        temporary.write_text(text)
