#!/usr/bin/env python3
"""The class's sweeps on cluster storage that this account can read (the instructor's
fetch-class, roles/class_store/tasks/fetch.yml).

class_sweeps.py PATTERN...
    Each PATTERN an absolute glob (e.g. '/scratch/course/sweeps/*/*'). Prints JSON:
    {"sweeps": [{"path", "sweep_id", "student"}], "unreadable": [{"path", "reason"}],
     "unmatched": [PATTERN]}. A sweep is a directory (not a link) holding a plan.json; its
    student is the account that owns that plan.json (the file system says so, not the
    sweep). One counts only when everything in it that the fetch archives (all but bin/,
    whose links point into a build cache) can be read: otherwise it is unreadable, with the
    first path that is not and why. Its name and its student's become path components on the
    controller: any other than letters, digits, '.', '_', '-' (not first) is refused.
    Two directories with one student and one sweep id (a copy of a sweep, say) would be
    fetched as the same <student>/<sweep id>: the same sweep twice, refused with both paths
    and nothing found, since only the instructor can say which counts. A directory reached
    twice (overlapping patterns, a linked parent) counts once. Reads only; exit status 2 for
    a pattern that is not absolute or the same sweep twice.
"""

import glob
import json
import os
import pwd
import re
import stat
import sys

NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")
# What the fetch leaves out: links into a build cache, not results.
NOT_ARCHIVED = "bin"


def first_unreadable(sweep: str) -> str:
    """The first path of sweep that cannot be read (a directory: listed and entered), with
    why; empty when all can."""
    for directory, subdirectories, files in os.walk(sweep, onerror=_raise):
        if directory == sweep and NOT_ARCHIVED in subdirectories:
            subdirectories.remove(NOT_ARCHIVED)
        for name in subdirectories + files:
            path = os.path.join(directory, name)
            mode = os.lstat(path).st_mode
            if stat.S_ISLNK(mode):
                continue
            wanted = os.R_OK | os.X_OK if stat.S_ISDIR(mode) else os.R_OK
            if not os.access(path, wanted):
                return f"{path}: permission denied"
    return ""


def _raise(error: OSError) -> None:
    raise error


def find(patterns: list[str]) -> dict:
    """What the module docstring says; ValueError for the same sweep twice."""
    found = {"sweeps": [], "unreadable": [], "unmatched": []}
    seen = set()  # real paths
    for pattern in patterns:
        matches = sorted(glob.glob(pattern))
        if not matches:
            found["unmatched"].append(pattern)
        for path in matches:
            real = os.path.realpath(path)
            if real in seen or os.path.islink(path) or not os.path.isdir(path):
                continue
            seen.add(real)
            try:
                plan = os.lstat(os.path.join(path, "plan.json"))  # its type and its owner
                if not stat.S_ISREG(plan.st_mode):
                    continue
                unreadable = first_unreadable(path)
            except FileNotFoundError:
                continue  # not a sweep: no plan.json
            except OSError as error:
                unreadable = f"{error.filename or path}: {error.strerror}"
            if unreadable:
                found["unreadable"].append({"path": path, "reason": unreadable})
                continue
            try:
                student = pwd.getpwuid(plan.st_uid).pw_name
            except KeyError:
                student = str(plan.st_uid)
            sweep_id = os.path.basename(path)
            if not (NAME.match(sweep_id) and NAME.match(student)):
                reason = f"{path}: its name or its owner's ({student}) is not a plain name"
                found["unreadable"].append({"path": path, "reason": reason})
            else:
                found["sweeps"].append({"path": path, "sweep_id": sweep_id, "student": student})
    refuse_the_same_sweep_twice(found["sweeps"])
    return found


def refuse_the_same_sweep_twice(sweeps: list[dict]) -> None:
    """ValueError, naming both, for the first two sweeps with one student and one sweep id:
    the second would overwrite the first on the controller, and only the instructor can say
    which one counts, so nothing is fetched."""
    first = {}
    for sweep in sweeps:
        where = (sweep["student"], sweep["sweep_id"])
        if where in first:
            student, sweep_id = where
            raise ValueError(
                f"{sweep['path']} is {first[where]} again ({student}'s sweep {sweep_id}): the "
                f"same sweep twice, both fetched as {student}/{sweep_id}; each sweep counts "
                f"once: give patterns that match only the one that counts"
            )
        first[where] = sweep["path"]


def main(argv: list[str]) -> int:
    relative = [pattern for pattern in argv if not pattern.startswith("/")]
    if not argv or relative:
        print(
            f"class_sweeps.py: give absolute glob patterns of sweep directories, e.g. "
            f"'/scratch/course/sweeps/*/*'; not absolute: {', '.join(relative) or 'none given'}",
            file=sys.stderr,
        )
        return 2
    try:
        found = find(argv)
    except ValueError as error:
        print(f"class_sweeps.py: {error}", file=sys.stderr)
        return 2
    print(json.dumps(found))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
