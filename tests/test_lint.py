"""The project's own code passes its linters: ruff, ansible-lint (production), syntax checks."""

import subprocess

import pytest
from conftest import BIN, PROJECT

pytestmark = pytest.mark.lint


def check(*command: str) -> None:
    done = subprocess.run(command, cwd=PROJECT, capture_output=True, text=True)
    assert done.returncode == 0, f"{' '.join(command)}:\n{done.stdout[-5000:]}{done.stderr[-3000:]}"


def test_ruff_check():
    check(str(BIN / "ruff"), "check", ".")


def test_ruff_format():
    check(str(BIN / "ruff"), "format", "--check", ".")


def test_ansible_lint_production_profile():
    check(str(BIN / "ansible-lint"), "--profile", "production")


@pytest.mark.parametrize("playbook", sorted(p.name for p in (PROJECT / "playbooks").glob("*.yml")))
def test_playbook_syntax(playbook):
    check(str(BIN / "ansible-playbook"), "--syntax-check", f"playbooks/{playbook}")
