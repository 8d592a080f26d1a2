"""A study's trial budget: which trials count towards `--trials`, and the counts nncli reports.

Optuna numbers trials atomically in the storage, so a trial whose number would exceed the
budget is recognised before it trains and recorded as a failed "surplus" trial that counts
for nothing; an interrupted trial, and a failed one that Optuna retried, count for nothing
either (the retry takes its place).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nncli.tuning.storage import INTERRUPTED

if TYPE_CHECKING:
    import optuna

SURPLUS = "nncli_surplus"  # a trial's user attribute: it would have exceeded the budget


class SurplusTrialError(Exception):
    """This trial would exceed the study's trial budget; it is recorded and never trained."""


def _counted(trial: optuna.trial.FrozenTrial, retried: set[int]) -> bool:
    """Whether a trial uses up budget: everything but surplus, interrupted and retried failures."""
    from optuna.trial import TrialState

    if trial.state == TrialState.FAIL:
        return not (
            trial.user_attrs.get(SURPLUS)
            or trial.user_attrs.get(INTERRUPTED)
            or trial.number in retried
        )
    return True


def _retried_numbers(trials: list[optuna.trial.FrozenTrial]) -> set[int]:
    """Numbers of failed trials that Optuna has queued a retry for (retries of retries too)."""
    retried: set[int] = set()
    for trial in trials:
        retried.update(trial.system_attrs.get("retry_history", []))
        if "failed_trial" in trial.system_attrs:
            retried.add(trial.system_attrs["failed_trial"])
    return retried


def budget_state(study: optuna.Study) -> dict[str, int]:
    """Counts of the study's trials as nncli reports them."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    retried = _retried_numbers(trials)
    counts = {"complete": 0, "pruned": 0, "failed": 0, "running": 0, "waiting": 0, "not_counted": 0}
    for trial in trials:
        if not _counted(trial, retried):
            counts["not_counted"] += 1
        elif trial.state == TrialState.COMPLETE:
            counts["complete"] += 1
        elif trial.state == TrialState.PRUNED:
            counts["pruned"] += 1
        elif trial.state == TrialState.FAIL:
            counts["failed"] += 1
        elif trial.state == TrialState.RUNNING:
            counts["running"] += 1
        elif trial.state == TrialState.WAITING:
            counts["waiting"] += 1
    counts["finished"] = counts["complete"] + counts["pruned"] + counts["failed"]
    return counts


def is_surplus(study: optuna.Study, trial: optuna.Trial, budget: int) -> bool:
    """Whether `budget` counted trials were numbered before this one."""
    trials = study.get_trials(deepcopy=False)
    retried = _retried_numbers(trials)
    earlier = [t for t in trials if t.number < trial.number and _counted(t, retried)]
    return len(earlier) >= budget
