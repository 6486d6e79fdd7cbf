"""Acoustic evidence per site and period: the table the ecosystem-integrity network reads.

`site_evidence` joins a recordings table (`io.recordings.RECORDING_COLUMNS`), bat detections and
anthropogenic events (`io.event_table.EVENT_COLUMNS`) and soundscape indices into one row per
(site, period). Low-effort rows are kept and flagged, never dropped or pooled.

Time: everything is placed by its **survey day**, the local date of the evening: a recording
that starts before noon belongs to the previous day's night (01:00 on 2 May is the night of
1 May). Periods are built from that date, so each night lies in exactly one period and
per-night rates are not split at period boundaries. Local time is ``timestamp_local`` (the
recorder's wall clock), else ``timestamp_utc`` shifted by ``utc_offset``; recordings with
neither go to period ``"unknown"``.

Columns (one row per site and period, sorted by site then time; ``unknown`` last):

========================  ======  ==================================================================
site                      str     the recordings' ``site`` (``"unknown"`` when missing)
period                    str     ``2024-05-01`` (day), ``2024-W18`` (ISO week), ``2024-05``
                                  (month), ``2024-MAM`` (season: DJF, MAM, JJA, SON; December
                                  counts in the next year's DJF), ``2024`` (year), ``all``, or
                                  ``unknown`` (no usable timestamp)
latitude, longitude       float   median over all the site's recordings (WGS84), NaN if none
n_recordings              int     recordings in the row
recording_hours           float   real (field) time recorded, h; ``real_duration_s``, else
                                  ``duration_s / time_expansion``
n_nights                  int     distinct survey days (nights) with a recording
n_days                    int     distinct local calendar dates on which a recording started
first_timestamp           time    local wall-clock start of the first recording (naive)
last_timestamp            time    local wall-clock end of the last recording (naive)
bat_passes                int     bat passes (see below); NaN when no bat detections were given
bat_passes_per_night      float   bat_passes / n_nights; NaN when n_nights is 0
bat_call_types            int     distinct labels among bat detections with score >= threshold,
                                  the class-agnostic ``bat`` and ``unknown`` not counted
bat_call_types_list       str     those labels, sorted, comma-separated
{c}_events                int     events of anthropogenic class ``c`` with score >= threshold
{c}_per_100h              float   {c}_events per 100 recording hours; NaN when hours are 0
{c}_per_100h_lo, _hi      float   exact (Garwood) Poisson confidence interval of that rate
{index}_median            float   median of a soundscape index over the row's segments; an index
                                  is any numeric column but the ids (recording, site, segment
                                  bounds, times, sample_rate, channel, n_segments, analysed_s)
{index}_iqr               float   its interquartile range (75th - 25th percentile)
low_effort                bool    recording_hours < min_hours, n_nights < min_nights, or no
                                  recordings at all (a row made from indices alone)
effort_note               str     why a row is low effort or otherwise suspect; "" when fine
========================  ======  ==================================================================

A **bat pass** is a run of detections within one recording in which each detection starts
less than ``pass_gap_s`` seconds after the end of the ones before it: the calls of one bat
flying past the microphone. It works the same for triggered files (usually one or a few passes
each) and continuous recordings (many passes per file). Counts are "zero" for recordings with
no detection: the detector is assumed to have run on every recording given.

Anthropogenic classes are data: the labels present in the events plus ``classes=``, written
as snake-case column names (``"Chain saw"`` -> ``chain_saw``). A class with no events gets 0
and a proper upper bound (0 events in 10 h: < 36.9 per 100 h at 95%).
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from ..io import atomic_path
from .errors import AcousticsError
from .io.event_table import BAT_LABEL, UNKNOWN_LABEL, validate_events

__all__ = ["PERIODS", "UNKNOWN_PERIOD", "poisson_rate_ci", "site_evidence", "write_evidence"]

PERIODS = ("day", "week", "month", "season", "year", "all")
UNKNOWN_PERIOD = "unknown"
UNKNOWN_SITE = "unknown"

# columns of an indices table that identify a segment rather than measure it
_INDEX_ID_COLUMNS = frozenset({
    "recording", "site", "segment_start_s", "segment_end_s", "timestamp_utc", "timestamp_local",
    "utc_offset", "latitude", "longitude", "sample_rate", "channel", "n_segments", "analysed_s",
})
_SEASONS = {12: "DJF", 1: "DJF", 2: "DJF", 3: "MAM", 4: "MAM", 5: "MAM",
            6: "JJA", 7: "JJA", 8: "JJA", 9: "SON", 10: "SON", 11: "SON"}
# survey day = local date of the evening: the day turns at noon
_DAY_TURN = pd.Timedelta(hours=12)
_KEYS = ["site", "period"]


# --------------------------------------------------------------------------- statistics


def poisson_rate_ci(
    events: Any, hours: Any, confidence: float = 0.95, per: float = 100.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Event rate per ``per`` hours with its exact (Garwood) Poisson confidence interval.

    Args:
        events: event counts (array-like of ints >= 0).
        hours: observation hours, same shape; 0 or NaN gives NaN rates.
        confidence: two-sided level of the interval.
        per: hours the rate is expressed per.

    Returns:
        (rate, low, high) as float arrays.
    """
    k = np.asarray(events, dtype=float)
    h = np.asarray(hours, dtype=float)
    alpha = 1.0 - confidence
    # chi2 quantiles give the exact interval of a Poisson mean; the lower bound of 0 events is 0
    low = np.where(k > 0, stats.chi2.ppf(alpha / 2, 2 * np.maximum(k, 1)) / 2, 0.0)
    high = stats.chi2.ppf(1 - alpha / 2, 2 * k + 2) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(h > 0, per / h, np.nan)
    return k * scale, low * scale, high * scale


