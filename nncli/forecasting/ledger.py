"""Scoring the forecast ledger: the forecasts we actually made, against what happened since."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nncli.errors import DataError
from nncli.forecasting.scoring import NETWORK, ForecastPoints, add_forecasts, mase_scale, score
from nncli.forecasting.series import Series

if TYPE_CHECKING:
    import pandas as pd

    from nncli.forecasting.gates import BaselineComparison
    from nncli.forecasting.options import PanelSpec
    from nncli.reporting import Reporter

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
    comparison: BaselineComparison | None = None  # None until a forecast has matured
    seasons: dict[str, int] = field(default_factory=dict)

    @property
    def network_mase(self) -> float | None:
        return self.overall.get("network", {}).get("mase")

    @property
    def naive_mase(self) -> float | None:
        return self.overall.get("naive", {}).get("mase")

    def verdict(self) -> str:
        if self.comparison is None:
            return "no forecast has matured yet"
        on = f"MASE over {self.matured_rows} matured points"
        return self.comparison.verdict("live forecasts", on=on, plural=True)

    def to_dict(self) -> dict[str, Any]:
        return {
            "matured_rows": self.matured_rows,
            "pending_rows": self.pending_rows,
            "overall": self.overall,
            "per_series": self.per_series,
            "trailing": {"origins": self.window, "scores": self.trailing},
            "best_baseline": self.comparison.best_baseline if self.comparison else None,
            "comparison": self.comparison.to_dict() if self.comparison else None,
            "season": {"per_series": self.seasons},
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
    ledger: pd.DataFrame,
    panel: list[Series],
    window: int = 20,
    season: Mapping[str, int] | int | None = None,
    reporter: Reporter | None = None,
) -> LedgerScore:
    """Join forecasts with the actuals now in the data and score the network and every
    baseline (naive, drift, seasonal naive, ETS) as made from the data up to each origin.

    `season`: one season for every series (`--season`), or each series' (a model's recorded
    ones), else inferred from the frequency; MASE is scaled by the series' in-sample seasonal
    naive error up to the origin, as in the backtest. ETS is fitted per series at its oldest
    matured origin and run forward from the later ones.
    """
    import numpy as np

    from nncli.forecasting.baselines import PanelBaselines, panel_seasons
    from nncli.forecasting.gates import compare_with_baselines

    override = season if isinstance(season, int) else None
    seasons = panel_seasons(panel, override, season if isinstance(season, Mapping) else None)
    groups, pending = _matured_groups(ledger, panel)
    baselines = PanelBaselines(seasons, reporter)
    recent = set(sorted(ledger["origin"].astype(str).unique())[-window:])
    points: dict[str, ForecastPoints] = {}
    per_series: dict[str, dict[str, ForecastPoints]] = {}
    trailing: dict[str, ForecastPoints] = {}
    longest = 1
    for series, by_origin in groups:
        origins = sorted(by_origin)
        steps = {o: [max(target - o, 1) for target, _ in by_origin[o]] for o in origins}
        horizon = max(max(s) for s in steps.values())
        longest = max(longest, horizon)
        rivals = baselines.at(series.name, series.levels, origins, horizon)
        for index, origin in enumerate(origins):
            targets = [target for target, _ in by_origin[origin]]
            rows = [row for _, row in by_origin[origin]]
            forecasts = {NETWORK: np.array([r.forecast for r in rows], dtype=np.float64)}
            forecasts |= {k: v[index, np.array(steps[origin]) - 1] for k, v in rivals.items()}
            buckets = [points, per_series.setdefault(series.name, {})]
            if str(rows[0].origin) in recent:
                buckets.append(trailing)
            add_forecasts(
                buckets,
                forecasts,
                series.levels[targets],
                float(series.levels[origin]),
                mase_scale(series.levels[: origin + 1], seasons.get(series.name, 1)),
                (np.array([r.lower for r in rows]), np.array([r.upper for r in rows])),
            )

    def scored(group: dict[str, ForecastPoints]) -> dict[str, dict[str, Any]]:
        return {name: score(p) for name, p in group.items() if p.actual}

    overall = scored(points)
    # Forecasts made on consecutive origins overlap: errors share up to `longest` windows.
    comparison = compare_with_baselines(overall, points, longest) if overall else None
    return LedgerScore(
        matured_rows=len(points[NETWORK].actual) if overall else 0,
        pending_rows=pending,
        overall=overall,
        per_series={name: scored(group) for name, group in per_series.items()},
        trailing=scored(trailing),
        window=window,
        comparison=comparison,
        seasons=seasons,
    )


def _matured_groups(
    ledger: pd.DataFrame, panel: list[Series]
) -> tuple[list[tuple[Series, dict[int, list[tuple[int, Any]]]]], int]:
    """The matured rows by series and origin index: [(series, {origin: [(target, row)]})],
    and how many rows are still pending (their timestamp or series is not in the data)."""
    import pandas as pd

    by_name = {s.name: s for s in panel}
    positions = {s.name: {stamp: i for i, stamp in enumerate(s.timestamps)} for s in panel}
    groups: dict[str, dict[int, list[tuple[int, Any]]]] = {}
    pending = 0
    for row in ledger.itertuples(index=False):
        series = by_name.get(str(row.series))
        index = positions[series.name] if series is not None else {}
        target_at = index.get(pd.Timestamp(str(row.timestamp)))
        origin_at = index.get(pd.Timestamp(str(row.origin)))
        if series is None or target_at is None or origin_at is None:
            pending += 1
            continue
        groups.setdefault(series.name, {}).setdefault(origin_at, []).append((target_at, row))
    return [(by_name[name], by_origin) for name, by_origin in groups.items()], pending


def scored_panel_spec(
    metadata: dict[str, Any] | None,
    time_col: str | None,
    target: str | None,
    group_col: str | None,
) -> PanelSpec:
    """The columns `forecast score` reads: those given, else the model's (`metadata`), else
    'date' for time; a target is needed from one or the other."""
    from nncli.errors import UsageError
    from nncli.forecasting.options import PanelSpec

    known: dict[str, Any] = dict(metadata["panel"]) if metadata is not None else {}
    spec = PanelSpec(
        time_col=time_col or known.get("time_col") or "date",
        target=target or known.get("target") or "",
        group_col=group_col or known.get("group_col"),
    )
    if not spec.target:
        raise UsageError("forecast score needs --target (or --model to read it from)")
    return spec
