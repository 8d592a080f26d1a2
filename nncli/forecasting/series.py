"""Loading one or many time series from a long (or wide) CSV, with the checks a panel needs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from nncli.data.loading import CsvOptions, require_columns, require_rows
from nncli.data.preprocessing import numeric_values
from nncli.errors import DataError, UsageError
from nncli.forecasting.options import PanelSpec as PanelSpec  # re-exported: its old home
from nncli.reporting import CollectingReporter, Reporter

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

SINGLE_SERIES = "series"
# The file line of each row (the header is line 1), carried through melting and grouping so
# that a message can point at the line the user sees in an editor.
LINE = "\x00line"
# A row dated up to this long after 'now' is accepted: naive timestamps may be local dates
# (UTC+14 at most) read against a UTC clock.
FUTURE_TOLERANCE_DAYS = 1.0
SHOWN_LINES = 5  # line numbers listed in one message before '…'
SHOWN_GAPS = 3


@dataclass
class Series:
    """One series: timestamps, target levels [T] and covariates [T, C] (float64), and where
    known the file and the line of each row."""

    name: str
    timestamps: pd.DatetimeIndex
    levels: np.ndarray
    covariates: np.ndarray
    lines: np.ndarray | None = None
    path: Path | None = None

    def __len__(self) -> int:
        return len(self.levels)

    def head(self, end: int) -> Series:
        """The series up to and including index `end - 1` (what was known then)."""
        return self.window(0, end)

    def window(self, start: int, end: int) -> Series:
        return Series(
            self.name,
            self.timestamps[start:end],
            self.levels[start:end],
            self.covariates[start:end],
            None if self.lines is None else self.lines[start:end],
            self.path,
        )

    def line(self, index: int) -> int | None:
        """The file line of row `index`, where known."""
        return None if self.lines is None else int(self.lines[index])

    def where(self, index: int) -> str:
        """'data.csv: line 12' for row `index` (as much of it as is known), for messages."""
        line = self.line(index)
        parts = [str(self.path)] if self.path is not None else []
        return ": ".join(parts + ([f"line {line}"] if line is not None else []))


def show_lines(lines: Sequence[int] | np.ndarray) -> str:
    """'line 6', 'lines 6, 10 and 71', or the first few of many followed by '…'."""
    shown = [str(int(line)) for line in lines[:SHOWN_LINES]]
    if len(lines) == 1:
        return f"line {shown[0]}"
    if len(lines) > SHOWN_LINES:
        return f"lines {', '.join(shown)}, …"
    return f"lines {', '.join(shown[:-1])} and {shown[-1]}"


# A time of day followed by a UTC offset or Z: '2024-03-01T16:00:00+01:00', '… 16:00Z'.
_OFFSET = r"\d:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:[Zz]|[+-]\d{2}(?::?\d{2})?)$"
_EPOCH_DIGITS = 9  # 10 digits are seconds since 1970 (2001 onwards), 13 milliseconds


def _parse_times(
    values: pd.Series, path: Path, column: str, reporter: Reporter | None = None
) -> pd.Series:
    """Timestamps in one format: ISO 8601 in any of its forms, or the first value's format.

    A column mixing formats ('2024-01-04' and '04/01/2024') is refused naming the first row
    that breaks the pattern: guessing each value on its own would read 04/01 as April 1st
    in one row and January 4th in the next, silently reordering the series. Timestamps with
    UTC offsets are converted to UTC (offsets may differ, as they do across a clock change);
    a column mixing timestamps with and without an offset is refused.
    """
    import numpy as np
    import pandas as pd

    missing = np.flatnonzero(values.isna().to_numpy())
    if len(missing):
        row = int(missing[0]) + 1
        raise DataError(
            f"{path}: time column {column!r} is empty at data row {row} (line {row + 1})",
            hint="give every row a timestamp, or delete the row",
        )
    text = values.astype(str).str.strip()
    if pd.api.types.is_numeric_dtype(values):
        # 20240131 read as a number: parse its digits, as written (never as an epoch).
        text = values.map(lambda v: str(int(v)) if float(v).is_integer() else str(v))
    try:
        stamps = pd.to_datetime(text, errors="coerce", format="ISO8601")
    except ValueError:  # offsets differ between rows (+01:00 in winter, +02:00 in summer)
        _refuse_mixed_offsets(text, path, column)
        stamps = pd.to_datetime(text, errors="coerce", format="ISO8601", utc=True)
    unread = np.flatnonzero(stamps.isna().to_numpy())
    if len(unread):
        guessed = pd.tseries.api.guess_datetime_format(text.iloc[0])
        if guessed is not None:
            stamps = pd.to_datetime(text, errors="coerce", format=guessed)
            unread = np.flatnonzero(stamps.isna().to_numpy())
    if len(unread):
        _refuse_unread(text, int(unread[0]), path, column, pd.api.types.is_numeric_dtype(values))
    if getattr(stamps.dt, "tz", None) is not None:
        if reporter is not None:
            reporter.info(
                f"{path}: time column {column!r} has UTC offsets; timestamps are converted to "
                "UTC (and forecast in UTC)"
            )
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    return stamps


def _refuse_mixed_offsets(text: pd.Series, path: Path, column: str) -> None:
    """A DataError naming the first line whose timestamp has a UTC offset when the first
    has none, or none when the first has one: which clock the others are on is unknown."""
    import numpy as np

    with_offset = text.str.contains(_OFFSET, regex=True).to_numpy(dtype=bool)
    if with_offset.all() or not with_offset.any():
        return
    position = int(np.flatnonzero(with_offset != with_offset[0])[0])
    raise DataError(
        f"{path}: time column {column!r} mixes timestamps with and without a UTC offset: "
        f"line 2 has {text.iloc[0]!r} but line {position + 2} has {text.iloc[position]!r}",
        hint="write every timestamp with its offset (e.g. 2024-03-01T16:00:00+01:00), or none",
    )


def _refuse_unread(text: pd.Series, position: int, path: Path, column: str, numeric: bool) -> None:
    """The DataError for the first timestamp that cannot be read (as the user wrote it)."""
    import pandas as pd

    alone = pd.to_datetime(text.iloc[[position]], errors="coerce", format="mixed")
    if alone.notna().all() and position > 0:
        raise DataError(
            f"{path}: time column {column!r} mixes date formats: data row 1 has "
            f"{text.iloc[0]!r} but data row {position + 1} (line {position + 2}) has "
            f"{text.iloc[position]!r}",
            hint="write every timestamp in one format, e.g. 2024-01-31",
        )
    epoch = numeric and len(text.iloc[position].lstrip("-")) > _EPOCH_DIGITS
    raise DataError(
        f"{path}: time column {column!r} has an unreadable value {text.iloc[position]!r} "
        f"at data row {position + 1} (line {position + 2})",
        hint="write dates such as 2024-01-31; numbers like this look like Unix time, which "
        "nncli does not guess"
        if epoch
        else "use one date format, e.g. 2024-01-31",
    )


def _to_long(frame: pd.DataFrame, spec: PanelSpec, path: Path) -> tuple[pd.DataFrame, PanelSpec]:
    import pandas as pd

    value_columns = [c for c in frame.columns if c not in (spec.time_col, LINE)]
    numeric = [c for c in value_columns if pd.api.types.is_numeric_dtype(frame[c])]
    if not numeric:
        raise DataError(f"{path}: --wide needs numeric columns, one per series")
    long = frame.melt(
        id_vars=[spec.time_col, LINE], value_vars=numeric, var_name="series", value_name="value"
    )
    return long, PanelSpec(spec.time_col, "value", "series", [], wide=False)


def load_panel(
    path: Path,
    spec: PanelSpec,
    csv: CsvOptions | None = None,
    *,
    reporter: Reporter | None = None,
    min_length: int = 2,
    partial_last_row: str = "allow",
) -> list[Series]:
    """Read, validate and split a CSV into series sorted by time.

    Rows without a series name (an empty group cell) are dropped with one warning naming
    their lines; duplicate timestamps within a series are an error naming them; unsorted
    rows are sorted with a note; rows with a missing target are dropped with a warning;
    missing covariates are carried forward; series shorter than `min_length` are left out
    with a warning; holes in a series' calendar and constant series are warned about.
    """
    from nncli.data.integrity import read_whole_rows

    reporter = reporter or CollectingReporter()
    # Series names are text, always: tickers 005930 and 0700 keep their zeros (read as
    # numbers they would become 5930 and 700, and 0700 would merge with 700).
    text = {spec.group_col: "str"} if spec.group_col and not spec.wide else None
    frame = read_whole_rows(path, csv, reporter, partial_last_row, dtype=text)
    frame, spec = _typed_columns(frame, spec, path, reporter)
    group_key = spec.group_col or SINGLE_SERIES
    if spec.group_col is None:
        frame[SINGLE_SERIES] = spec.target
    else:
        frame = _named_groups(frame, spec.group_col, path, reporter)
    result: list[Series] = []
    for name, group in frame.groupby(group_key, sort=True):
        series = _one_series(str(name), group, spec, path, reporter)
        if len(series) < min_length:
            reporter.warn(
                f"series {series.name!r} has {len(series)} usable rows, fewer than the {min_length} "
                "needed (lookback + horizon + validation); it is left out"
            )
            continue
        result.append(series)
    if not result:
        raise DataError(
            f"{path}: no series is long enough (each needs at least {min_length} rows)",
            hint="lower --lookback or --horizon, or use more history",
        )
    warn_about_gaps(result, path, reporter)
    for series in result:
        if len(series) > 1 and (series.levels == series.levels[0]).all():
            reporter.warn(
                f"series {series.name!r} is constant ({series.levels[0]:.10g} in all "
                f"{len(series)} rows): it is forecast as that value, and no model can beat "
                "the naive forecast on it"
            )
    return result


def _named_groups(frame: pd.DataFrame, column: str, path: Path, reporter: Reporter) -> pd.DataFrame:
    """The rows that name their series, the names as text ('7', not '7.0'); rows with an
    empty group cell belong to no series and are dropped with one warning naming them."""
    import pandas as pd

    names = frame[column]
    blank = (names.isna() | (names.astype(str).str.strip() == "")).to_numpy(dtype=bool)
    if blank.all():
        raise DataError(
            f"{path}: group column {column!r} is empty in every row",
            hint="choose another --group-col, or leave it out for one series",
        )
    if blank.any():
        lines = frame[LINE].to_numpy()[blank]
        reporter.warn(
            f"{path}: {len(lines)} row(s) with an empty or missing {column!r} belong to no series "
            f"and were dropped ({show_lines(lines)})"
        )
        frame = frame[~blank].copy()
        names = frame[column]
    if pd.api.types.is_float_dtype(names) and (names % 1 == 0).all():
        names = names.astype("int64")  # a blank cell made the column float: 7.0 was 7
    frame[column] = names.astype(str)
    return frame


def warn_about_gaps(panel: list[Series], path: Path, reporter: Reporter) -> None:
    """One warning naming the first holes in the series' calendars, and how many there are."""
    from nncli.forecasting.calendar import find_gaps, show_stamp

    gaps = [(series, index) for series in panel for index in find_gaps(series.timestamps)]
    if not gaps:
        return
    shown = [
        f"{series.name!r} jumps from {show_stamp(series.timestamps[index - 1])} to "
        f"{show_stamp(series.timestamps[index])}"
        + (f" (line {series.line(index)})" if series.line(index) is not None else "")
        for series, index in gaps[:SHOWN_GAPS]
    ]
    more = f"; … {len(gaps)} in all" if len(gaps) > SHOWN_GAPS else ""
    reporter.warn(
        f"{path}: {len(gaps)} gap(s) in the series' calendar, read as if the rows on either "
        f"side were adjacent: {'; '.join(shown)}{more}"
    )


