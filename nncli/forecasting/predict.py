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
    """Refuse input whose newest row is older than allowed (exit code 6)."""
    import pandas as pd

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
) -> pd.DataFrame:
    """One row per series and step: origin, step, timestamp, forecast, lower, upper, model id."""
    import pandas as pd

    reporter = reporter or CollectingReporter()
    known = model.metadata["series"]
    usable = []
    for series in panel:
        if series.name not in known:
            reporter.warn(f"series {series.name!r} was not seen in training; it is skipped")
            continue
        usable.append(series)
    if not usable:
        raise DataError(
            f"none of the input's series were seen in training (known: {', '.join(known)})",
            hint="check --group-col, or retrain on these series",
        )
    predicted = model.forecast_many(usable, [len(s) - 1 for s in usable])
    median = model.quantiles.index(0.5)
    rows = []
    for series, levels in zip(usable, predicted, strict=True):
        frequency = known[series.name]["frequency"]
        stamps = future_timestamps(series.timestamps[-1], frequency, model.horizon)
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


def append_history(path: Path, forecasts: pd.DataFrame) -> int:
    """Add the forecasts whose (series, origin, step) is not in the history yet; return how many.

    The file is rewritten atomically with every earlier row kept, so a run killed mid-write
    leaves the previous history intact, and running twice adds nothing the second time.
    """
    import pandas as pd

    from nncli.files import atomic_writer

    new = forecasts.astype({"series": str, "origin": str, "step": int})
    if path.exists() and path.stat().st_size > 0:
        try:
            existing = pd.read_csv(
                path, dtype={"series": str, "origin": str, "timestamp": str, "model_id": str}
            )
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise DataError(f"{path}: the forecast history is not a readable CSV ({exc})") from exc
        missing = [c for c in FORECAST_COLUMNS if c not in existing.columns]
        if missing:
            raise DataError(f"{path}: not a forecast history (missing column {missing[0]!r})")
        seen = set(existing[HISTORY_KEY].astype({"step": int}).itertuples(index=False, name=None))
        fresh = new[
            [key not in seen for key in new[HISTORY_KEY].itertuples(index=False, name=None)]
        ]
        combined = pd.concat([existing, fresh], ignore_index=True)
    else:
        fresh = new
        combined = new
    if fresh.empty:
        return 0
    with atomic_writer(path) as handle:
        combined.to_csv(handle, index=False, float_format="%.10g", lineterminator="\n")
    return len(fresh)
