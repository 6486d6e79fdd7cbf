"""A small time-range value type, so that "2019", "2019/2021" and date pairs mean one thing."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd

__all__ = ["TimeRange", "to_time_range"]


@dataclass(frozen=True)
class TimeRange:
    """Closed interval [start, end] in UTC."""

    start: dt.datetime
    end: dt.datetime

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(
                f"time range ends ({self.end:%Y-%m-%d}) before it starts ({self.start:%Y-%m-%d})"
            )

    @classmethod
    def years(cls, first: int, last: int | None = None) -> TimeRange:
        last = first if last is None else last
        return cls(
            _utc(dt.datetime(first, 1, 1)), _utc(dt.datetime(last, 12, 31, 23, 59, 59, 999999))
        )

    def overlaps(self, start: dt.datetime, end: dt.datetime) -> bool:
        return _utc(start) <= self.end and _utc(end) >= self.start

    def stac_interval(self) -> str:
        start, end = (t.isoformat().replace("+00:00", "Z") for t in (self.start, self.end))
        return f"{start}/{end}"

    def __str__(self) -> str:
        return f"{self.start:%Y-%m-%d}/{self.end:%Y-%m-%d}"


def _utc(t: dt.datetime) -> dt.datetime:
    return t.replace(tzinfo=dt.UTC) if t.tzinfo is None else t.astimezone(dt.UTC)


def _bound(text: str, end: bool) -> dt.datetime:
    text = text.strip()
    # A bare year or year-month means the whole period, so its end is the period's last instant.
    if end and len(text) in (4, 7):
        p = pd.Period(text, freq="Y" if len(text) == 4 else "M")
        return _utc(p.end_time.to_pydatetime())
    stamp = pd.Timestamp(text)
    if end and len(text) == 10:
        stamp = stamp + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)
    return _utc(stamp.to_pydatetime())


def to_time_range(value: TimeRange | str | int | tuple | list) -> TimeRange:
    """Parse ``2019``, ``"2019"``, ``"2019/2021"``, ``"2019-03-01/2019-06-30"`` or a pair."""
    if isinstance(value, TimeRange):
        return value
    if isinstance(value, int):
        return TimeRange.years(value)
    if isinstance(value, str):
        parts = value.split("/") if "/" in value else [value, value]
    else:
        if len(value) != 2:
            raise ValueError(f"time must be a (start, end) pair, got {value!r}")
        parts = [str(v) if not isinstance(v, str) else v for v in value]
    try:
        return TimeRange(_bound(str(parts[0]), end=False), _bound(str(parts[1]), end=True))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"cannot read time range {value!r}: {exc}") from None
