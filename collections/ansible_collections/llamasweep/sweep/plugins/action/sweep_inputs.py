"""Check the sweep's inputs on the controller: every error at once (module_utils/sweep_inputs.py
holds the rules), before anything is cloned, downloaded, compiled or run."""

from ansible.plugins.action import ActionBase
from ansible_collections.llamasweep.sweep.plugins.module_utils import sweep_inputs


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset()

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        # The task's variables as the role sees them (defaults may be templates).
        inputs = {
            name: self._templar.template(task_vars[name])
            for name in sweep_inputs.INPUT_NAMES
            if name in task_vars
        }
        problems = sweep_inputs.errors(inputs)
        if problems:
            return {**result, "failed": True, "msg": "\n".join(problems)}
        return {**result, "changed": False, "msg": "the sweep definition is valid"}
