"""Write reports in every language into one folder, with an index the web server reads.

A folder of reports holds ``<name>.<lang>.html`` and ``<name>.<lang>.pdf`` per report and
``index.json``: one entry per report and language (kind, name, title, subtitle, files, and for
region cards the region's name). Entries of the same name and language are replaced, so
re-running a report updates it in place; the index is written atomically.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..io import atomic_path
from .document import Document
from .render import write_document
from .wording import LANGUAGES, Language, check_language

__all__ = ["INDEX", "publish", "read_index"]

INDEX = "index.json"


def read_index(folder: str | Path) -> list[dict[str, Any]]:
    """The entries of ``folder/index.json`` (empty when there is none)."""
    path = Path(folder) / INDEX
    if not path.is_file():
        return []
    entries = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(entries, list):
        raise ValueError(f"{path}: expected a list of reports")
    return entries


def _write_index(folder: Path, entries: list[dict[str, Any]]) -> None:
    with atomic_path(folder / INDEX, suffix=".json") as tmp:
        Path(tmp).write_text(json.dumps(entries, ensure_ascii=False, indent=1) + "\n",
                             encoding="utf-8")


def publish(
    build: Callable[[Language], Document],
    folder: str | Path,
    name: str,
    languages: Iterable[str] = LANGUAGES,
    extra: dict[str, Any] | None = None,
) -> list[Path]:
    """Build the document in each language (Spanish first), write HTML and PDF as
    ``folder/<name>.<lang>.*`` and record them in the folder's index. Returns the files."""
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"report name {name!r}: one file-name-safe word is needed")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    langs = [check_language(lang) for lang in languages]
    written: list[Path] = []
    entries = read_index(folder)
    for lang in langs:
        doc = build(lang)
        html, pdf = write_document(doc, folder / f"{name}.{lang}")
        written += [html, pdf]
        entries = [e for e in entries if (e.get("name"), e.get("lang")) != (name, lang)]
        entries.append({"name": name, "lang": lang, "kind": doc.kind, "title": doc.title,
                        "subtitle": doc.subtitle, "created": doc.created, "html": html.name,
                        "pdf": pdf.name, **(extra or {})})
    _write_index(folder, sorted(entries, key=lambda e: (e["kind"], e["name"], e["lang"])))
    return written