def refuse_future_rows(panel: list[Series], now: datetime) -> None:
    """A DataError naming the first row (in file order) dated more than a day after `now`:
    a row from the future would make stale data look fresh to the --max-age check."""
    import numpy as np
    import pandas as pd

    clock = pd.Timestamp(now)
    if clock.tzinfo is not None:
        clock = clock.tz_convert("UTC").tz_localize(None)
    limit = clock + pd.Timedelta(days=FUTURE_TOLERANCE_DAYS)
    later = [
        (series.line(int(i)) or 0, series, int(i))
        for series in panel
        for i in np.flatnonzero(series.timestamps > limit)
    ]
    if not later:
        return
    _, series, index = min(later, key=lambda found: found[0])
    from nncli.forecasting.calendar import show_stamp

    where = series.where(index)
    raise DataError(
        f"{where + ': ' if where else ''}series {series.name!r} has a row dated "
        f"{show_stamp(series.timestamps[index])}, later than now ({clock:%Y-%m-%d %H:%M}); "
        f"{len(later)} row(s) lie more than {FUTURE_TOLERANCE_DAYS:g} day in the future",
        hint="fix or delete the future-dated rows (or pass --as-of if the clock is wrong)",
    )


def _typed_columns(
    frame: pd.DataFrame, spec: PanelSpec, path: Path, reporter: Reporter
) -> tuple[pd.DataFrame, PanelSpec]:
    """Check the named columns exist; parse times, target and covariates (a wide file is
    first melted to long form); number each row with its file line."""
    require_rows(frame, path)
    require_columns(frame, path, [spec.time_col], "time")
    if not spec.wide:
        require_columns(frame, path, [spec.target], "target")
        if spec.group_col:
            require_columns(frame, path, [spec.group_col], "group")
        require_columns(frame, path, spec.covariates, "covariate")
        if spec.target in spec.covariates:
            raise UsageError(
                f"--covariate {spec.target!r} is the target; covariates are other columns"
            )
    frame = frame.copy()
    frame[spec.time_col] = _parse_times(frame[spec.time_col], path, spec.time_col, reporter)
    frame[LINE] = frame.index + 2
    if spec.wide:
        frame, spec = _to_long(frame, spec, path)
    frame[spec.target] = numeric_values(frame[spec.target], path, spec.target)
    if frame[spec.target].isna().all():
        raise DataError(
            f"{path}: target column {spec.target!r} has no values (all missing)",
            hint="choose another --target, or fill in the values",
        )
    for column in spec.covariates:
        frame[column] = numeric_values(frame[column], path, column)
    return frame, spec


