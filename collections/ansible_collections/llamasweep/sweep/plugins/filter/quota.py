"""The workspace's quota filter; the rule is module_utils/quota.py."""

from ansible_collections.llamasweep.sweep.plugins.module_utils import quota

DOCUMENTATION = r"""
name: quota_room
short_description: The room a user's disk quota leaves on a filesystem
description:
  - Reads what C(lfs quota -u USER PATH) or C(quota -w -u USER) printed and returns the
    room left under the user's soft limit (else hard limit) on the filesystem, with the
    usage and the limit, or None where no limit applies.
positional: _input, tool, filesystem
options:
  _input:
    description: The tool's output.
    type: str
    required: true
  tool:
    description: C(lfs quota) or C(quota).
    type: str
    required: true
  filesystem:
    description: For C(quota), the filesystem's device (df's source) that picks its row.
    type: str
    required: true
"""

EXAMPLES = r"""
room: "{{ output | llamasweep.sweep.quota_room('quota', '/dev/sda1') }}"
"""

RETURN = r"""
_value:
  description: room_bytes, used_bytes, limit_bytes, limit (soft or hard) and tool; or None.
  type: raw
"""


class FilterModule:
    def filters(self):
        return {"quota_room": quota.quota_room}
