"""The next horizon from the newest data, and an idempotent forecast history file."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from nncli.errors import DataError, StaleDataError
from nncli.forecasting.calendar import future_timestamps
from nncli.forecasting.model import ForecastModel
from nncli.forecasting.options import parse_age as parse_age  # its old home
from nncli.reporting import CollectingReporter, Reporter

if TYPE_CHECKING:
    import pandas as pd

    from nncli.forecasting.series import Series

HISTORY_KEY = ["series", "origin", "step"]
FORECAST_FLOAT_FORMAT = "%.10g"  # the forecasts' digits in every format and the history
FORECAST_COLUMNS = [
    "series",
    "origin",
    "step",
    "timestamp",
    "forecast",
    "lower",
    "upper",
    "model_id",
]


def format_timestamp(stamp: pd.Timestamp) -> str:
    """ISO 8601; a date alone when the time is midnight (daily data)."""
    return stamp.date().isoformat() if stamp == stamp.normalize() else stamp.isoformat()


def check_freshness(panel: list[Series], max_age_days: float, now: datetime) -> None:
    """Refuse input whose newest row is older than allowed (exit code 6), judged on the data
    as of `now`: a row dated after it is refused first (exit code 3)."""
    import pandas as pd

    from nncli.forecasting.series import refuse_future_rows

    refuse_future_rows(panel, now)
    newest = max(s.timestamps[-1] for s in panel)
    age = (pd.Timestamp(now) - newest) / pd.Timedelta(days=1)
    if age > max_age_days:
        raise StaleDataError(
            f"the newest row is from {newest.date()}, {age:.1f} days before {pd.Timestamp(now).date()} "
            f"(--max-age {max_age_days:g} days)",
            hint="load fresh data, or raise --max-age",
        )


def forecast_next(
    model: ForecastModel,
    panel: list[Series],
    *,
    reporter: Reporter | None = None,
    refuse_older: bool = False,
) -> pd.DataFrame:
    """One row per series and step: origin, step, timestamp, forecast, lower, upper, model id.

    A series whose history ends before the model's own training data did is warned about
    (an old extract, the wrong file), or refused as stale data (exit 6) with `refuse_older`
    (`--max-age`): the forecast would start from an origin the model has already seen past.
    """
    import pandas as pd

    reporter = reporter or CollectingReporter()
    known = model.metadata["series"]
    usable = []
    for series in panel:
        if series.name not in known:
            reporter.warn(
                f"series {series.name!r} was not seen in training; it is skipped"
                + _spelled_otherwise(series.name, known)
            )
            continue
        usable.append(series)
    if not usable:
        raise DataError(
            f"none of the input's series were seen in training (known: {', '.join(known)})",
            hint="check --group-col, or retrain on these series",
        )
    check_history_ends(model, usable, reporter, refuse_older)
    predicted = model.forecast_many(usable, [len(s) - 1 for s in usable])
    median = model.quantiles.index(0.5)
    rows = []
    for series, levels in zip(usable, predicted, strict=True):
        frequency = known[series.name]["frequency"]
        stamps = _future(series, frequency, model.horizon)
        for step in range(model.horizon):
            rows.append(
                {
                    "series": series.name,
                    "origin": format_timestamp(series.timestamps[-1]),
                    "step": step + 1,
                    "timestamp": format_timestamp(stamps[step]),
                    "forecast": float(levels[step, median]),
                    "lower": float(levels[step, 0]),
                    "upper": float(levels[step, -1]),
                    "model_id": model.metadata["model_id"],
                }
            )
    return pd.DataFrame(rows, columns=FORECAST_COLUMNS)


def _spelled_otherwise(name: str, known: dict[str, object]) -> str:
    """'; the model knows '700' …' when a known series is `name` read as a number: files
    trained before series names were read as text turned the code 0700 into 700."""
    try:
        number = float(name)
    except ValueError:
        return ""
    for other in known:
        try:
            same = float(other) == number
        except ValueError:
            continue
        if same:
            return (
                f" (the model knows {other!r}: it was trained when nncli read series names "
                "as numbers, dropping leading zeros; retrain it to keep the codes as written)"
            )
    return ""


SHOWN_SERIES = 3


def check_history_ends(
    model: ForecastModel, panel: list[Series], reporter: Reporter, refuse: bool
) -> None:
    """Warn (or, with `refuse`, raise StaleDataError) naming the series whose newest row is
    older than the last row the model was trained on (`last_timestamp` in the model file)."""
    import pandas as pd

    from nncli.forecasting.calendar import show_stamp

    older = []
    for series in panel:
        trained_to = pd.Timestamp(model.metadata["series"][series.name]["last_timestamp"])
        if series.timestamps[-1] < trained_to:
            older.append(
                f"{series.name!r} ends on {show_stamp(series.timestamps[-1])}, the model's "
                f"training data on {show_stamp(trained_to)}"
            )
    if not older:
        return
    more = f"; … {len(older)} series in all" if len(older) > SHOWN_SERIES else ""
    message = (
        f"the data ends before the model's own training data ({'; '.join(older[:SHOWN_SERIES])}"
        f"{more}): the forecast would start from an origin the model has already seen past"
    )
    if refuse:
        raise StaleDataError(
            message, hint="load the newest data (the file the model was trained on, or newer)"
        )
    reporter.warn(f"{message}; is this the newest data?")


def _future(series: Series, frequency: str, horizon: int) -> pd.DatetimeIndex:
    """The forecast's timestamps, or a DataError when they would pass the year 9999."""
    try:
        stamps = future_timestamps(series.timestamps[-1], frequency, horizon)
        _ = stamps[-1].date()  # written as text
    except (ValueError, OverflowError, NotImplementedError, ArithmeticError) as exc:
        raise DataError(
            f"series {series.name!r}: {horizon} step(s) after its last row "
            f"({series.timestamps[-1]}) pass the year 9999",
            hint="check the time column's dates",
        ) from exc
    return stamps