def _one_series(
    name: str, group: pd.DataFrame, spec: PanelSpec, path: Path, reporter: Reporter
) -> Series:
    """One series' rows: missing targets dropped, sorted by time, duplicates refused."""
    import numpy as np
    import pandas as pd

    missing = group[spec.target].isna().to_numpy()
    if missing.any():
        reporter.warn(
            f"series {name!r}: {int(missing.sum())} row(s) with a missing {spec.target!r} were "
            f"dropped ({show_lines(group[LINE].to_numpy()[missing])})"
        )
        group = group[~missing]
    if not group[spec.time_col].is_monotonic_increasing:
        reporter.info(f"series {name!r}: rows were not in time order; sorted by {spec.time_col!r}")
        group = group.sort_values(spec.time_col, kind="stable")
    duplicated = group[spec.time_col].duplicated(keep=False).to_numpy()
    if duplicated.any():
        _refuse_duplicates(name, group[duplicated], spec, path)
    covariates = (
        group[spec.covariates].ffill().bfill().to_numpy(np.float64)
        if spec.covariates
        else (np.zeros((len(group), 0)))
    )
    return Series(
        name=name,
        timestamps=pd.DatetimeIndex(group[spec.time_col]),
        levels=group[spec.target].to_numpy(np.float64, copy=True),
        covariates=covariates,
        lines=group[LINE].to_numpy(np.int64, copy=True),
        path=path,
    )


def _refuse_duplicates(name: str, rows: pd.DataFrame, spec: PanelSpec, path: Path) -> None:
    """The DataError for the first timestamp a series has more than one row at."""
    from nncli.forecasting.calendar import show_stamp

    stamp = rows[spec.time_col].iloc[0]
    lines = rows.loc[rows[spec.time_col] == stamp, LINE].to_numpy()
    clock_change = (
        ""
        if stamp == stamp.normalize()
        else ("; a local clock going back repeats an hour: write timestamps with their UTC offset")
    )
    raise DataError(
        f"{path}: series {name!r} has more than one row at {show_stamp(stamp)} "
        f"({show_lines(sorted(lines))})",
        hint="keep one row per series and timestamp"
        + ("" if spec.group_col else " (or pass --group-col for many series)")
        + clock_change,
    )