# --------------------------------------------------------------------------- time


def _missing(value: Any) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (
        isinstance(value, float) and np.isnan(value))


def _parse_local(value: Any) -> pd.Timestamp:
    """Wall-clock time as written (any offset in the text is ignored, the clock kept)."""
    if _missing(value) or str(value).strip() == "":
        return pd.NaT
    try:
        ts = pd.Timestamp(str(value).strip())
    except (ValueError, TypeError):
        return pd.NaT
    return ts.tz_localize(None) if ts.tzinfo is not None else ts


def _parse_offset(value: Any) -> pd.Timedelta:
    match = None if _missing(value) else re.fullmatch(r"([+-])(\d{2}):?(\d{2})", str(value).strip())
    if match is None:
        return pd.NaT
    sign = -1 if match.group(1) == "-" else 1
    return sign * pd.Timedelta(hours=int(match.group(2)), minutes=int(match.group(3)))


def _local_starts(recordings: pd.DataFrame) -> pd.Series:
    """Naive local start times: timestamp_local, else timestamp_utc + utc_offset, else NaT."""
    n = len(recordings)
    text = recordings["timestamp_local"] if "timestamp_local" in recordings else [None] * n
    if isinstance(text, pd.Series) and pd.api.types.is_datetime64_any_dtype(text):
        # already times (soundscape tables): keep the wall clock, drop any zone
        local = text.dt.tz_localize(None) if text.dt.tz is not None else text
        local = local.astype("datetime64[ns]")
    else:
        local = pd.Series([_parse_local(v) for v in text], index=recordings.index,
                          dtype="datetime64[ns]")
    if "timestamp_utc" in recordings and "utc_offset" in recordings:
        utc = pd.to_datetime(recordings["timestamp_utc"], utc=True, errors="coerce")
        offset = pd.Series([_parse_offset(v) for v in recordings["utc_offset"]],
                           index=recordings.index, dtype="timedelta64[ns]")
        local = local.fillna(utc.dt.tz_convert(None) + offset)
    return local


def _survey_day(local: pd.Series) -> pd.Series:
    return (local - _DAY_TURN).dt.normalize()


