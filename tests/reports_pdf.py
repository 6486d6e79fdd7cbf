"""Reading PDFs back in tests: their text, where each word sits, and page screenshots.

Poppler's ``pdftotext`` and ``pdftoppm`` (Debian's poppler-utils, installed by ``.ci/run``).
Without them the tests that need them skip, and fail under ``ECOINTEGRITY_REQUIRE_DATA=1`` (CI).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def need_poppler() -> None:
    if shutil.which("pdftotext") and shutil.which("pdftoppm"):
        return
    message = "poppler-utils (pdftotext, pdftoppm) is not installed: apt-get install poppler-utils"
    if os.environ.get("ECOINTEGRITY_REQUIRE_DATA") == "1":
        pytest.fail(message)
    pytest.skip(message)


def pdf_text(pdf: Path) -> str:
    """The PDF's text in reading order, runs of white space as one space."""
    need_poppler()
    out = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], check=True,
                         capture_output=True, text=True).stdout
    return re.sub(r"\s+", " ", out)


@dataclass(frozen=True)
class Word:
    page: int
    text: str
    x_min: float
    x_max: float
    page_width: float


def pdf_words(pdf: Path) -> list[Word]:
    """Every word with its horizontal extent on its page (points)."""
    need_poppler()
    xhtml = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], check=True,
                           capture_output=True, text=True).stdout
    words = []
    for number, page in enumerate(re.findall(r"<page (.*?)</page>", xhtml, flags=re.S), start=1):
        width = float(re.search(r'width="([\d.]+)"', page).group(1))
        for x_min, x_max, text in re.findall(
                r'<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" yMax="[\d.]+">(.*?)</word>',
                page):
            words.append(Word(number, text, float(x_min), float(x_max), width))
    return words


def words_outside_margins(pdf: Path, margin_pt: float = 28.0) -> list[Word]:
    """Words that run into the outer 1 cm of the page: text that left its column."""
    return [w for w in pdf_words(pdf) if w.x_min < margin_pt or w.x_max > w.page_width - margin_pt]


def screenshots(pdf: Path, folder_name: str, resolution: int = 70) -> list[Path]:
    """Every page as PNG under ``test-output/<folder_name>/`` (or $ECOINTEGRITY_TEST_OUTPUT)."""
    need_poppler()
    root = Path(os.environ.get("ECOINTEGRITY_TEST_OUTPUT", REPO / "test-output")) / folder_name
    root.mkdir(parents=True, exist_ok=True)
    prefix = root / pdf.stem
    for old in root.glob(f"{pdf.stem}-*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-r", str(resolution), "-png", str(pdf), str(prefix)], check=True)
    return sorted(root.glob(f"{pdf.stem}-*.png"))
