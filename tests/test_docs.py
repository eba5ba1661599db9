"""Everything a user can set or run is documented where they look for it."""

import re
import subprocess

import pytest
import yaml
from conftest import PROJECT

ROLES = sorted(p.parent.parent.name for p in PROJECT.glob("roles/*/meta/argument_specs.yml"))


@pytest.mark.parametrize("role", ROLES)
def test_every_role_variable_is_in_its_readme(role):
    specs = yaml.safe_load((PROJECT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    readme = (PROJECT / "roles" / role / "README.md").read_text()
    for name in specs["argument_specs"]["main"]["options"]:
        assert f"`{name}`" in readme, f"{name} is not documented in roles/{role}/README.md"


@pytest.mark.parametrize("role", ROLES)
def test_every_role_default_is_validated(role):
    specs = yaml.safe_load((PROJECT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    defaults = yaml.safe_load((PROJECT / "roles" / role / "defaults" / "main.yml").read_text())
    options = specs["argument_specs"]["main"]["options"]
    assert set(defaults or {}) <= set(options)


def test_every_make_target_is_in_make_help_and_readme():
    makefile = (PROJECT / "Makefile").read_text()
    targets = re.findall(r"^([a-z][a-z-]*):", makefile, re.MULTILINE)
    help_text = subprocess.run(
        ["make", "help"], cwd=PROJECT, capture_output=True, text=True, check=True
    ).stdout
    readme = (PROJECT / "README.md").read_text()
    for target in targets:
        assert f"make {target}" in help_text
        assert f"make {target}" in readme, f"make {target} is not in README.md"


def test_readme_starts_with_the_two_commands():
    head = (PROJECT / "README.md").read_text().splitlines()[:5]
    assert any(line.strip().startswith("make sweep") for line in head)
    assert any(line.strip().startswith("make test") for line in head)
