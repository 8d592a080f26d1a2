"""A study after its search: counts, best trial, top trials, the defaults trial, importances."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from nncli.tuning.budget import budget_state
from nncli.tuning.storage import redact

if TYPE_CHECKING:
    import optuna

    from nncli.tuning.space import ParamSpec


@dataclass
class TuneReport:
    """The study after the search: counts, best trial, top trials, importances."""

    study: str
    storage: str
    kind: str
    counts: dict[str, int]
    best: dict[str, Any] | None
    top_trials: list[dict[str, Any]]
    importances: dict[str, float]
    space: dict[str, str]
    # The first trial queued with nncli's defaults (`SearchDomain.queue_defaults`), whatever
    # its state; None in a study that never queued one.
    defaults: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(
    study: optuna.Study, storage_url: str, space: dict[str, ParamSpec] | None = None, top: int = 10
) -> TuneReport:
    """Best trial, top trials, parameter importances and counts of a study."""
    import optuna
    from optuna.trial import TrialState

    complete = sorted(
        study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)),
        key=lambda t: t.value or 0.0,
    )
    rows = [_trial_row(t) for t in complete[:top]]
    # Optuna's `enqueue_trial` records the queued values as the "fixed_params" system attribute.
    queued = (t for t in study.get_trials(deepcopy=False) if "fixed_params" in t.system_attrs)
    defaults = next(queued, None)
    importances: dict[str, float] = {}
    if len(complete) >= 2:
        try:
            importances = {
                k: float(v)
                for k, v in optuna.importance.get_param_importances(
                    study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0)
                ).items()
            }
        except (ValueError, RuntimeError):
            importances = {}  # e.g. every trial drew the same values
    return TuneReport(
        study=study.study_name,
        storage=redact(storage_url),
        kind=str(study.user_attrs.get("nncli_kind", "")),
        counts=budget_state(study),
        best=rows[0] if rows else None,
        top_trials=rows,
        importances=importances,
        space={name: spec.describe() for name, spec in (space or {}).items()},
        defaults=None if defaults is None else _trial_row(defaults),
    )


def _trial_row(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    return {
        "number": trial.number,
        "value": trial.value,
        "params": trial.params,
        "user_attrs": trial.user_attrs,
        "duration_s": trial.duration.total_seconds() if trial.duration else None,
    }
