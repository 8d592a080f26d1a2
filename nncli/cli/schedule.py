"""`nncli forecast run` (the scheduled job) and `nncli forecast score` (the live ledger)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from nncli.cli.forecast import forecast_app, render_scores
from nncli.cli.options import DataArg, command
from nncli.forecasting.options import JobOptions, LedgerScoring, QualityGates
from nncli.output import Ui, make_table

if TYPE_CHECKING:
    from nncli.forecasting.ledger import LedgerScore


@command(forecast_app, "run")
def run(ui: Ui, job: JobOptions) -> None:
    """One scheduled run: lock, read, check freshness, score, retrain when due, forecast, append.

    Examples:
      nncli forecast run --data sample_data/stocks.csv --model job.nncli \\
          --ledger ledger.csv --time-col date -t adj_close --group-col ticker
    """
    from dataclasses import asdict

    from nncli.errors import QualityGateError
    from nncli.files import check_output_path
    from nncli.forecasting.job import run_job

    ui.timestamps = True
    for path in (job.model, job.ledger):
        check_output_path(path, job.data)
    ui.info(f"start: {job.data} -> {job.ledger} (model {job.model})")
    summary = run_job(job, ui)
    gate_failed = summary.gate != "passed"
    ui.info(("done: " if not gate_failed else "done, gate failed: ") + summary.line())
    if ui.json_mode:
        ui.emit_json({"ok": not gate_failed, **asdict(summary)})
    if gate_failed:
        raise QualityGateError(summary.gate)


@command(forecast_app, "score")
def score(
    ui: Ui,
    ledger: Annotated[
        Path,
        typer.Argument(
            help="Forecast ledger CSV (from --append or forecast run).", show_default=False
        ),
    ],
    data: DataArg,
    scoring: LedgerScoring,
    gates: QualityGates,
    time_col: Annotated[
        str | None,
        typer.Option(
            "--time-col",
            help="Time column (default: the model's, from --model, else 'date').",
            show_default=False,
        ),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(
            "--target", "-t", help="Target column (default: from --model).", show_default=False
        ),
    ] = None,
    group_col: Annotated[
        str | None,
        typer.Option(
            "--group-col", help="Series column (default: from --model).", show_default=False
        ),
    ] = None,
    model: Annotated[
        Path | None,
        typer.Option(
            "--model", help="Take the column names from this model file.", show_default=False
        ),
    ] = None,
    season: Annotated[
        int | None,
        typer.Option(help="Season for MASE, seasonal naive, ETS (default: the model's)."),
    ] = None,
) -> None:
    """How good were the forecasts we actually made? Live MAE, MASE vs baselines, hits, coverage.

    Examples:
      nncli forecast score ledger.csv sample_data/stocks.csv --model job.nncli
    """
    from nncli.forecasting.architectures import ledger_forecaster
    from nncli.forecasting.gates import check_gates
    from nncli.forecasting.job import model_seasons
    from nncli.forecasting.ledger import read_ledger, score_ledger, scored_panel_spec
    from nncli.forecasting.series import load_panel

    metadata = None
    if model is not None:
        from nncli.forecasting.model import load_forecast_model

        metadata = load_forecast_model(model).metadata
    spec = scored_panel_spec(metadata, time_col, target, group_col)
    frame = read_ledger(ledger)
    forecaster = ledger_forecaster(metadata, set(frame["model_id"]))
    panel = load_panel(data, spec, reporter=ui)
    seasons = season if season is not None or model is None else model_seasons(model)
    report = score_ledger(frame, panel, scoring.window, seasons, reporter=ui)
    if report.matured_rows == 0:
        ui.warn(f"none of the {report.pending_rows} forecast row(s) has matured yet")
    if ui.json_mode:
        ui.emit_json({"ok": True, "forecaster": forecaster, **report.to_dict()})
    else:
        render_score(ui, report, forecaster)
    check_gates(report.overall, gates, what="live").raise_if_failed()


def render_score(ui: Ui, report: LedgerScore, forecaster: str) -> None:
    """Live scores overall and over the trailing window, per series, and the verdict."""
    if report.overall:
        title = (
            f"live: {report.matured_rows} matured forecast points ({report.pending_rows} pending)"
        )
        ui.print(render_scores(title, report.overall, forecaster))
    if report.trailing:
        title = f"trailing window: the newest {report.window} origins"
        ui.print(render_scores(title, report.trailing, forecaster))
    rows = [
        [
            name,
            s.get("network", {}).get("mase"),
            s.get("naive", {}).get("mase"),
            s.get("network", {}).get("directional_accuracy"),
            s.get("network", {}).get("coverage"),
        ]
        for name, s in report.per_series.items()
    ]
    if rows:
        columns = ["series", "MASE", "naive MASE", "dir. acc.", "coverage"]
        ui.print(make_table("per series", columns, rows))
    if report.matured_rows:  # with none, the warning on stderr has said so, once
        ui.print(report.verdict())


def register(app: typer.Typer) -> None:
    """The commands register themselves on the forecast sub-app when this module is imported."""
