"""Name a sweep and create its directory exclusively: on the target, and with
controller_parent on the controller too (see the module's documentation)."""

import os
import secrets
import time

from ansible.plugins.action import ActionBase

# 65536 suffixes a second: a run of clashes this long means something else is wrong (the
# target's directory and the controller's are the same, or the target's is full).
ATTEMPTS = 20


def new_sweep_id() -> str:
    """YYYYmmdd-HHMMSS-<4 random hex digits>, in the controller's local time."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("parent", "controller_parent"))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        controller_parent = self._task.args.get("controller_parent")
        if controller_parent:
            os.makedirs(controller_parent, mode=0o700, exist_ok=True)
        for _ in range(ATTEMPTS):
            sweep_id = new_sweep_id()
            controller_path = controller_parent and os.path.join(controller_parent, sweep_id)
            if controller_path:
                try:
                    os.mkdir(controller_path, 0o700)
                except FileExistsError:
                    continue
            made = self._execute_module(
                module_name="llamasweep.sweep.sweep_dir",
                module_args={"parent": self._task.args["parent"], "sweep_id": sweep_id},
                task_vars=task_vars,
            )
            if made.get("failed") or made.get("clash"):
                if controller_path:  # ours, and empty: the id is given up
                    os.rmdir(controller_path)
                if made.get("failed"):
                    return {**result, **made}
                continue
            result.update(changed=True, sweep_id=sweep_id, path=made["path"])
            if controller_path:
                result["controller_path"] = controller_path
            return result
        result.update(
            failed=True,
            msg=f"no free sweep id after {ATTEMPTS} tries under {self._task.args['parent']}",
        )
        return result
