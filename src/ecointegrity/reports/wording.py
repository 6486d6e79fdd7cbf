"""Words and numbers in the reader's language: Spanish first, English too.

Every sentence of a report is written once with both languages side by side
(``say(es=..., en=...)``), so a translation can never fall out of step with the template.
Numbers follow the reader's locale through Babel: ``es_MX`` writes 1,234.5 as Mexico does,
``es_CO`` writes 1.234,5 as Colombia does, ``en_US`` writes 1,234.5.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from babel.numbers import format_decimal, format_percent

__all__ = ["LANGUAGES", "Language", "Wording", "check_language", "degrees"]

Language = Literal["es", "en"]
LANGUAGES: tuple[Language, ...] = ("es", "en")
_DEFAULT_LOCALE = {"es": "es_MX", "en": "en_US"}


def check_language(lang: str) -> Language:
    """``lang`` as a `Language`, or a ValueError naming the parameter and the choices."""
    if lang not in LANGUAGES:
        raise ValueError(f"lang={lang!r}: reports are written in {', '.join(LANGUAGES)}")
    return lang


@dataclass(frozen=True)
class Wording:
    """One reader's language and number locale.

    Args:
        lang: ``"es"`` (default of every report) or ``"en"``.
        locale: Babel locale for numbers; default ``es_MX`` for Spanish, ``en_US`` for English
            (``es_CO`` for Colombian readers).
    """

    lang: Language = "es"
    locale: str | None = None

    def __post_init__(self) -> None:
        check_language(self.lang)

    @property
    def number_locale(self) -> str:
        return self.locale or _DEFAULT_LOCALE[self.lang]

    def __call__(self, *, es: str, en: str) -> str:
        """The sentence in this reader's language."""
        return es if self.lang == "es" else en

    def number(self, value: float, digits: int = 1) -> str:
        """``value`` with ``digits`` decimals and the locale's grouping; "–" when undefined,
        "∞" for an unbounded interval's end."""
        if value is None or math.isnan(float(value)):
            return "–"
        if math.isinf(float(value)):
            return "∞" if value > 0 else "-∞"
        if abs(float(value)) >= 1e15:  # beyond what a table means, and Babel's precision
            return f"{float(value):.2e}"
        pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "")
        return format_decimal(round(float(value), digits), format=pattern,
                              locale=self.number_locale)

    def signed(self, value: float, digits: int = 2) -> str:
        """Like `number`, with a + before positive values (changes)."""
        text = self.number(value, digits)
        if not math.isfinite(float(value)):
            return text
        if round(float(value), digits) == 0:
            return self.number(0.0, digits)  # neither "+0" nor "-0"
        return "+" + text if float(value) > 0 else text

    def percent(self, fraction: float, digits: int = 0) -> str:
        """A fraction (0.25) as a percentage in the locale's style ("25 %" or "25%")."""
        if fraction is None or not math.isfinite(float(fraction)) or abs(float(fraction)) >= 1e13:
            return "–"
        pattern = "#,##0" + ("." + "0" * digits if digits > 0 else "") + "%"
        return format_percent(float(fraction), format=pattern, locale=self.number_locale)

    def integer(self, value: float) -> str:
        return self.number(value, 0)

    def plus_minus(self, value: float, half_width: float, digits: int = 1) -> str:
        """``value ± half_width``, the way intervals are printed in the tables."""
        return f"{self.number(value, digits)} ± {self.number(half_width, digits)}"

    def year_range(self, first: int, last: int) -> str:
        return f"{first}–{last}" if first != last else str(first)


def degrees(value: float, axis: Literal["lon", "lat"], lang: Language, minutes: bool) -> str:
    """A coordinate as map margins print it: 88°20′ O (Spanish: oeste) or 88°20′ W."""
    hemisphere = ("E" if value >= 0 else ("O" if lang == "es" else "W")) if axis == "lon" else (
        "N" if value >= 0 else "S")
    whole = abs(value)
    d = int(whole + 1e-9)
    m = round((whole - d) * 60)
    if m == 60:
        d, m = d + 1, 0
    text = f"{d}°{m:02d}′" if minutes else f"{d}°"
    return f"{text} {hemisphere}"
