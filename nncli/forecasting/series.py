"""Loading one or many time series from a long (or wide) CSV, with the checks a panel needs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nncli.data.loading import CsvOptions, read_csv, require_columns, require_rows
from nncli.data.preprocessing import numeric_values
from nncli.errors import DataError, UsageError
from nncli.forecasting.options import PanelSpec as PanelSpec  # re-exported: its old home
from nncli.reporting import CollectingReporter, Reporter

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

SINGLE_SERIES = "series"


@dataclass
class Series:
    """One series: timestamps, target levels [T] and covariates [T, C] (float64)."""

    name: str
    timestamps: pd.DatetimeIndex
    levels: np.ndarray
    covariates: np.ndarray

    def __len__(self) -> int:
        return len(self.levels)

    def head(self, end: int) -> Series:
        """The series up to and including index `end - 1` (what was known then)."""
        return Series(self.name, self.timestamps[:end], self.levels[:end], self.covariates[:end])

    def window(self, start: int, end: int) -> Series:
        return Series(
            self.name,
            self.timestamps[start:end],
            self.levels[start:end],
            self.covariates[start:end],
        )


def _parse_times(values: pd.Series, path: Path, column: str) -> pd.Series:
    """Timestamps in one format: ISO 8601 in any of its forms, or the first value's format.

    A column mixing formats ('2024-01-04' and '04/01/2024') is refused naming the first row
    that breaks the pattern: guessing each value on its own would read 04/01 as April 1st
    in one row and January 4th in the next, silently reordering the series.
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
        stamps = pd.to_datetime(text, errors="coerce", format="ISO8601", utc=True)
    unread = np.flatnonzero(stamps.isna().to_numpy())
    if len(unread):
        guessed = pd.tseries.api.guess_datetime_format(text.iloc[0])
        if guessed is not None:
            stamps = pd.to_datetime(text, errors="coerce", format=guessed)
            unread = np.flatnonzero(stamps.isna().to_numpy())
    if len(unread):
        position = int(unread[0])
        alone = pd.to_datetime(text.iloc[[position]], errors="coerce", format="mixed")
        if alone.notna().all() and position > 0:
            raise DataError(
                f"{path}: time column {column!r} mixes date formats: data row 1 has "
                f"{values.iloc[0]!r} but data row {position + 1} (line {position + 2}) has "
                f"{values.iloc[position]!r}",
                hint="write every timestamp in one format, e.g. 2024-01-31",
            )
        raise DataError(
            f"{path}: time column {column!r} has an unreadable value {values.iloc[position]!r} "
            f"at data row {position + 1} (line {position + 2})",
            hint="use one date format, e.g. 2024-01-31",
        )
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    return stamps


def _to_long(frame: pd.DataFrame, spec: PanelSpec, path: Path) -> tuple[pd.DataFrame, PanelSpec]:
    import pandas as pd

    value_columns = [c for c in frame.columns if c != spec.time_col]
    numeric = [c for c in value_columns if pd.api.types.is_numeric_dtype(frame[c])]
    if not numeric:
        raise DataError(f"{path}: --wide needs numeric columns, one per series")
    long = frame.melt(
        id_vars=[spec.time_col], value_vars=numeric, var_name="series", value_name="value"
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

    Duplicate timestamps within a series are an error naming it; unsorted rows are sorted
    with a note; rows with a missing target are dropped with a warning; missing covariates
    are carried forward; series shorter than `min_length` are left out with a warning.
    """
    reporter = reporter or CollectingReporter()
    frame = _read_whole_rows(path, csv, reporter, partial_last_row)
    frame, spec = _typed_columns(frame, spec, path)
    group_key = spec.group_col or SINGLE_SERIES
    if spec.group_col is None:
        frame[SINGLE_SERIES] = spec.target
    else:
        frame[group_key] = frame[group_key].astype(str)
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
    return result


def _read_whole_rows(
    path: Path, csv: CsvOptions | None, reporter: Reporter, partial_last_row: str
) -> pd.DataFrame:
    """The CSV, with a last line still being written refused, dropped or allowed."""
    from nncli.data.integrity import (
        FileSnapshot,
        check_unchanged,
        last_line_is_complete,
        partial_line_error,
    )

    before = FileSnapshot.of(path) if path.is_file() else None
    complete = partial_last_row == "allow" or before is None or last_line_is_complete(path)
    if not complete and partial_last_row == "error":
        raise partial_line_error(path)
    frame = read_csv(path, csv, reporter=reporter)
    if before is not None and partial_last_row != "allow":
        check_unchanged(path, before)
    if not complete:
        reporter.warn(f"{path}: the last line has no line ending; that row was dropped")
        frame = frame.iloc[:-1]
    return frame


def _typed_columns(
    frame: pd.DataFrame, spec: PanelSpec, path: Path
) -> tuple[pd.DataFrame, PanelSpec]:
    """Check the named columns exist; parse times, target and covariates (a wide file is
    first melted to long form)."""
    require_rows(frame, path)
    require_columns(frame, path, [spec.time_col], "time")
    if spec.wide:
        frame, spec = _to_long(frame, spec, path)
    require_columns(frame, path, [spec.target], "target")
    if spec.group_col:
        require_columns(frame, path, [spec.group_col], "group")
    require_columns(frame, path, spec.covariates, "covariate")
    if spec.target in spec.covariates:
        raise UsageError(f"--covariate {spec.target!r} is the target; covariates are other columns")
    frame = frame.copy()
    frame[spec.time_col] = _parse_times(frame[spec.time_col], path, spec.time_col)
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

    missing = int(group[spec.target].isna().sum())
    if missing:
        reporter.warn(
            f"series {name!r}: {missing} row(s) with a missing {spec.target!r} were dropped"
        )
        group = group[group[spec.target].notna()]
    if not group[spec.time_col].is_monotonic_increasing:
        reporter.info(f"series {name!r}: rows were not in time order; sorted by {spec.time_col!r}")
        group = group.sort_values(spec.time_col, kind="stable")
    duplicated = group[spec.time_col].duplicated()
    if duplicated.any():
        stamp = group[spec.time_col][duplicated].iloc[0]
        raise DataError(
            f"{path}: series {name!r} has more than one row at {stamp}",
            hint="keep one row per series and timestamp"
            + ("" if spec.group_col else " (or pass --group-col for many series)"),
        )
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
    )
