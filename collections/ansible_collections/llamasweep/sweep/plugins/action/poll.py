"""Poll a status command on the target and show each new line: progress of a running sweep.

The command prints one line about the sweep; a line starting with "finished" ends the
polling. One round trip per poll, whatever the number of runs. While the line does not
change the wait between polls doubles, from interval up to max_interval (on a shared
cluster every poll queries the scheduler); a new line starts again from interval.
"""

import shlex
import time

from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

display = Display()


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("command", "interval", "max_interval", "timeout"))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        command = self._task.args["command"]
        if not isinstance(command, str):
            command = shlex.join(str(part) for part in command)
        interval = float(self._task.args.get("interval", 5))
        max_interval = max(float(self._task.args.get("max_interval", interval)), interval)
        timeout = float(self._task.args.get("timeout", 86400))
        deadline = time.monotonic() + timeout
        wait = interval
        host = task_vars.get("inventory_hostname", "")
        last_line = None
        while True:
            answer = self._low_level_execute_command(command)
            if answer["rc"] != 0:
                result.update(failed=True, msg=f"status command failed: {answer['stderr'].strip()}")
                return result
            lines = answer["stdout"].strip().splitlines()
            line = lines[-1] if lines else ""
            if line != last_line:
                display.display(f"  {time.strftime('%H:%M:%S')} [{host}] {line}")
                last_line = line
                wait = interval
            else:
                wait = min(wait * 2, max_interval)
            if line.startswith("finished"):
                result.update(changed=False, msg=line)
                return result
            left = deadline - time.monotonic()
            if left <= 0:
                result.update(
                    failed=True,
                    msg=f"still not finished after {timeout:g} s (the jobs go on): {line}",
                )
                return result
            time.sleep(min(wait, left))
