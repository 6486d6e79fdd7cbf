"""What a report says, independent of how it is printed: a typed list of blocks.

Builders (`integrity_report`, `landcover_validation`, `region_card`, ...) fill a `Document`
with words and figures in one language; the HTML and Typst renderers print the same document,
so the web page and the PDF can never disagree. Table cells are already formatted text (in
the reader's locale): both renderers print them as given.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from .wording import Language, check_language

__all__ = [
    "Block",
    "Document",
    "Facts",
    "Figure",
    "Heading",
    "PageBreak",
    "Paragraph",
    "Summary",
    "Table",
]

Align = Literal["left", "right", "center"]


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 1


@dataclass(frozen=True)
class Paragraph:
    text: str
    small: bool = False  # notes, sources, method details


@dataclass(frozen=True)
class Summary:
    """The plain-language box at the top: what a reader must take away."""

    title: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Facts:
    """Key figures shown large: (label, value) pairs."""

    items: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Figure:
    """A picture (PNG bytes, drawn once) with its caption and the share of the text width."""

    png: bytes = field(repr=False)
    caption: str
    width: float = 1.0
    alt: str = ""


@dataclass(frozen=True)
class Table:
    """Formatted cells under a header; ``widths`` are relative column widths (fractions of the
    text width), so a table always spans the page and its cells wrap instead of overflowing.
    ``swatches`` names columns whose cells are ``#rrggbb`` colours, shown as colour squares."""

    caption: str
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    align: tuple[Align, ...] = ()
    widths: tuple[float, ...] = ()
    note: str = ""
    swatches: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        width = len(self.header)
        for i, row in enumerate(self.rows):
            if len(row) != width:
                raise ValueError(f"table {self.caption!r}: row {i} has {len(row)} cells, "
                                 f"the header {width}")
        if self.align and len(self.align) != width:
            raise ValueError(f"table {self.caption!r}: {len(self.align)} alignments, {width} columns")
        if self.widths and len(self.widths) != width:
            raise ValueError(f"table {self.caption!r}: {len(self.widths)} widths, {width} columns")

    @property
    def alignment(self) -> tuple[Align, ...]:
        """Given, or: the first column left, the rest right (labels, then numbers)."""
        right: list[Align] = ["right"]
        return self.align or ("left", *right * (len(self.header) - 1))

    @property
    def column_widths(self) -> tuple[float, ...]:
        """Given, or: the label column twice as wide as each number column."""
        return self.widths or (2.0,) + (1.0,) * (len(self.header) - 1)


@dataclass(frozen=True)
class PageBreak:
    pass


Block = Heading | Paragraph | Summary | Facts | Figure | Table | PageBreak


@dataclass
class Document:
    """A report in one language: title, subtitle, then blocks in reading order.

    Attributes:
        kind: what the report is (``integrity``, ``landcover-validation``, ``region-card``,
            ``regions``, ``acoustic-sites``): file names and the web index use it.
        footer: a line on every PDF page (source and date).
    """

    title: str
    subtitle: str
    lang: Language
    kind: str
    blocks: list[Block] = field(default_factory=list)
    footer: str = ""
    created: str = field(
        default_factory=lambda: dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"))

    def __post_init__(self) -> None:
        check_language(self.lang)

    def add(self, *blocks: Block) -> Document:
        self.blocks.extend(blocks)
        return self

    def tables(self) -> list[Table]:
        return [b for b in self.blocks if isinstance(b, Table)]

    def figures(self) -> list[Figure]:
        return [b for b in self.blocks if isinstance(b, Figure)]

    def text(self) -> str:
        """Every word of the document as plain text (search, tests, accessibility checks)."""
        out = [self.title, self.subtitle]
        for block in self.blocks:
            if isinstance(block, (Heading, Paragraph)):
                out.append(block.text)
            elif isinstance(block, Summary):
                out += [block.title, *block.lines]
            elif isinstance(block, Facts):
                out += [f"{label}: {value}" for label, value in block.items]
            elif isinstance(block, Figure):
                out.append(block.caption)
            elif isinstance(block, Table):
                out += [block.caption, " | ".join(block.header)]
                out += [" | ".join(row) for row in block.rows]
                out.append(block.note)
        return "\n".join(line for line in out if line)
