"""The document model: a section of a sweep's documents as data (a title, paragraphs and
tables of cells), built once and rendered by collect.summary to Markdown and by
collect.report to HTML, so that summary.md and report.html say the same thing."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    """Text shown as code: a partition's or flag set's name, flags."""

    text: str


Cell = str | Code


@dataclass(frozen=True)
class Table:
    """A table; the columns from numeric_from on hold figures (right-aligned)."""

    header: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    numeric_from: int


@dataclass(frozen=True)
class Section:
    """A section: anchor (its id in report.html), title, the count its Markdown heading
    gives (None: none), and its paragraphs and tables in order."""

    anchor: str
    title: str
    count: int | None
    blocks: tuple[str | Table, ...]


def dropped_flag_sets_section(dropped: dict[str, dict[str, str]]) -> Section | None:
    """The flag sets left out before submitting, with why (plan.json's dropped_flag_sets);
    None when none was."""
    rows = tuple(
        (Code(partition), Code(flag_set), reason)
        for partition, reasons in dropped.items()
        for flag_set, reason in reasons.items()
    )
    if not rows:
        return None
    return Section(
        "dropped",
        "Flag sets not submitted",
        len(rows),
        (
            "Left out before anything was submitted (validation before queueing, or the "
            "partition's compiler refused their -march): no rows of runs.csv.",
            Table(("partition", "flag set", "why"), rows, numeric_from=3),
        ),
    )
