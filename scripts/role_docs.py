"""Generate each role README's variable table from the role's meta/argument_specs.yml.

One source for each variable's documentation: its description, type and required flag are
written once, in argument_specs (which Ansible also checks). The default is the spec's
`default`, else the value in defaults/main.yml (none for a required variable); where neither
says what a user gets (the value lives in group_vars, or is an expression), a description
paragraph starting with `Default: ` gives the text for the default column instead.

`make docs` rewrites the table between the markers in every roles/*/README.md;
`--check` changes nothing and exits 1 naming the role and the first row that differs.
"""

import argparse
import sys
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parent.parent
BEGIN = "<!-- BEGIN variables: generated from meta/argument_specs.yml by `make docs` -->"
END = "<!-- END variables -->"
INTRO = [
    "Generated from `meta/argument_specs.yml` (edit the descriptions there, then `make docs`),"
    " which Ansible checks the types against; the values are in `defaults/main.yml`.",
    "",
]
HEADER = ["| variable | required | type | default | description |", "|---|---|---|---|---|"]
DEFAULT_NOTE = "Default: "


def role_dirs(project: Path = PROJECT) -> list[Path]:
    return sorted(p.parent.parent for p in project.glob("roles/*/meta/argument_specs.yml"))


def role_options(role_dir: Path) -> dict:
    """Every entry point's options; an option shared by entry points is documented once,
    as the first entry point (main first) declares it."""
    specs = yaml.safe_load((role_dir / "meta" / "argument_specs.yml").read_text())
    entry_points = specs["argument_specs"]
    options = {}
    for entry in sorted(entry_points, key=lambda name: name != "main"):
        for name, option in (entry_points[entry].get("options") or {}).items():
            options.setdefault(name, option)
    return options


def literal(value) -> str:
    """A value as one would write it in YAML, on one line."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, list):
        return "[" + ", ".join(literal(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{key}: {literal(item)}" for key, item in value.items()) + "}"
    if isinstance(value, str):
        try:
            read_back = yaml.safe_load(value)
        except yaml.YAMLError:  # a Jinja expression: shown as written
            return value
        # Quoted where YAML would read something else ("", "30", "0700").
        return value if value and read_back == value else f'"{value}"'
    return str(value)


def paragraphs(option: dict) -> list[str]:
    description = option.get("description", "")
    items = [description] if isinstance(description, str) else description
    return [" ".join(item.split()) for item in items]


def cell(text: str) -> str:
    return text.replace("|", "\\|")


def default_text(name: str, option: dict, defaults: dict) -> str:
    for paragraph in paragraphs(option):
        if paragraph.startswith(DEFAULT_NOTE):
            return paragraph.removeprefix(DEFAULT_NOTE)
    if option.get("required"):  # a placeholder in defaults/main.yml is no default
        return ""
    if "default" in option:
        return f"`{literal(option['default'])}`"
    if name in defaults:
        return f"`{literal(defaults[name])}`"
    return ""


def table(role_dir: Path) -> list[str]:
    defaults_file = role_dir / "defaults" / "main.yml"
    defaults = (yaml.safe_load(defaults_file.read_text()) if defaults_file.exists() else {}) or {}
    rows = []
    for name, option in role_options(role_dir).items():
        description = " ".join(p for p in paragraphs(option) if not p.startswith(DEFAULT_NOTE))
        columns = [
            f"`{name}`",
            "yes" if option.get("required") else "no",
            option.get("type", "str"),
            default_text(name, option, defaults),
            description,
        ]
        rows.append("| " + " | ".join(cell(column) for column in columns) + " |")
    return INTRO + HEADER + rows


def readme_table(readme: str, role: str) -> tuple[list[str], int, int]:
    """The README's lines and the span of its generated table (between the markers)."""
    lines = readme.splitlines()
    if BEGIN not in lines or END not in lines:
        raise SystemExit(f"roles/{role}/README.md: no table markers; add\n{BEGIN}\n{END}")
    start, end = lines.index(BEGIN) + 1, lines.index(END)
    return lines, start, end


def first_difference(role_dir: Path) -> str | None:
    """None when the README's table is the generated one, else what differs first."""
    role = role_dir.name
    lines, start, end = readme_table((role_dir / "README.md").read_text(), role)
    written, generated = lines[start:end], table(role_dir)
    for have, want in zip(written, generated, strict=False):
        if have != want:
            return (
                f"roles/{role}/README.md, first differing row:\n"
                f"  README:    {have}\n  generated: {want}"
            )
    if len(written) > len(generated):
        return f"roles/{role}/README.md: row only in the README: {written[len(generated)]}"
    if len(written) < len(generated):
        return f"roles/{role}/README.md: row missing from the README: {generated[len(written)]}"
    return None


def write(role_dir: Path) -> bool:
    """Rewrite the README's table; True when it changed."""
    readme_path = role_dir / "README.md"
    text = readme_path.read_text()
    lines, start, end = readme_table(text, role_dir.name)
    new = "\n".join(lines[:start] + table(role_dir) + lines[end:]) + "\n"
    if new == text:
        return False
    partial = readme_path.with_name(readme_path.name + ".tmp")
    partial.write_text(new)
    partial.replace(readme_path)
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="change nothing; exit 1 if a table differs"
    )
    args = parser.parse_args(argv)
    if args.check:
        differences = [d for d in map(first_difference, role_dirs()) if d]
        for difference in differences:
            print(difference, file=sys.stderr)
        if differences:
            print("Run `make docs` to regenerate the tables.", file=sys.stderr)
        return 1 if differences else 0
    for role_dir in role_dirs():
        if write(role_dir):
            print(f"roles/{role_dir.name}/README.md: variable table regenerated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
