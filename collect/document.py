"""The document model: a section of a sweep's documents as data (a title, paragraphs,
tables of cells and named values), built once and rendered by collect.summary to Markdown and by
collect.report to HTML, so that summary.md and report.html say the same thing."""

from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    """Text shown as code: a partition's or flag set's name, flags."""

    text: str


@dataclass(frozen=True)
class Flagged:
    """Text that flags a problem (a suspect build): bold in Markdown, highlighted in HTML."""

    text: str


Cell = str | Code | Flagged


@dataclass(frozen=True)
class Table:
    """A table; the columns from numeric_from on hold figures (right-aligned)."""

    header: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    numeric_from: int


@dataclass(frozen=True)
class Facts:
    """Named values, one a line: a list in Markdown, a table of names and values in HTML."""

    pairs: tuple[tuple[Cell, Cell], ...]


@dataclass(frozen=True)
class Section:
    """A section: anchor (its id in report.html), title, the count its Markdown heading
    gives (None: none), and its paragraphs, tables and facts in order."""

    anchor: str
    title: str
    count: int | None
    blocks: tuple[str | Table | Facts, ...]
