"""Print a `Document` as one self-contained HTML page and as a typeset PDF (Typst).

The PDF is laid out by ``templates/report.typ`` and compiled by the ``typst`` wheel (no system
fonts or TeX: Typst's own embedded fonts, so a PDF looks the same on every machine). The
document travels to the template as JSON, figures as PNG files beside it. Both files are
written atomically: a reader never opens half a report.
"""

from __future__ import annotations

import base64
import html
import json
import tempfile
from importlib import resources
from pathlib import Path

from ..io import atomic_path
from .document import (
    Document,
    Facts,
    Figure,
    Heading,
    PageBreak,
    Paragraph,
    Summary,
    Table,
)

__all__ = ["ReportError", "render_html", "write_document", "write_html", "write_pdf"]


class ReportError(RuntimeError):
    """The PDF could not be typeset (the message carries Typst's diagnostics)."""


_CSS = """
:root{--green:#1b4d3e;--grey:#5a5a5a}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;max-width:62em;
margin:1.5em auto;padding:0 1em;line-height:1.5;color:#1d1d1d}
h1{color:var(--green);margin-bottom:.1em}h2,h3{color:var(--green)}
.subtitle{font-size:1.15em;margin:0}.created{color:var(--grey);font-size:.85em}
.summary{background:#eef4ea;padding:.6em 1.2em;border-radius:4px}
.facts{display:flex;flex-wrap:wrap;gap:1em 2.5em;margin:1em 0}
.facts div{min-width:8em}.facts b{display:block;font-size:1.5em;color:var(--green)}
.facts span{color:var(--grey);font-size:.85em}
figure{margin:1.2em 0}figure img{max-width:100%;height:auto}
figcaption,caption{font-size:.92em;color:#333;text-align:left;padding:.3em 0}
.table{overflow-x:auto}table{border-collapse:collapse;margin:.4em 0 .3em;width:100%;
font-variant-numeric:tabular-nums;font-size:.92em}
th{border-bottom:1.5px solid #000;text-align:left;padding:.25em .5em;vertical-align:bottom}
td{border-bottom:1px solid #ddd;padding:.25em .5em}
td.right,th.right{text-align:right}td.center,th.center{text-align:center}
.swatch{display:inline-block;width:1em;height:1em;border:1px solid #555;vertical-align:middle}
.note,.small{color:var(--grey);font-size:.85em}
footer{margin-top:2em;color:var(--grey);font-size:.85em;border-top:1px solid #ddd;padding-top:.5em}
@media print{body{max-width:none}.table{overflow:visible}}
"""


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _html_table(table: Table) -> str:
    align = table.alignment
    head = "".join(f"<th class='{a}' scope='col'>{_e(h)}</th>"
                   for h, a in zip(table.header, align, strict=True))
    body = []
    for row in table.rows:
        cells = []
        for i, (value, a) in enumerate(zip(row, align, strict=True)):
            content = (f"<span class='swatch' style='background:{_e(value)}' "
                       f"title='{_e(value)}'></span>" if i in table.swatches else _e(value))
            cells.append(f"<td class='{a}'>{content}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    note = f"<p class='note'>{_e(table.note)}</p>" if table.note else ""
    return (f"<div class='table'><table><caption>{_e(table.caption)}</caption>"
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{note}</div>")


def render_html(doc: Document) -> str:
    """The document as one HTML page (figures inline), readable on a phone and printable."""
    parts = [
        f"<!doctype html><html lang='{doc.lang}'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{_e(doc.title)} · {_e(doc.subtitle)}</title><style>{_CSS}</style></head><body>",
        f"<header><h1>{_e(doc.title)}</h1><p class='subtitle'>{_e(doc.subtitle)}</p>"
        f"<p class='created'>{_e(doc.created)}</p></header><main>",
    ]
    for block in doc.blocks:
        if isinstance(block, Heading):
            level = min(block.level + 1, 6)
            parts.append(f"<h{level}>{_e(block.text)}</h{level}>")
        elif isinstance(block, Paragraph):
            parts.append(f"<p class='small'>{_e(block.text)}</p>" if block.small
                         else f"<p>{_e(block.text)}</p>")
        elif isinstance(block, Summary):
            lines = "".join(f"<p>{_e(line)}</p>" for line in block.lines)
            parts.append(f"<section class='summary'><h2>{_e(block.title)}</h2>{lines}</section>")
        elif isinstance(block, Facts):
            items = "".join(f"<div><b>{_e(v)}</b><span>{_e(k)}</span></div>"
                            for k, v in block.items)
            parts.append(f"<div class='facts'>{items}</div>")
        elif isinstance(block, Figure):
            data = base64.b64encode(block.png).decode()
            parts.append(f"<figure><img alt='{_e(block.alt or block.caption)}' "
                         f"src='data:image/png;base64,{data}'>"
                         f"<figcaption>{_e(block.caption)}</figcaption></figure>")
        elif isinstance(block, Table):
            parts.append(_html_table(block))
        elif isinstance(block, PageBreak):
            continue
    parts.append(f"</main><footer>{_e(doc.footer)}</footer></body></html>")
    return "\n".join(parts)


def _typst_data(doc: Document, folder: Path) -> dict:
    """The JSON the Typst template reads; figures written as PNG files into ``folder``."""
    blocks: list[dict] = []
    for i, block in enumerate(doc.blocks):
        if isinstance(block, Heading):
            blocks.append({"kind": "heading", "text": block.text, "level": block.level})
        elif isinstance(block, Paragraph):
            blocks.append({"kind": "paragraph", "text": block.text, "small": block.small})
        elif isinstance(block, Summary):
            blocks.append({"kind": "summary", "title": block.title, "lines": list(block.lines)})
        elif isinstance(block, Facts):
            blocks.append({"kind": "facts", "items": [list(item) for item in block.items]})
        elif isinstance(block, Figure):
            name = f"figure-{i}.png"
            (folder / name).write_bytes(block.png)
            blocks.append({"kind": "figure", "file": name, "caption": block.caption,
                           "width": block.width, "alt": block.alt or block.caption})
        elif isinstance(block, Table):
            blocks.append({"kind": "table", "caption": block.caption, "header": list(block.header),
                           "rows": [list(r) for r in block.rows], "align": list(block.alignment),
                           "widths": list(block.column_widths), "note": block.note,
                           "swatches": list(block.swatches)})
        elif isinstance(block, PageBreak):
            blocks.append({"kind": "pagebreak"})
    return {"title": doc.title, "subtitle": doc.subtitle, "lang": doc.lang,
            "created": doc.created, "footer": doc.footer, "blocks": blocks}


def pdf_bytes(doc: Document) -> bytes:
    """The document typeset by Typst, as PDF bytes."""
    import typst

    template = resources.files("ecointegrity.reports").joinpath("templates/report.typ")
    with tempfile.TemporaryDirectory(prefix="ecointegrity-report-") as tmp:
        folder = Path(tmp)
        (folder / "document.json").write_text(json.dumps(_typst_data(doc, folder)),
                                              encoding="utf-8")
        main = folder / "report.typ"
        main.write_text(template.read_text(encoding="utf-8"), encoding="utf-8")
        try:
            pdf, _warnings = typst.compile_with_warnings(
                str(main), root=str(folder), ignore_system_fonts=True)
        except typst.TypstError as exc:  # the diagnostics say which block and why
            raise ReportError(f"Typst could not typeset {doc.title!r}: {exc}") from exc
    if not isinstance(pdf, bytes):  # multi-page formats return a list; PDF is one file
        raise ReportError(f"Typst returned {type(pdf).__name__} for a PDF")
    return pdf


def write_html(doc: Document, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path, suffix=".html") as tmp:
        Path(tmp).write_text(render_html(doc), encoding="utf-8")
    return path


def write_pdf(doc: Document, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = pdf_bytes(doc)
    with atomic_path(path, suffix=".pdf") as tmp:
        Path(tmp).write_bytes(data)
    return path


def write_document(doc: Document, stem: str | Path) -> tuple[Path, Path]:
    """Write ``<stem>.html`` and ``<stem>.pdf``; return both paths."""
    stem = Path(stem)
    html_path = write_html(doc, stem.with_name(stem.name + ".html"))
    pdf_path = write_pdf(doc, stem.with_name(stem.name + ".pdf"))
    return html_path, pdf_path
