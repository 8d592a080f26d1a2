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
from typing import Any

from nncli.errors import QualityGateError
from nncli.forecasting.model import ForecastOptions
from nncli.reporting import Reporter


@dataclass
class JobOptions:
    """A scheduled job's files, schedule and gates (all paths already absolute or cwd-relative)."""

    data: Path
    model: Path
    ledger: Path
    forecast: ForecastOptions
    lock: Path | None = None
    state: Path | None = None
    max_age_days: float | None = None
    retrain_every_days: float | None = 7.0
    retrain_every_runs: int | None = None
    retrain_if_mase_above: float | None = None
    require_beats_naive: bool = False
    fail_if_worse_than_naive: bool = False
    max_mase: float | None = None
    score_window: int = 20
    partial_last_row: str = "error"
    wait_seconds: float = 0.0
    now: datetime | None = None

    @property
    def lock_path(self) -> Path:
        return self.lock or self.model.with_name(self.model.name + ".lock")

    @property
    def state_path(self) -> Path:
        return self.state or self.model.with_name(self.model.name + ".state.json")

    @property
    def backup_path(self) -> Path:
        return self.model.with_name(self.model.name + ".prev")


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
            parts.append(f"retrained ({self.retrain_reason})")
        elif self.kept_previous_model:
            parts.append(f"kept the previous model ({self.retrain_reason})")
        if self.live.get("verdict"):
            parts.append(self.live["verdict"])
        return "; ".join(parts)


def _read_state(path: Path) -> dict[str, Any]:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return {}
    return state if isinstance(state, dict) else {}


def _write_state(path: Path, state: dict[str, Any]) -> None:
    from nncli.files import atomic_writer

    with atomic_writer(path) as handle:
        handle.write(json.dumps(state, indent=2) + "\n")


def _naive_utc(text: str) -> datetime:
    """An ISO timestamp as naive UTC (model files store aware UTC times)."""
    stamp = datetime.fromisoformat(text)
    return stamp.astimezone(UTC).replace(tzinfo=None) if stamp.tzinfo else stamp


def _retrain_reason(
    options: JobOptions, state: dict[str, Any], live_mase: float | None, now: datetime
) -> str:
    if not options.model.exists():
        return "no model yet"
    if options.retrain_every_days is not None and state.get("trained_at"):
        age = (now - _naive_utc(state["trained_at"])).total_seconds() / 86400
        if age >= options.retrain_every_days:
            return (
                f"model is {age:.1f} days old (retrain_every_days = {options.retrain_every_days:g})"
            )
    runs = int(state.get("runs_since_retrain", 0))
    if options.retrain_every_runs is not None and runs + 1 >= options.retrain_every_runs:
        return f"run {runs + 1} since the last retrain (retrain_every_runs = {options.retrain_every_runs})"
    if (
        options.retrain_if_mase_above is not None
        and live_mase is not None
        and live_mase > options.retrain_if_mase_above
    ):
        return f"live MASE {live_mase:.3f} > {options.retrain_if_mase_above:g}"
    return ""


def run_job(options: JobOptions, reporter: Reporter) -> JobSummary:
    """Run the scheduled job once. A failed live-quality gate is reported in `summary.gate`
    (the forecast is still written); the caller turns it into exit code 5."""
    from nncli.files import atomic_write_bytes, file_sha256
    from nncli.forecasting.ledger import apply_gates, read_ledger, score_ledger
    from nncli.forecasting.model import (
        holdout_scores,
        load_forecast_model,
        save_forecast_model,
        train_forecaster,
    )
    from nncli.forecasting.predict import append_history, check_freshness, forecast_next
    from nncli.forecasting.series import load_panel
    from nncli.locking import job_lock

    now = options.now or datetime.now(UTC).replace(tzinfo=None)
    summary = JobSummary(started=now.isoformat(timespec="seconds"))
    with job_lock(options.lock_path, reporter, options.wait_seconds):
        reporter.info(f"lock {options.lock_path} taken")
        panel = load_panel(
            options.data,
            options.forecast.panel,
            reporter=reporter,
            partial_last_row=options.partial_last_row,
        )
        newest = max(s.timestamps[-1] for s in panel)
        summary.data_last_timestamp = newest.isoformat()
        reporter.info(f"read {options.data}: {len(panel)} series up to {newest.date()}")
        if options.max_age_days is not None:
            check_freshness(panel, options.max_age_days, now)
        live_mase = None
        if options.ledger.exists():
            scored = score_ledger(read_ledger(options.ledger), panel, options.score_window)
            summary.live = scored.to_dict() | {"verdict": scored.verdict()}
            trailing = scored.trailing.get("network", {})
            live_mase = trailing.get("mase")
            reporter.info(f"scored the ledger: {scored.verdict()}")
        state = _read_state(options.state_path)
        reason = _retrain_reason(options, state, live_mase, now)
        if reason:
            reporter.info(f"retraining: {reason}")
            candidate, history = train_forecaster(panel, options.forecast, reporter=reporter)
            scores = holdout_scores(candidate, panel, options.forecast)
            beats = scores["network"]["mase"] < scores["naive"]["mase"]
            reporter.info(
                f"trained {len(history.records)} epoch(s); validation MASE {scores['network']['mase']:.3f} "
                f"vs naive {scores['naive']['mase']:.3f}"
            )
            if options.require_beats_naive and not beats:
                if not options.model.exists():
                    raise QualityGateError(
                        "quality gate failed: the new model does not beat the naive forecast on "
                        "validation MASE and there is no previous model to keep"
                    )
                reporter.warn(
                    "the new model does not beat naive on validation MASE; keeping the previous model"
                )
                summary.kept_previous_model = True
                summary.retrain_reason = reason
            else:
                backed_up = options.model.exists()
                if backed_up:  # copy, so a model file exists at every instant
                    atomic_write_bytes(options.backup_path, options.model.read_bytes())
                save_forecast_model(
                    options.model,
                    candidate,
                    {
                        "metrics": {"validation": scores},
                        "data": {
                            "path": str(options.data),
                            "name": options.data.name,
                            "sha256": file_sha256(options.data),
                        },
                        "seed": options.forecast.training.seed,
                    },
                )
                state = {"trained_at": now.isoformat(timespec="seconds"), "runs_since_retrain": 0}
                summary.retrained = True
                summary.retrain_reason = reason
                reporter.info(
                    f"saved {options.model} (previous model kept as {options.backup_path.name})"
                )
        model = load_forecast_model(options.model)
        summary.model_id = model.metadata["model_id"]
        forecasts = forecast_next(model, panel, reporter=reporter)
        summary.forecast_rows = len(forecasts)
        summary.appended_rows = append_history(options.ledger, forecasts)
        reporter.info(f"appended {summary.appended_rows} row(s) to {options.ledger}")
        state.setdefault("trained_at", model.metadata.get("created_at", now.isoformat()))
        if not summary.retrained:
            state["runs_since_retrain"] = int(state.get("runs_since_retrain", 0)) + 1
        state["last_run"] = now.isoformat(timespec="seconds")
        state["last_model_id"] = summary.model_id
        _write_state(options.state_path, state)
        network = summary.live.get("overall", {}).get("network", {}).get("mase")
        naive = summary.live.get("overall", {}).get("naive", {}).get("mase")
        try:
            apply_gates(
                network,
                naive,
                fail_if_worse_than_naive=options.fail_if_worse_than_naive,
                max_mase=options.max_mase,
                what="live",
            )
        except QualityGateError as exc:
            summary.gate = exc.message  # reported after the summary; the forecast is written
    return summary
