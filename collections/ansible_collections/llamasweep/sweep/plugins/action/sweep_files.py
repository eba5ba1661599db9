"""Write a sweep's files in one transfer: the contents are gathered on the controller
(src files, Python packages) and written on the target by one call of the module, or on
the controller by this plugin itself (controller: true)."""

import importlib.util
import os
import re

from ansible.errors import AnsibleActionFail
from ansible.module_utils.parsing.convert_bool import boolean
from ansible.plugins.action import ActionBase
from ansible_collections.llamasweep.sweep.plugins.module_utils.file_writes import write_all

SOURCES = ("content", "src", "python_package")
MODE = re.compile(r"^0?[0-7]{3,4}$")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("dest", "directories", "files", "links", "controller"))

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        files = [
            written
            for position, entry in enumerate(self._task.args.get("files") or [])
            for written in self._contents(position, entry)
        ]
        arguments = {
            "dest": self._task.args["dest"],
            "directories": self._task.args.get("directories") or [],
            "files": files,
            "links": self._task.args.get("links") or {},
        }
        if boolean(self._task.args.get("controller", False)):
            try:
                written = write_all(**arguments)
            except OSError as error:
                message = f"cannot write under {arguments['dest']}: {error}"
                raise AnsibleActionFail(message) from None
            return {**result, "changed": bool(written), "written": written}
        made = self._execute_module(
            module_name="llamasweep.sweep.sweep_files", module_args=arguments, task_vars=task_vars
        )
        made.pop("invocation", None)  # every file's content: not worth echoing back
        return {**result, **made}

    def _contents(self, position: int, entry: dict) -> list[dict]:
        """The entry as files with their content: {path, content, mode} each."""
        where = f"files[{position}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
            raise AnsibleActionFail(f"{where} is {entry!r}: give a mapping with a path")
        given = [source for source in SOURCES if source in entry]
        unknown = set(entry) - {"path", "mode", *SOURCES}
        if len(given) != 1 or unknown:
            raise AnsibleActionFail(
                f"{where} ({entry['path']}) has {sorted(entry)}: give path, one of "
                f"{', '.join(SOURCES)}, and optionally mode"
            )
        if ".." in entry["path"].split("/"):
            raise AnsibleActionFail(f"{where}: path {entry['path']!r} holds '..'")
        mode = str(entry.get("mode", "0600"))
        if not MODE.match(mode):
            raise AnsibleActionFail(f"{where}: mode {mode!r} is not an octal mode like 0600")
        if "content" in entry:
            return [{"path": entry["path"], "content": str(entry["content"]), "mode": mode}]
        if "src" in entry:
            source = self._find_needle("files", entry["src"])
            with open(source, encoding="utf-8") as text:
                return [{"path": entry["path"], "content": text.read(), "mode": mode}]
        return self._package(where, entry["path"], entry["python_package"], mode)

    @staticmethod
    def _package(where: str, path: str, name: str, mode: str) -> list[dict]:
        """The .py files of the controller's package name, under path/<name>/."""
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise AnsibleActionFail(f"{where}: {name!r} is no Python package of the controller")
        root = spec.submodule_search_locations[0]
        files = []
        for directory, subdirectories, names in os.walk(root):
            subdirectories[:] = sorted(d for d in subdirectories if d != "__pycache__")
            for module in sorted(n for n in names if n.endswith(".py")):
                source = os.path.join(directory, module)
                relative = os.path.relpath(source, os.path.dirname(root))
                with open(source, encoding="utf-8") as text:
                    content = text.read()
                files.append({"path": f"{path}/{relative}", "content": content, "mode": mode})
        return files
