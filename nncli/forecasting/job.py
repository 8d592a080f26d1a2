"""The scheduled forecast job: one command a crontab line can trust.

Order of work: take the lock; read the data (refusing a half-written file); check its
freshness; score the forecasts that have matured; retrain when the schedule or the live
error says so (the new model replaces the old only after it trained and passed its gate,
and the old one is kept as a backup); forecast; append to the ledger; apply the gates.
Every file is written atomically.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nncli.errors import QualityGateError
from nncli.forecasting.gates import check_gates
from nncli.forecasting.options import JobOptions as JobOptions  # its old home
from nncli.reporting import Reporter

if TYPE_CHECKING:
    from nncli.forecasting.model import ForecastModel
    from nncli.forecasting.series import Series

NO_MODEL_YET = "no model yet"  # the first run trains; there is nothing to retrain or keep


@dataclass
class JobSummary:
    """What one run did, for the log line and `--json`."""

    started: str
    data_last_timestamp: str = ""
    retrained: bool = False
    retrain_reason: str = ""
    model_id: str = ""
    kept_previous_model: bool = False
    appended_rows: int = 0
    forecast_rows: int = 0
    live: dict[str, Any] = field(default_factory=dict)
    gate: str = "passed"

    def line(self) -> str:
        parts = [f"forecast {self.forecast_rows} row(s) from {self.data_last_timestamp}"]
        parts.append(f"{self.appended_rows} appended to the ledger")
        if self.retrained:
            verb = "trained" if self.retrain_reason == NO_MODEL_YET else "retrained"
            parts.append(f"{verb} ({self.retrain_reason})")
        elif self.kept_previous_model:
            parts.append(f"kept the previous model ({self.retrain_reason})")
        if self.live.get("verdict"):
            parts.append(self.live["verdict"])
        return "; ".join(parts)


def read_state(path: Path) -> dict[str, Any]:
    """The job's state file (when the model was trained, runs since): {} when absent or bad."""
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def write_state(path: Path, state: dict[str, Any]) -> None:
    """Replace the state file atomically."""
    from nncli.files import atomic_writer

    with atomic_writer(path) as handle:
        handle.write(json.dumps(state, indent=2) + "\n")


def _naive_utc(text: str) -> datetime:
    """An ISO timestamp as naive UTC (model files store aware UTC times)."""
    stamp = datetime.fromisoformat(text)
    return stamp.astimezone(UTC).replace(tzinfo=None) if stamp.tzinfo else stamp


def retrain_reason(
    options: JobOptions, state: dict[str, Any], live_mase: float | None, now: datetime
) -> str:
    """Why this run retrains ('' when it does not): no model, its age, the run count, or the
    live error."""
    schedule = options.schedule
    if not options.model.exists():
        return NO_MODEL_YET
    if schedule.retrain_every_days is not None and state.get("trained_at"):
        age = (now - _naive_utc(state["trained_at"])).total_seconds() / 86400
        if age >= schedule.retrain_every_days:
            return f"model is {age:.1f} days old (retrain_every_days = {schedule.retrain_every_days:g})"
    runs = int(state.get("runs_since_retrain", 0))
    if schedule.retrain_every_runs is not None and runs + 1 >= schedule.retrain_every_runs:
        return f"run {runs + 1} since the last retrain (retrain_every_runs = {schedule.retrain_every_runs})"
    limit = schedule.retrain_if_mase_above
    if limit is not None and live_mase is not None and live_mase > limit:
        return f"live MASE {live_mase:.3f} > {limit:g}"
    return ""


def run_job(options: JobOptions, reporter: Reporter) -> JobSummary:
    """Run the scheduled job once. A failed live-quality gate is reported in `summary.gate`
    (the forecast is still written); the caller turns it into exit code 5."""
    from nncli.files import check_distinct_outputs
    from nncli.forecasting.model import load_forecast_model
    from nncli.locking import job_lock, sidecar_lock_path

    # Before anything is opened: taking the lock truncates its file (issue 14).
    check_distinct_outputs(
        {
            "--lock": options.lock_path,
            "--data": options.data,
            "--ledger": options.ledger,
            "--model": options.model,
            "the ledger's append lock": sidecar_lock_path(options.ledger),
        }
    )
    now = options.freshness.now()
    summary = JobSummary(started=now.isoformat(timespec="seconds"))
    with job_lock(options.lock_path, reporter, options.wait_seconds):
        reporter.info(f"lock {options.lock_path} taken")
        panel = read_data(options, now, summary, reporter)
        live_mase = score_live_forecasts(options, panel, summary, reporter)
        state = read_state(options.state_path)
        reason = retrain_reason(options, state, live_mase, now)
        if reason:
            state = maybe_retrain(options, panel, reason, now, summary, reporter) or state
        model = load_forecast_model(options.model)
        forecast_and_append(options, model, panel, summary, reporter)
        record_run(options.state_path, state, model.metadata, now, summary)
        live = summary.live.get("overall", {})
        summary.gate = check_gates(live, options.gates, what="live").message
    return summary


