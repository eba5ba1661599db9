"""The room a user's disk quota leaves on the workspace's filesystem, from what the quota
tools print (tests/data/quota holds their answers):

- `lfs quota -u USER PATH` (Lustre): one row for the filesystem holding PATH;
- `quota -w -u USER` (Linux disk quotas): a row per filesystem with a quota, named by its
  device (df's source), which picks the workspace's.

Rows: Filesystem, then usage, soft limit (quota), hard limit (limit) in KiB, then grace and
the files' columns. A usage over its soft limit ends in `*`; Lustre brackets a figure it
could not count exactly. A limit of 0 is no limit. A filesystem name too long for its column
stands on a line of its own, its figures on the next.
"""

import re

KIB = 1024
TOOLS = ("lfs quota", "quota")


def quota_room(output, tool, filesystem):
    """{"room_bytes", "used_bytes", "limit_bytes", "limit" ("soft" or "hard"), "tool"} of
    the user's quota on filesystem (for `quota`, its device; for `lfs quota`, the one row),
    or None where no limit applies (no row, no limit set, or the tool said the path has
    none). The room is up to the soft limit where one is set (past it the grace time runs
    out), else up to the hard one; never below 0."""
    if tool not in TOOLS:
        raise ValueError(f"quota tool {tool!r}: not one of {', '.join(TOOLS)}")
    rows = _rows(output or "")
    if tool == "quota":
        rows = [row for row in rows if row[0] == filesystem]
    if not rows:
        return None
    _, used, soft, hard = rows[0]
    limit, kind = (soft, "soft") if soft else (hard, "hard")
    if not limit:
        return None
    return {
        "room_bytes": max(limit - used, 0) * KIB,
        "used_bytes": used * KIB,
        "limit_bytes": limit * KIB,
        "limit": kind,
        "tool": tool,
    }


_FIGURE = re.compile(r"^\[?(\d+)\]?\*?$")


def _rows(output):
    """(filesystem, used, soft, hard) in KiB of each row of figures."""
    rows, pending = [], None
    for line in output.splitlines():
        words = line.split()
        if not words or words[0] == "Filesystem" or line.startswith(("Disk quotas", "uid ")):
            continue
        if len(words) == 1:  # a long filesystem name: its figures are on the next line
            pending = words[0]
            continue
        name, figures = (pending, words) if pending else (words[0], words[1:])
        pending = None
        numbers = [_FIGURE.match(word) for word in figures[:3]]
        if len(numbers) == 3 and all(numbers):
            rows.append((name, *(int(match.group(1)) for match in numbers)))
    return rows
