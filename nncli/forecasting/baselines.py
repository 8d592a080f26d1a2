"""The baselines every network is compared with, computed from the same history: naive,
drift, seasonal naive and ETS (`PanelBaselines`), and each series' season."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nncli.forecasting.naive import drift, naive, seasonal_naive

if TYPE_CHECKING:
    import numpy as np

    from nncli.forecasting.series import Series
    from nncli.forecasting.statistical import ETSFit
    from nncli.reporting import Reporter


NAIVE = "naive"
DRIFT = "drift"
ETS = "ETS"


def seasonal_naive_name(seasons: Iterable[int]) -> str | None:
    """The seasonal naive row's name for a panel: 'seasonal naive (m=12)' when every seasonal
    series has the same season, 'seasonal naive' when they differ, None when none is seasonal."""
    distinct = sorted({int(m) for m in seasons if m > 1})
    if not distinct:
        return None
    return f"seasonal naive (m={distinct[0]})" if len(distinct) == 1 else "seasonal naive"


def panel_seasons(
    panel: Iterable[Series], override: int | None = None, recorded: Mapping[str, int] | None = None
) -> dict[str, int]:
    """Each series' season: `override` (`--season`) when given, else the one recorded in the
    model (`recorded_seasons`), else the one its frequency implies."""
    from nncli.forecasting.statistical import series_season

    recorded = recorded or {}
    return {
        s.name: override
        if override is not None
        else int(recorded.get(s.name) or series_season(s.timestamps))
        for s in panel
    }


def recorded_seasons(metadata: Mapping[str, Any]) -> dict[str, int]:
    """The per-series seasons a model file recorded (empty for files from before seasons)."""
    recorded = dict((metadata.get("season") or {}).get("per_series") or {})
    for name, info in (metadata.get("series") or {}).items():
        if name not in recorded and isinstance(info, dict) and info.get("season"):
            recorded[name] = info["season"]
    return {name: int(m) for name, m in recorded.items()}


@dataclass
class PanelBaselines:
    """Every baseline of every series at successive origins, from the history up to each one:
    naive, drift, seasonal naive (when some series has m > 1; m = 1 repeats the last value)
    and ETS. ETS is chosen by AICc and fitted once per series, at the first origin asked for,
    then run forward with its parameters fixed (`statistical.ets_forecasts_at`)."""

    seasons: dict[str, int]
    reporter: Reporter | None = None
    ets_fits: dict[str, ETSFit] = field(default_factory=dict)

    @property
    def seasonal_name(self) -> str | None:
        return seasonal_naive_name(self.seasons.values())

    def at(
        self,
        name: str,
        levels: np.ndarray,
        origins: Sequence[int] | np.ndarray,
        horizon: int,
        start: int = 0,
    ) -> dict[str, np.ndarray]:
        """Each baseline's forecasts [N, H] of series `name` from each origin (an index into
        `levels`); naive, drift and seasonal naive read the history from index `start`."""
        import numpy as np

        from nncli.forecasting.statistical import ets_forecasts_at

        season = self.seasons.get(name, 1)
        heads = [levels[start : int(o) + 1] for o in origins]
        forecasts = {
            NAIVE: np.array([naive(h, horizon) for h in heads]),
            DRIFT: np.array([drift(h, horizon) for h in heads]),
        }
        if self.seasonal_name:
            forecasts[self.seasonal_name] = np.array(
                [seasonal_naive(h, horizon, season) for h in heads]
            )
        first_fit = name not in self.ets_fits
        forecasts[ETS], fit = ets_forecasts_at(
            levels, np.asarray(origins), horizon, season, self.ets_fits.get(name)
        )
        self.ets_fits[name] = fit
        if first_fit and fit.fallback and self.reporter is not None:
            self.reporter.warn(
                f"series {name!r}: ETS could not be fitted ({fit.fallback}); "
                "its ETS row is the naive forecast"
            )
        return {key: value.reshape(len(heads), horizon) for key, value in forecasts.items()}