def read_data(
    options: JobOptions, now: datetime, summary: JobSummary, reporter: Reporter
) -> list[Series]:
    """Read the data (refusing or dropping a half-written last row) and check its freshness."""
    from nncli.forecasting.predict import check_freshness
    from nncli.forecasting.series import load_panel

    panel = load_panel(
        options.data,
        options.forecast.panel,
        reporter=reporter,
        partial_last_row=options.partial_last_row,
    )
    newest = max(s.timestamps[-1] for s in panel)
    summary.data_last_timestamp = newest.isoformat()
    reporter.info(f"read {options.data}: {len(panel)} series up to {newest.date()}")
    if options.freshness.max_age_days is not None:
        check_freshness(panel, options.freshness.max_age_days, now)
    return panel


def score_live_forecasts(
    options: JobOptions, panel: list[Series], summary: JobSummary, reporter: Reporter
) -> float | None:
    """Score the ledger's matured forecasts into the summary; return the trailing live MASE.

    MASE and the seasonal baselines use --season, else the seasons the model recorded."""
    from nncli.forecasting.ledger import read_ledger, score_ledger

    if not options.ledger.exists():
        return None
    season = options.forecast.season
    scored = score_ledger(
        read_ledger(options.ledger),
        panel,
        options.scoring.window,
        season if season is not None else model_seasons(options.model),
        reporter,
    )
    summary.live = scored.to_dict() | {"verdict": scored.verdict()}
    reporter.info(f"scored the ledger: {scored.verdict()}")
    mase = scored.trailing.get("network", {}).get("mase")
    return None if mase is None else float(mase)


def model_seasons(path: Path) -> dict[str, int] | None:
    """The seasons recorded in the model file, None when there is none or it cannot be read
    (loading it later says why)."""
    from nncli.artifacts import read_metadata
    from nncli.errors import NncliError
    from nncli.forecasting.baselines import recorded_seasons

    try:
        return recorded_seasons(read_metadata(path)[0]) or None
    except (NncliError, OSError):
        return None


def maybe_retrain(
    options: JobOptions,
    panel: list[Series],
    reason: str,
    now: datetime,
    summary: JobSummary,
    reporter: Reporter,
) -> dict[str, Any] | None:
    """Train a candidate; it replaces the model unless --require-beats-naive keeps the old one.
    Returns the new state after a replacement, None when the previous model stays."""
    from nncli.forecasting.train import train_forecast

    reporter.info(f"{'training' if reason == NO_MODEL_YET else 'retraining'}: {reason}")
    summary.retrain_reason = reason
    report = train_forecast(panel, options.forecast, reporter=reporter, data_path=options.data)
    comparison = report.comparison
    reporter.info(
        f"trained {len(report.history.records)} epoch(s); validation MASE "
        f"{comparison.network:.3f} vs {comparison.best_value:.3f} for {comparison.best_baseline}, "
        f"the best baseline (naive {comparison.naive:.3f})"
    )
    if options.schedule.require_beats_naive and not report.beats_naive:
        if not options.model.exists():
            raise QualityGateError(
                "quality gate failed: the new model does not beat the naive forecast on "
                "validation MASE and there is no previous model to keep"
            )
        reporter.warn(
            "the new model does not beat naive on validation MASE; keeping the previous model"
        )
        summary.kept_previous_model = True
        return None
    kept = replace_model(options, report.model)
    summary.retrained = True
    backup = f" (previous model kept as {options.backup_path.name})" if kept else ""
    reporter.info(f"saved {options.model}{backup}")
    return {"trained_at": now.isoformat(timespec="seconds"), "runs_since_retrain": 0}


def replace_model(options: JobOptions, model: ForecastModel) -> bool:
    """Save `model` as the job's model, first copying the old one to MODEL.prev (a copy, so a
    model file exists at every instant). Returns whether there was an old one to keep."""
    from nncli.files import atomic_write_bytes
    from nncli.forecasting.model import save_forecast_model

    previous = options.model.exists()
    if previous:
        atomic_write_bytes(options.backup_path, options.model.read_bytes())
    save_forecast_model(options.model, model)
    return previous


def forecast_and_append(
    options: JobOptions,
    model: ForecastModel,
    panel: list[Series],
    summary: JobSummary,
    reporter: Reporter,
) -> None:
    """Forecast the next horizon and append the new rows to the ledger."""
    from nncli.forecasting.predict import append_history, forecast_next

    summary.model_id = model.metadata["model_id"]
    forecasts = forecast_next(
        model, panel, reporter=reporter, refuse_older=options.freshness.max_age_days is not None
    )
    summary.forecast_rows = len(forecasts)
    summary.appended_rows = append_history(options.ledger, forecasts)
    reporter.info(f"appended {summary.appended_rows} row(s) to {options.ledger}")


def record_run(
    path: Path,
    state: dict[str, Any],
    metadata: dict[str, Any],
    now: datetime,
    summary: JobSummary,
) -> None:
    """Write the state after this run: when trained, runs since, the last run and model."""
    state.setdefault("trained_at", metadata.get("created_at", now.isoformat()))
    if not summary.retrained:
        state["runs_since_retrain"] = int(state.get("runs_since_retrain", 0)) + 1
    state["last_run"] = now.isoformat(timespec="seconds")
    state["last_model_id"] = summary.model_id
    write_state(path, state)