def _periods(day: pd.Series, period: str) -> pd.Series:
    """Period labels of survey days; NaT gives ``"unknown"``."""
    if period == "day":
        label = day.dt.strftime("%Y-%m-%d")
    elif period == "week":
        iso = day.dt.isocalendar()
        label = iso.year.astype(str) + "-W" + iso.week.astype(str).str.zfill(2)
    elif period == "month":
        label = day.dt.strftime("%Y-%m")
    elif period == "season":
        # December opens the next year's winter: Dec 2023 - Feb 2024 is 2024-DJF
        year = (day.dt.year + (day.dt.month == 12)).astype("Int64").astype(str)
        label = year + "-" + day.dt.month.map(_SEASONS)
    elif period == "year":
        label = day.dt.strftime("%Y")
    elif period == "all":
        label = pd.Series("all", index=day.index)
    else:
        raise AcousticsError(f"unknown period {period!r}; expected one of {PERIODS}")
    return label.astype(object).where(day.notna(), UNKNOWN_PERIOD)


def _period_order(label: str) -> str:
    """A key that sorts period labels in time order, ``unknown`` last."""
    if label == UNKNOWN_PERIOD:
        return "~"
    # the labels sort as text but for season codes, which are not alphabetical
    for i, code in enumerate(("DJF", "MAM", "JJA", "SON")):
        label = label.replace(code, str(i))
    return label


# --------------------------------------------------------------------------- inputs


def _column(df: pd.DataFrame, name: str, default: Any = np.nan) -> pd.Series:
    return df[name] if name in df else pd.Series(default, index=df.index)


def _prepare_recordings(recordings: pd.DataFrame, period: str) -> pd.DataFrame:
    """One row per recording with site, effort, survey day and period."""
    if "path" not in recordings:
        raise AcousticsError("recordings table lacks a 'path' column")
    rec = recordings.reset_index(drop=True)
    real = pd.to_numeric(_column(rec, "real_duration_s"), errors="coerce")
    file_s = pd.to_numeric(_column(rec, "duration_s"), errors="coerce")
    te = pd.to_numeric(_column(rec, "time_expansion", 1.0), errors="coerce").fillna(1.0)
    seconds = real.fillna(file_s / te)
    site = _column(rec, "site", None).astype(object)
    site = site.where(~site.map(_missing), UNKNOWN_SITE).astype(str)
    start = _local_starts(rec)
    day = _survey_day(start)
    label = _periods(day, period)
    return pd.DataFrame({
        "path": rec["path"].astype(str),
        "site": site,
        "period": label,
        "latitude": pd.to_numeric(_column(rec, "latitude"), errors="coerce"),
        "longitude": pd.to_numeric(_column(rec, "longitude"), errors="coerce"),
        "hours": seconds.fillna(0.0) / 3600.0,
        "no_duration": seconds.isna(),
        "start": start,
        "end": start + pd.to_timedelta(seconds.fillna(0.0), unit="s"),
        "night": day,
        "date": start.dt.normalize(),
    })


def _match_recordings(names: pd.Series, rec: pd.DataFrame, what: str) -> pd.Series:
    """Row of ``rec`` for each recording name (path, else a unique file name); -1 if none."""
    by_path = pd.Series(rec.index, index=rec["path"]).groupby(level=0).first()
    base = rec["path"].map(lambda p: Path(p).name)
    unique = base[~base.duplicated(keep=False)]
    by_name = pd.Series(unique.index, index=unique.to_numpy())
    row = names.map(by_path)
    # detectors often write bare file names where the scan has absolute paths
    row = row.fillna(names.map(lambda p: Path(p).name).map(by_name))
    unmatched = row.isna()
    if unmatched.any():
        examples = sorted(set(names[unmatched]))[:3]
        warnings.warn(f"{int(unmatched.sum())} {what} refer to recordings not in the recordings "
                      f"table and are left out (e.g. {examples})", stacklevel=3)
    return row.fillna(-1).astype(int)


def _events_on(events: pd.DataFrame, rec: pd.DataFrame, threshold: float,
               what: str) -> pd.DataFrame:
    """Events with score >= threshold, with their recording's row, site and period."""
    ev = validate_events(events)
    ev = ev.assign(_rec=_match_recordings(ev["recording"], rec, what))
    ev = ev[(ev["_rec"] >= 0) & (ev["score"] >= threshold)]
    return ev.assign(site=_lookup(rec["site"], ev["_rec"]),
                     period=_lookup(rec["period"], ev["_rec"]))