def append_history(path: Path, forecasts: pd.DataFrame) -> int:
    """Add the forecasts whose (series, origin, step) is not in the history yet; return how many.

    Earlier rows are copied byte for byte (never parsed and formatted again); the new rows
    follow them. The read-modify-write holds a lock shared by every nncli process, so two
    concurrent appends both land, and the file is replaced atomically, so a run killed
    mid-write leaves the previous history intact. Running twice adds nothing the second time.
    """
    from nncli.files import atomic_writer, is_special_file
    from nncli.locking import append_lock

    if is_special_file(path):  # /dev/stdout and the like: nothing to read back or lock
        fresh = _fresh_rows(forecasts, set())
        with atomic_writer(path) as handle:
            handle.write(_csv_rows(fresh, list(fresh.columns), "\n", header=True))
        return len(fresh)
    with append_lock(path):
        earlier = path.read_bytes() if path.exists() else b""
        if not earlier.strip():
            fresh = _fresh_rows(forecasts, set())
            text = _csv_rows(fresh, list(fresh.columns), "\n", header=True)
            content = text.encode()
        else:
            columns, seen = history_keys(path, earlier)
            fresh = _fresh_rows(forecasts, seen)
            eol = "\r\n" if b"\r\n" in earlier.split(b"\n", 1)[0] + b"\n" else "\n"
            separator = b"" if earlier.endswith(b"\n") else eol.encode()
            content = earlier + separator + _csv_rows(fresh, columns, eol).encode()
        if fresh.empty:
            return 0
        with atomic_writer(path, "wb", encoding=None) as handle:
            handle.write(content)
    return len(fresh)


def history_keys(path: Path, content: bytes) -> tuple[list[str], set[tuple[str, str, int]]]:
    """The history's columns and its (series, origin, step) keys, read as written.

    Every cell is read as text with no missing-value guessing, so a series named `NA` or
    `None` keeps its name and is matched as such.
    """
    import io

    import pandas as pd

    try:
        existing = pd.read_csv(io.BytesIO(content), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: the forecast history is not a readable CSV ({exc})") from exc
    missing = [c for c in FORECAST_COLUMNS if c not in existing.columns]
    if missing:
        raise DataError(f"{path}: not a forecast history (missing column {missing[0]!r})")
    seen = set()
    for line, (series, origin, step) in enumerate(
        existing[HISTORY_KEY].itertuples(index=False, name=None), start=2
    ):
        try:
            seen.add((series, origin, int(step)))
        except ValueError:
            raise DataError(
                f"{path}: line {line}: step {step!r} is not a whole number",
                hint="repair or move the forecast history file",
            ) from None
    return list(existing.columns), seen


def _fresh_rows(forecasts: pd.DataFrame, seen: set[tuple[str, str, int]]) -> pd.DataFrame:
    new = forecasts.astype({"series": str, "origin": str, "step": int})
    keys = new[HISTORY_KEY].itertuples(index=False, name=None)
    return new[[key not in seen for key in keys]]


def _csv_rows(rows: pd.DataFrame, columns: list[str], eol: str, header: bool = False) -> str:
    """`rows` as CSV text in the history's column order (columns it lacks left empty)."""
    return str(
        rows.reindex(columns=columns).to_csv(
            index=False, header=header, float_format=FORECAST_FLOAT_FORMAT, lineterminator=eol
        )
    )
