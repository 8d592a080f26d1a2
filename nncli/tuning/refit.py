"""`tune --save-best`: the kept trial's configuration retrained through its domain's training
path and saved with its provenance (study, trial, parameters, storage, refit mode)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nncli.errors import NncliError
from nncli.tuning.domain import RefitPlan
from nncli.tuning.storage import redact

if TYPE_CHECKING:
    from pathlib import Path

    from nncli.tuning.job import TuneJob
    from nncli.tuning.report import TuneReport


def plan_refit(job: TuneJob, trial: dict[str, Any] | None, mode: str = "trial") -> RefitPlan:
    """A trial's full configuration (`TuneReport.best` or `.defaults`), its epoch count and
    its provenance, for a refit as `mode` ("trial" or "all", `--refit`) says."""
    if trial is None:
        raise NncliError(
            f"study {job.study_name!r} has no complete trial to refit",
            hint="run more trials (all were pruned or failed)",
        )
    space = job.space()
    fixed = {name: spec.value for name, spec in space.items() if spec.kind == "fixed"}
    params = fixed | trial["params"]
    provenance = {
        "study": job.study_name,
        "trial": trial["number"],
        "value": trial["value"],
        "params": params,
        "storage": redact(job.storage_url),
        "refit": mode,
    }
    epochs = max(1, int(trial["user_attrs"].get("best_epoch", 1)))
    return RefitPlan(params, epochs, provenance, on_all=mode == "all")


def refit_best(
    job: TuneJob,
    report: TuneReport,
    path: Path,
    reporter: Any,
    *,
    mode: str,
    pick: str,
) -> dict[str, Any]:
    """Retrain the best configuration through the domain's training path and save it with its
    provenance; returns what the refit scored.

    `mode` "trial": exactly as its trial trained (the training rows, early stopping on the
    validation rows; same seed, so the same network). "all": on train+validation for the
    trial's best epoch count (no validation left to stop on).
    `pick` "beats-defaults": the best trial weighed against the study's defaults trial as the
    domain's refit weighs them (tables: `nncli.tuning.pick`); "best": the best trial.
    """
    plan = plan_refit(job, report.best, mode)
    defaults = report.defaults if pick == "beats-defaults" else None
    if defaults is None or report.best is None or defaults["number"] == report.best["number"]:
        return job.domain.refit(job.data, plan, None, path, reporter)
    return job.domain.refit(job.data, plan, plan_refit(job, defaults, mode), path, reporter)
