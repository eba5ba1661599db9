"""Writes that readers see whole or not at all: used on the target by the sweep_files module
and on the controller by its action plugin (controller: true)."""

import os
import tempfile


def unchanged(path: str, content: bytes, mode: int) -> bool:
    """Whether path is a regular file with this content and mode already."""
    try:
        if not os.path.isfile(path) or os.stat(path).st_mode & 0o7777 != mode:
            return False
        with open(path, "rb") as current:
            return current.read() == content
    except OSError:
        return False


def write_beside(path: str, content: bytes, mode: int) -> None:
    """Write content to a new file beside path, then rename it into place."""
    directory = os.path.dirname(path)
    os.makedirs(directory, mode=0o700, exist_ok=True)
    handle, part = tempfile.mkstemp(dir=directory, prefix=f".{os.path.basename(path)}.")
    try:
        with os.fdopen(handle, "wb") as new:
            new.write(content)
        os.chmod(part, mode)
        os.replace(part, path)
    except BaseException:
        os.unlink(part)
        raise


def link_beside(path: str, target: str) -> None:
    """Make path a symbolic link to target: a new link beside it, renamed into place."""
    part = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{os.getpid()}")
    os.symlink(target, part)
    try:
        os.replace(part, path)
    except BaseException:
        os.unlink(part)
        raise


def write_all(dest: str, directories: list, files: list, links: dict) -> list:
    """Create directories, write files ({path, content, mode}) and make links ({path:
    target}) under dest, leaving alone what is as asked already; returns the paths changed."""
    if not os.path.isdir(dest):
        raise NotADirectoryError(f"dest {dest} is not a directory")
    written = []
    for directory in directories:
        os.makedirs(os.path.join(dest, directory), mode=0o700, exist_ok=True)
    for entry in files:
        path = os.path.join(dest, entry["path"])
        content = entry["content"].encode()
        mode = int(entry["mode"], 8)
        if not unchanged(path, content, mode):
            write_beside(path, content, mode)
            written.append(entry["path"])
    for name, target in links.items():
        path = os.path.join(dest, name)
        if not (os.path.islink(path) and os.readlink(path) == target):
            link_beside(path, target)
            written.append(name)
    return written
