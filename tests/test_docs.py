"""Everything a user can set or run is documented where they look for it."""

import re
import shutil
import subprocess

import pytest
import yaml
from ansible_collections.llamasweep.sweep.plugins.module_utils.sweep_model import INPUTS
from ansible_collections.llamasweep.sweep.plugins.module_utils.sweep_plan import TSV_FIELDS
from ansible_collections.llamasweep.sweep.plugins.module_utils.sweep_record import FIELDS
from conftest import PROJECT

from collect.perf_metrics import DERIVED_METRICS, FIGURE_COLUMNS
from scripts.role_docs import (
    first_difference,
    paragraphs,
    role_options,
    sweep_specs,
    sweep_specs_difference,
    write,
)

pytestmark = pytest.mark.unit

ROLES = sorted(p.parent.parent.name for p in PROJECT.glob("roles/*/meta/argument_specs.yml"))


@pytest.mark.parametrize("role", ROLES)
def test_every_role_variable_is_in_its_readme(role):
    specs = yaml.safe_load((PROJECT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    readme = (PROJECT / "roles" / role / "README.md").read_text()
    for name in entry_point_options(specs):
        assert f"`{name}`" in readme, f"{name} is not documented in roles/{role}/README.md"


@pytest.mark.parametrize("role", ROLES)
def test_every_role_default_is_validated(role):
    """By the entry point that uses it (a role's tasks_from has its own)."""
    specs = yaml.safe_load((PROJECT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    defaults = yaml.safe_load((PROJECT / "roles" / role / "defaults" / "main.yml").read_text())
    assert set(defaults or {}) <= entry_point_options(specs)


def entry_point_options(specs: dict) -> set[str]:
    """Every option that one of the role's entry points declares."""
    return {name for entry in specs["argument_specs"].values() for name in entry["options"]}


@pytest.mark.parametrize("role", ROLES)
def test_readme_variable_table_is_generated_from_argument_specs(role):
    difference = first_difference(PROJECT / "roles" / role)
    assert difference is None, f"{difference}\nRun `make docs` to regenerate the table."


@pytest.mark.parametrize("role", ROLES)
def test_argument_specs_defaults_are_the_role_defaults(role):
    defaults = yaml.safe_load((PROJECT / "roles" / role / "defaults" / "main.yml").read_text())
    for name, option in role_options(PROJECT / "roles" / role).items():
        if "default" in option and name in (defaults or {}):
            assert option["default"] == defaults[name], f"roles/{role}: {name}"


def test_sweep_argument_specs_is_generated_from_the_model():
    difference = sweep_specs_difference()
    assert difference is None, f"{difference}\nRun `make docs` to regenerate it."


def test_a_hand_edited_sweep_argument_spec_is_a_difference_naming_the_line(tmp_path):
    specs_file = tmp_path / "argument_specs.yml"
    specs_file.write_text(sweep_specs().replace("type: bool", "type: str", 1))
    first_bool = sweep_specs().splitlines().index("        type: bool") + 1
    heading, have, want = sweep_specs_difference(specs_file).splitlines()
    assert heading.startswith(f"roles/sweep/meta/argument_specs.yml, line {first_bool} ")
    assert have.split() == ["file:", "type:", "str"]
    assert want.split() == ["generated:", "type:", "bool"]


def test_the_generated_sweep_argument_specs_read_back_as_the_model_declares():
    entry_points = yaml.safe_load(sweep_specs())["argument_specs"]
    assert entry_points["validate"] == entry_points["main"]
    assert entry_points["fetch"] == entry_points["wait"]
    options = entry_points["main"]["options"]
    assert list(options) == [spec.name for spec in INPUTS]
    for spec in INPUTS:
        option = options[spec.name]
        assert option["type"] == spec.type
        assert option.get("elements", "") == spec.elements
        assert tuple(option.get("choices", ())) == spec.choices
        assert option.get("required", False) == spec.required
        assert option.get("default") == spec.default
        notes = [f"Default: {spec.default_note}"] if spec.default_note else []
        assert paragraphs(option) == [spec.description, *notes], spec.name


def copy_of_role(tmp_path, role="workspace"):
    role_dir = tmp_path / "roles" / role
    shutil.copytree(PROJECT / "roles" / role, role_dir)
    return role_dir


def test_a_changed_description_is_a_difference_naming_role_and_row(tmp_path):
    role_dir = copy_of_role(tmp_path)
    specs_file = role_dir / "meta" / "argument_specs.yml"
    specs_file.write_text(
        specs_file.read_text().replace("Mode of the workspace directory.", "Octal mode.")
    )
    difference = first_difference(role_dir)
    assert "roles/workspace/README.md" in difference
    assert '| `workspace_mode` | no | str | `"0700"` | Octal mode. |' in difference


def test_a_new_argument_spec_option_becomes_a_row_when_regenerated(tmp_path):
    role_dir = copy_of_role(tmp_path)
    specs_file = role_dir / "meta" / "argument_specs.yml"
    specs = yaml.safe_load(specs_file.read_text())
    specs["argument_specs"]["main"]["options"]["workspace_quota"] = {
        "type": "int",
        "default": 7,
        "description": ["A quota | with a pipe.", "Default: `7` per user"],
    }
    specs_file.write_text(yaml.safe_dump(specs, sort_keys=False))
    assert "missing from the README" in first_difference(role_dir)
    assert write(role_dir)
    assert first_difference(role_dir) is None
    readme = (role_dir / "README.md").read_text()
    assert "| `workspace_quota` | no | int | `7` per user | A quota \\| with a pipe. |" in readme
    assert not write(role_dir)


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


def collect_readme_part(start: str, end: str) -> str:
    """The text of collect/README.md from the first `start` to the next `end` after it."""
    readme = (PROJECT / "collect" / "README.md").read_text()
    begin = readme.index(start)
    return readme[begin : readme.index(end, begin + len(start))]


def test_collect_readme_lists_every_perf_figure_and_derived_metric():
    columns = collect_readme_part("## Columns of runs.csv", "\n## ")
    derived = collect_readme_part("Derived perf metrics, per run", "\n\n")
    for column in FIGURE_COLUMNS:
        assert f"`{column}`" in columns, f"{column} is not in collect/README.md's columns"
    for metric in DERIVED_METRICS:
        assert f"`{metric.column}`" in columns, f"{metric.column} is not in the columns"
        assert f"`{metric.column}`" in derived, f"{metric.column} is not under Statistics"


def test_results_layout_tables_sweep_json_as_its_record_declares():
    layout = (PROJECT / "docs" / "results-layout.md").read_text()
    section = layout[layout.index("## sweep.json") : layout.index("## Characterisation")]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert rows == [f"| `{field.key}` | {field.kind} | {field.meaning} |" for field in FIELDS]


def test_results_layout_names_tasks_tsv_s_columns_as_the_plan_writes_them():
    layout = (PROJECT / "docs" / "results-layout.md").read_text()
    section = layout[layout.index("## tasks.tsv") :]
    assert " ".join(TSV_FIELDS) in " ".join(section.split())