def _lookup(values: pd.Series, row: pd.Series) -> pd.Series:
    """``values`` at recording rows ``row`` (-1: missing), aligned on ``row``'s index."""
    return pd.Series(values.reindex(row.to_numpy()).to_numpy(), index=row.index)


def _snake(label: str) -> str:
    return re.sub(r"\W+", "_", label.strip().lower()).strip("_") or UNKNOWN_LABEL


# --------------------------------------------------------------------------- summaries


def _bat_summary(events: pd.DataFrame, rec: pd.DataFrame, threshold: float,
                 gap: float) -> pd.DataFrame:
    ev = _events_on(events, rec, threshold, "bat detections")
    ev = ev.sort_values(["_rec", "start_time", "end_time"], kind="stable")
    # end of everything heard so far in the recording: a long call can swallow a short one
    heard_until = ev.groupby("_rec")["end_time"].cummax().groupby(ev["_rec"]).shift()
    ev = ev.assign(_new=heard_until.isna() | (ev["start_time"] - heard_until >= gap))
    passes = ev.groupby(_KEYS)["_new"].sum().rename("bat_passes")
    typed = ev[~ev["label"].isin([BAT_LABEL, UNKNOWN_LABEL])]
    labels = typed.groupby(_KEYS)["label"].agg(lambda s: sorted(set(s)))
    out = pd.DataFrame({"bat_passes": passes})
    out["bat_call_types"] = labels.map(len)
    out["bat_call_types_list"] = labels.map(", ".join)
    return out


def _anthro_counts(events: pd.DataFrame | None, rec: pd.DataFrame, threshold: float,
                   classes: list[str]) -> pd.DataFrame:
    if events is None:
        return pd.DataFrame(columns=classes, dtype=float)
    ev = _events_on(events, rec, threshold, "anthropogenic events")
    ev = ev.assign(_class=ev["label"].map(_snake))
    counts = ev.groupby([*_KEYS, "_class"]).size().unstack("_class", fill_value=0)
    return counts.reindex(columns=classes, fill_value=0)


def _class_list(anthropogenic: pd.DataFrame | None, classes: Iterable[str] | None) -> list[str]:
    given = [_snake(c) for c in classes or []]
    present = [] if anthropogenic is None else validate_events(anthropogenic)["label"]
    # every label present, whatever its score, so the columns do not depend on the threshold
    return list(dict.fromkeys(given + sorted({_snake(v) for v in present})))


def _index_summary(indices: pd.DataFrame, rec: pd.DataFrame, period: str) -> pd.DataFrame:
    ix = indices.reset_index(drop=True)
    names = [c for c in ix.columns if c not in _INDEX_ID_COLUMNS
             and pd.api.types.is_numeric_dtype(ix[c]) and not pd.api.types.is_bool_dtype(ix[c])]
    row = (_match_recordings(ix["recording"].astype(str), rec, "index segments")
           if "recording" in ix else pd.Series(-1, index=ix.index))
    offset = pd.to_timedelta(pd.to_numeric(_column(ix, "segment_start_s", 0.0),
                                           errors="coerce").fillna(0.0), unit="s")
    # the scan's clock first, so segments and detections of a recording share one time base
    start = _lookup(rec["start"], row) + offset
    own = _local_starts(ix) if "timestamp_local" in ix or "timestamp_utc" in ix else start
    start = start.fillna(own)
    site = _lookup(rec["site"], row).astype(object)
    site = site.where(site.notna(), _column(ix, "site", None).astype(object))
    site = site.where(~site.map(_missing), UNKNOWN_SITE).astype(str)
    label = _periods(_survey_day(start), period)
    frame = ix[names].assign(site=site, period=label)
    grouped = frame.groupby(_KEYS)[names]
    median = grouped.median().add_suffix("_median")
    iqr = (grouped.quantile(0.75) - grouped.quantile(0.25)).add_suffix("_iqr")
    cols = [f"{n}_{s}" for n in names for s in ("median", "iqr")]
    return median.join(iqr)[cols]


