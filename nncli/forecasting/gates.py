"""Is the network better than the baselines? The verdict and the exit-5 quality gates.

One place decides, for the validation scores of `forecast train`, the walk-forward scores of
`forecast backtest` and the live scores of the ledger (`forecast score`, `forecast run`):
`compare_with_baselines` finds the best baseline and words the verdict, `check_gates`
applies --fail-if-worse-than-naive, --fail-if-worse-than-baseline and --max-mase. Scores
are `{model name: metrics}` with the network under "network"; lower MASE is better.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nncli.errors import QualityGateError
from nncli.forecasting.options import QualityGates

NETWORK = "network"
NAIVE = "naive"
METRIC = "mase"


@dataclass(frozen=True)
class BaselineComparison:
    """The network's MASE next to the naive forecast's and the best baseline's."""

    network: float
    naive: float
    best_baseline: str
    best_value: float
    baselines: int = 1  # how many baselines were compared

    @property
    def beats_naive(self) -> bool:
        return self.network < self.naive

    @property
    def beats_baselines(self) -> bool:
        """Better than every baseline, the best one included."""
        return self.network < self.best_value

    def verdict(self, model: str, on: str = "MASE") -> str:
        """One sentence naming the baseline that won, e.g. 'The LSTM does not beat the naive
        forecast on MASE (1.052 vs 1.000), nor drift (0.970), the best baseline.'"""
        relation = "beats" if self.beats_naive else "does not beat"
        head = f"The {model} {relation} the naive forecast on {on} ({self.network:.3f} vs {self.naive:.3f})"
        best = f"{self.best_baseline} ({self.best_value:.3f})"
        if self.beats_baselines:
            return head + (" and every other baseline." if self.baselines > 1 else ".")
        if self.best_baseline == NAIVE:
            return head + "."
        if self.beats_naive:
            return f"{head} but does not beat {best}."
        return f"{head}, nor {best}, the best baseline."


def compare_with_baselines(scores: dict[str, dict[str, Any]]) -> BaselineComparison:
    """The network against the naive forecast and the best of all baselines, on MASE."""
    baselines = {name: s[METRIC] for name, s in scores.items() if name != NETWORK}
    best = min(baselines, key=lambda name: (baselines[name], name != NAIVE))  # naive wins ties
    return BaselineComparison(
        network=float(scores[NETWORK][METRIC]),
        naive=float(baselines[NAIVE]),
        best_baseline=best,
        best_value=float(baselines[best]),
        baselines=len(baselines),
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
