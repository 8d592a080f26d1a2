"""Scoring the forecast ledger: the forecasts we actually made, against what happened since."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nncli.errors import DataError
from nncli.forecasting.scoring import ForecastPoints, mase_scale, score
from nncli.forecasting.series import Series

if TYPE_CHECKING:
    import pandas as pd

LEDGER_COLUMNS = ("series", "origin", "step", "timestamp", "forecast", "lower", "upper", "model_id")
NUMBER_COLUMNS = ("forecast", "lower", "upper")


@dataclass
class LedgerScore:
    """Live accuracy of matured forecasts: overall, per series, and over a trailing window."""

    matured_rows: int
    pending_rows: int
    overall: dict[str, dict[str, Any]]
    per_series: dict[str, dict[str, dict[str, Any]]]
    trailing: dict[str, dict[str, Any]]
    window: int

    @property
    def network_mase(self) -> float | None:
        return self.overall.get("network", {}).get("mase")

    @property
    def naive_mase(self) -> float | None:
        return self.overall.get("naive", {}).get("mase")

    def verdict(self) -> str:
        if self.network_mase is None or self.naive_mase is None:
            return "no forecast has matured yet"
        relation = "beat" if self.network_mase < self.naive_mase else "did not beat"
        return (
            f"live forecasts {relation} the naive forecast on MASE ({self.network_mase:.3f} vs "
            f"{self.naive_mase:.3f} over {self.matured_rows} matured points)"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "matured_rows": self.matured_rows,
            "pending_rows": self.pending_rows,
            "overall": self.overall,
            "per_series": self.per_series,
            "trailing": {"origins": self.window, "scores": self.trailing},
            "verdict": self.verdict(),
        }


def read_ledger(path: Path) -> pd.DataFrame:
    """The ledger as a DataFrame, checked for the columns nncli writes and for cells it can
    score: whole steps, numeric forecasts and readable timestamps.

    Every cell is read as written (a series named `NA` or `None` keeps its name); an empty
    file is a ledger with no rows yet, as `--append` and `forecast run` treat it.
    """
    import pandas as pd

    from nncli.files import check_input_file

    check_input_file(path, "forecast ledger")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:  # zero bytes (or blank lines): no forecast made yet
        return pd.DataFrame({column: [] for column in LEDGER_COLUMNS}, dtype=str)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise DataError(
            f"{path}: not a readable forecast ledger ({' '.join(str(exc).split())})"
        ) from exc
    missing = [c for c in LEDGER_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: not a forecast ledger (missing column {missing[0]!r})",
            hint="pass the file written by 'nncli forecast predict --append' or 'forecast run'",
        )
    return _checked_cells(frame, path)


def _checked_cells(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Steps as whole numbers, forecasts and bounds as numbers; the first cell that is not
    is a DataError naming its line (the header is line 1)."""
    import numpy as np
    import pandas as pd

    checks = {
        "step": (frame["step"].str.fullmatch(r"\s*[+-]?\d+\s*"), "a whole number"),
        "origin": (_readable_stamps(frame["origin"]), "a timestamp"),
        "timestamp": (_readable_stamps(frame["timestamp"]), "a timestamp"),
    }
    numbers = {c: pd.to_numeric(frame[c].str.strip(), errors="coerce") for c in NUMBER_COLUMNS}
    for column, values in numbers.items():
        checks[column] = (values.notna(), "a number")
    for column, (good, meaning) in checks.items():
        bad = np.flatnonzero(~good.to_numpy(dtype=bool))
        if len(bad):
            row = int(bad[0])
            raise DataError(
                f"{path}: line {row + 2}: {column} {frame[column].iloc[row]!r} is not {meaning}",
                hint="repair or move the forecast ledger",
            )
    return frame.assign(step=frame["step"].astype(int), **numbers)


def _readable_stamps(values: pd.Series) -> pd.Series:
    """Which cells read as ISO 8601 timestamps."""
    import pandas as pd

    try:
        stamps = pd.to_datetime(values, errors="coerce", format="ISO8601")
    except ValueError:  # some with an offset, some without: each is still a timestamp
        stamps = pd.to_datetime(values, errors="coerce", format="ISO8601", utc=True)
    return stamps.notna()


def score_ledger(
    ledger: pd.DataFrame, panel: list[Series], window: int = 20, season: int = 1
) -> LedgerScore:
    """Join forecasts with the actuals now in the data and score the network and naive.

    The naive forecast of each matured row is the level at its origin (what a naive forecaster
    would have said on that day); MASE is scaled by the series' in-sample naive error up to
    the origin, as in the backtest.
    """
    import numpy as np
    import pandas as pd

    by_name = {s.name: s for s in panel}
    positions = {s.name: {stamp: i for i, stamp in enumerate(s.timestamps)} for s in panel}
    points: dict[str, ForecastPoints] = {"network": ForecastPoints(), "naive": ForecastPoints()}
    per_series: dict[str, dict[str, ForecastPoints]] = {}
    trailing: dict[str, ForecastPoints] = {"network": ForecastPoints(), "naive": ForecastPoints()}
    matured = pending = 0
    origins_sorted = sorted(ledger["origin"].astype(str).unique())
    recent = set(origins_sorted[-window:])
    for row in ledger.itertuples(index=False):
        series = by_name.get(str(row.series))
        if series is None:
            pending += 1
            continue
        index = positions[series.name]
        target_at = index.get(pd.Timestamp(str(row.timestamp)))
        origin_at = index.get(pd.Timestamp(str(row.origin)))
        if target_at is None or origin_at is None:
            pending += 1
            continue
        matured += 1
        actual = series.levels[target_at : target_at + 1]
        origin_level = float(series.levels[origin_at])
        scale = mase_scale(series.levels[: origin_at + 1], season)
        forecasts = {"network": np.array([row.forecast]), "naive": np.array([origin_level])}
        for name, forecast in forecasts.items():
            lower = np.array([row.lower]) if name == "network" else None
            upper = np.array([row.upper]) if name == "network" else None
            buckets = [
                points[name],
                per_series.setdefault(series.name, {}).setdefault(name, ForecastPoints()),
            ]
            if str(row.origin) in recent:
                buckets.append(trailing[name])
            for bucket in buckets:
                bucket.add(actual, forecast, origin_level, scale, lower, upper)

    def scored(group: dict[str, ForecastPoints]) -> dict[str, dict[str, Any]]:
        return {name: score(p) for name, p in group.items() if p.actual}

    return LedgerScore(
        matured_rows=matured,
        pending_rows=pending,
        overall=scored(points),
        per_series={name: scored(group) for name, group in per_series.items()},
        trailing=scored(trailing),
        window=window,
    )
