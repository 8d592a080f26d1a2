"""Is the network better than the baselines? The verdict and the exit-5 quality gates.

One place decides, for the validation scores of `forecast train`, the walk-forward scores of
`forecast backtest` and the live scores of the ledger (`forecast score`, `forecast run`):
`compare_with_baselines` finds the best baseline and words the verdict, `check_gates`
applies --fail-if-worse-than-naive, --fail-if-worse-than-baseline and --max-mase. Scores
are `{model name: metrics}` with the network under "network"; lower MASE is better.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nncli.errors import QualityGateError
from nncli.forecasting.baselines import NAIVE
from nncli.forecasting.options import QualityGates
from nncli.forecasting.scoring import NETWORK

if TYPE_CHECKING:
    from nncli.forecasting.scoring import ForecastPoints

METRIC = "mase"
# Within 1 % of the best baseline's MASE the network is level with it, not better: a ✓ needs
# a clear edge. The gates themselves compare strictly (not below = fail).
TOLERANCE = 0.01
SIGNIFICANCE = 0.05  # the Diebold-Mariano level the verdict calls significant
MIN_WINDOWS = 10  # fewer forecast windows: the test compares points instead


@dataclass(frozen=True)
class BaselineComparison:
    """The network's MASE next to every baseline's, the best one, and a Diebold-Mariano test
    of the network against it (statistic < 0: the network's losses are lower)."""

    network: float
    naive: float
    best_baseline: str
    best_value: float
    scores: dict[str, float] = field(default_factory=dict)  # baseline -> MASE
    dm_statistic: float | None = None
    dm_p_value: float | None = None  # two-sided
    tolerance: float = TOLERANCE

    @property
    def beats_naive(self) -> bool:
        return self.network < self.naive

    @property
    def beats_baselines(self) -> bool:
        """Better than every baseline, the best one included, by more than the tolerance."""
        return self.network < self.best_value * (1 - self.tolerance)

    @property
    def outcome(self) -> str:
        """'beats' (every baseline, clearly), 'level' (within the tolerance) or 'loses'."""
        if self.beats_baselines:
            return "beats"
        return "level" if self.network <= self.best_value * (1 + self.tolerance) else "loses"

    def verdict(self, model: str, on: str = "MASE", *, plural: bool = False) -> str:
        """One sentence naming the best baseline, e.g. 'Seasonal naive (m=12) beats the LSTM
        on validation MASE: 0.810 vs 0.930 (DM p=0.030).' `model` is the network's name
        ('LSTM', or 'live forecasts' with `plural`)."""
        best = _display(self.best_baseline)
        test = self._test_words()
        if self.outcome == "beats":
            verb = "beat" if plural else "beats"
            many = len(self.scores) > 1
            return (
                f"The {model} {verb} {'every baseline' if many else best} on {on}: "
                f"{self.network:.3f} vs {self.best_value:.3f}"
                f"{f' for {best}, the best' if many else ''}{test}."
            )
        if self.outcome == "level":
            verb = "are" if plural else "is"
            return (
                f"The {model} {verb} level with {best}, the best baseline, on {on}: "
                f"{self.network:.3f} vs {self.best_value:.3f}, within {self.tolerance:.0%}{test}."
            )
        text = f"{best[0].upper()}{best[1:]} beats the {model} on {on}: "
        text += f"{self.best_value:.3f} vs {self.network:.3f}{test}"
        if self.best_baseline != NAIVE and self.beats_naive:
            does = "do" if plural else "does"
            text += f"; the {model} {does} beat the naive forecast ({self.naive:.3f})"
        return text + "."

    def _test_words(self) -> str:
        if self.dm_p_value is None:
            return ""
        p = "<0.001" if self.dm_p_value < 0.001 else f"={self.dm_p_value:.3f}"
        if self.dm_p_value < SIGNIFICANCE:
            return f" (DM p{p})"
        return f" (DM p{p}, not significant at {SIGNIFICANCE:.0%})"

    def to_dict(self) -> dict[str, Any]:
        """For --json: every baseline's MASE, the best, the test and the outcome."""
        return {
            "network_mase": self.network,
            "baselines": dict(self.scores),
            "best_baseline": self.best_baseline,
            "best_mase": self.best_value,
            "dm_statistic": self.dm_statistic,
            "dm_p_value": self.dm_p_value,
            "tolerance": self.tolerance,
            "outcome": self.outcome,
            "beats_naive": self.beats_naive,
            "beats_baselines": self.beats_baselines,
        }


def _display(name: str) -> str:
    """A baseline's name inside a sentence ('the naive forecast', 'drift', 'ETS', ...)."""
    return "the naive forecast" if name == NAIVE else name


def compare_with_baselines(
    scores: dict[str, dict[str, Any]],
    points: dict[str, ForecastPoints] | None = None,
    lag: int = 1,
) -> BaselineComparison:
    """The network against every baseline on MASE, and (given the points behind the scores) a
    Diebold-Mariano test on the per-window scaled absolute errors against the best baseline;
    `lag`: how many windows apart two forecasts can still share an error (overlapping
    windows: the horizon). With fewer than `MIN_WINDOWS` windows the test runs on the points,
    with the longest window as the lag; with fewer than 3 there is no test (None)."""
    baselines = {
        name: float(s[METRIC])
        for name, s in scores.items()
        if name != NETWORK and s.get(METRIC) is not None
    }
    best = min(baselines, key=lambda name: (baselines[name], name != NAIVE))  # naive wins ties
    statistic = p_value = None
    if points and NETWORK in points and best in points:
        from nncli.forecasting.scoring import window_losses
        from nncli.forecasting.statistical import diebold_mariano

        network, rival = points[NETWORK], points[best]
        per_window = len(network.sizes) >= MIN_WINDOWS
        if not per_window:  # a few folds: test the points, errors shared within a window
            lag = max(network.sizes, default=1)
        test = diebold_mariano(
            window_losses(network, per_window), window_losses(rival, per_window), horizon=lag
        )
        if test.n >= 3:  # fewer: no test (diebold_mariano's p = 1 would read as a result)
            statistic, p_value = test.statistic, test.p_value
    return BaselineComparison(
        network=float(scores[NETWORK][METRIC]),
        naive=float(baselines.get(NAIVE, baselines[best])),
        best_baseline=best,
        best_value=baselines[best],
        scores=baselines,
        dm_statistic=statistic,
        dm_p_value=p_value,
    )


@dataclass(frozen=True)
class GateResult:
    """Which requested gates failed (none: passed)."""

    failures: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.failures

    @property
    def message(self) -> str:
        """'passed', or 'quality gate failed: ' and every failure."""
        return "passed" if self.passed else "quality gate failed: " + "; ".join(self.failures)

    def raise_if_failed(self) -> None:
        """Raise QualityGateError (exit code 5) when a gate failed."""
        if not self.passed:
            raise QualityGateError(self.message)


def check_gates(
    scores: dict[str, dict[str, Any]], gates: QualityGates, *, what: str = "backtest"
) -> GateResult:
    """Apply the gates to `scores`; `what` names the scores in the message ('live', ...).

    Without a network score (no forecast has matured yet) every gate passes; without a
    naive score the naive gate has nothing to compare with and passes.
    """
    network = scores.get(NETWORK, {}).get(METRIC)
    naive = scores.get(NAIVE, {}).get(METRIC)
    if network is None:
        return GateResult()
    failures = []
    if gates.fail_if_worse_than_naive and naive is not None and network >= naive:
        failures.append(f"{what} MASE {network:.3f} is not below the naive forecast's {naive:.3f}")
    baselines = {
        n: s[METRIC] for n, s in scores.items() if n != NETWORK and s.get(METRIC) is not None
    }
    if gates.fail_if_worse_than_baseline and baselines:
        best = min(baselines, key=lambda name: baselines[name])
        if network >= baselines[best]:
            failures.append(
                f"{what} MASE {network:.3f} is not below the best baseline's, "
                f"{best} {baselines[best]:.3f}"
            )
    if gates.max_mase is not None and network > gates.max_mase:
        failures.append(f"{what} MASE {network:.3f} > --max-mase {gates.max_mase:g}")
    return GateResult(tuple(failures))