def _effort(out: pd.DataFrame, min_hours: float, min_nights: int) -> pd.DataFrame:
    short = out["recording_hours"] < min_hours
    few = out["n_nights"] < min_nights
    notes = []
    rows = zip(out.itertuples(index=False), out["_no_duration"], short, few, strict=True)
    for row, no_duration, is_short, is_few in rows:
        why = []
        if row.n_recordings == 0:
            why.append("no recordings (indices only)")
        if row.period == UNKNOWN_PERIOD:
            why.append("no usable timestamp")
        if is_short:
            why.append(f"{row.recording_hours:.2f} h recorded < {min_hours:g} h")
        if is_few and row.period != UNKNOWN_PERIOD:
            why.append(f"{row.n_nights} night(s) < {min_nights}")
        if no_duration:
            why.append(f"{no_duration} recording(s) without duration, counted as 0 h")
        notes.append("; ".join(why))
    return out.assign(low_effort=(short | few | (out["n_recordings"] == 0)).to_numpy(),
                      effort_note=pd.Series(notes, index=out.index, dtype=str))


# --------------------------------------------------------------------------- public


def site_evidence(
    recordings: pd.DataFrame,
    *,
    bat_detections: pd.DataFrame | None = None,
    anthropogenic: pd.DataFrame | None = None,
    indices: pd.DataFrame | None = None,
    period: str = "month",
    bat_threshold: float = 0.5,
    anthro_threshold: float = 0.0,
    min_hours: float = 2.0,
    min_nights: int = 2,
    pass_gap_s: float = 1.0,
    classes: Iterable[str] | None = None,
    confidence: float = 0.95,
) -> pd.DataFrame:
    """Acoustic evidence per site and period (columns in the module docstring).

    Args:
        recordings: a recordings table (`recordings.RECORDING_COLUMNS`; ``path`` required).
        bat_detections: bat event table; its ``recording`` is a path (or unique file name) of
            ``recordings``. None leaves the bat columns NaN.
        anthropogenic: anthropogenic event table, labels are the classes.
        indices: soundscape indices per segment (``recording``, ``site``,
            ``segment_start_s``, ...); every other numeric column is an index.
        period: one of `PERIODS`.
        bat_threshold, anthro_threshold: minimum score of an event that counts. The
            anthropogenic detector already applies its own per-class thresholds, so by
            default every anthropogenic event given counts.
        min_hours, min_nights: below either, a row is flagged ``low_effort``.
        pass_gap_s: detections less than this apart (s) belong to one bat pass.
        classes: anthropogenic classes reported even when absent (0 events).
        confidence: level of the Poisson intervals.

    Returns:
        One row per (site, period), low-effort rows included and flagged.

    Raises:
        AcousticsError: unknown period, or a recordings table without ``path``.
    """
    if not 0 < confidence < 1:
        raise AcousticsError(f"confidence must be in (0, 1), got {confidence}")
    rec = _prepare_recordings(recordings, period)
    index_table = None if indices is None else _index_summary(indices, rec, period)
    out = _effort_per_group(rec, index_table)
    out = _with_bats(out, bat_detections, rec, bat_threshold, pass_gap_s)
    out = _with_anthropogenic(out, anthropogenic, rec, anthro_threshold, classes, confidence)
    if index_table is not None:
        out = out.join(index_table)

    out = out.reset_index()
    site_coords = rec.groupby("site")[["latitude", "longitude"]].median()
    out = out.join(site_coords, on="site")
    out["_key"] = out["period"].map(_period_order)
    out = _effort(out, min_hours, min_nights)
    out = out.sort_values(["site", "_key", "period"], kind="stable").reset_index(drop=True)
    head = ["site", "period", "latitude", "longitude", "n_recordings", "recording_hours",
            "n_nights", "n_days", "first_timestamp", "last_timestamp", "bat_passes",
            "bat_passes_per_night", "bat_call_types", "bat_call_types_list"]
    tail = ["low_effort", "effort_note"]
    middle = [c for c in out.columns if c not in head + tail and not c.startswith("_")]
    return out[head + middle + tail]


def _effort_per_group(rec: pd.DataFrame, index_table: pd.DataFrame | None) -> pd.DataFrame:
    """Recordings, hours, nights and days per (site, period); groups known from indices alone
    get zero effort."""
    grouped = rec.groupby(_KEYS, sort=False)
    out = grouped.agg(
        n_recordings=("path", "size"), recording_hours=("hours", "sum"),
        n_nights=("night", "nunique"), n_days=("date", "nunique"),
        first_timestamp=("start", "min"), last_timestamp=("end", "max"),
        _no_duration=("no_duration", "sum"),
    )
    if index_table is not None:
        extra = index_table.index.difference(out.index)
        out = pd.concat([out, pd.DataFrame(index=extra)])
        out.index.names = _KEYS
        counts = ["n_recordings", "recording_hours", "n_nights", "n_days", "_no_duration"]
        out[counts] = out[counts].fillna(0)
    for col in ("n_recordings", "n_nights", "n_days", "_no_duration"):
        out[col] = out[col].astype(int)
    return out


def _with_bats(out: pd.DataFrame, bat_detections: pd.DataFrame | None, rec: pd.DataFrame,
               threshold: float, pass_gap_s: float) -> pd.DataFrame:
    """The bat columns: passes, passes per night, call types (NaN without detections)."""
    if bat_detections is None:
        out["bat_passes"] = np.nan
        out["bat_call_types"] = np.nan
        out["bat_call_types_list"] = None
    else:
        bats = _bat_summary(bat_detections, rec, threshold, pass_gap_s)
        out = out.join(bats)
        for col in ("bat_passes", "bat_call_types"):
            out[col] = out[col].fillna(0).astype(int)
        out["bat_call_types_list"] = out["bat_call_types_list"].fillna("")
    with np.errstate(divide="ignore", invalid="ignore"):
        nights = out["n_nights"].to_numpy(float)
        out["bat_passes_per_night"] = np.where(
            nights > 0, out["bat_passes"].to_numpy(float) / nights, np.nan)
    return out


def _with_anthropogenic(out: pd.DataFrame, anthropogenic: pd.DataFrame | None,
                        rec: pd.DataFrame, threshold: float, classes: Iterable[str] | None,
                        confidence: float) -> pd.DataFrame:
    """Per class: events, and their rate per 100 recording hours with its Poisson interval."""
    class_names = _class_list(anthropogenic, classes)
    counts = _anthro_counts(anthropogenic, rec, threshold, class_names)
    counts = counts.reindex(out.index)
    if anthropogenic is not None:
        counts = counts.fillna(0).astype(int)
    hours = out["recording_hours"].to_numpy(float)
    for c in class_names:
        rate, low, high = poisson_rate_ci(counts[c], hours, confidence)
        missing = counts[c].isna().to_numpy()
        out[f"{c}_events"] = counts[c]
        out[f"{c}_per_100h"] = np.where(missing, np.nan, rate)
        out[f"{c}_per_100h_lo"] = np.where(missing, np.nan, low)
        out[f"{c}_per_100h_hi"] = np.where(missing, np.nan, high)
    return out


def write_evidence(df: pd.DataFrame, path: str | os.PathLike) -> str:
    """Write an evidence table atomically: Parquet (``.parquet``/``.pq``) or CSV (``.csv``).

    Args:
        df: the table of `site_evidence`.
        path: destination, local or fsspec URL.

    Returns:
        The destination as a string.

    Raises:
        AcousticsError: the extension is neither Parquet nor CSV.
    """
    target = os.fspath(path)
    suffix = Path(target).suffix.lower()
    if suffix in (".parquet", ".pq"):
        with atomic_path(target, suffix=suffix) as tmp:
            df.to_parquet(tmp, index=False)
    elif suffix == ".csv":
        with atomic_path(target, suffix=suffix) as tmp:
            df.to_csv(tmp, index=False)
    else:
        raise AcousticsError(f"{target}: write evidence as .parquet, .pq or .csv, not {suffix!r}")
    return target
