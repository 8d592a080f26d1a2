"""`nncli forecast train|backtest|predict`: recurrent forecasting of one or many series."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from nncli.cli.common import OutModelOpt, PlotOpt, TrainOutputs, check_plot
from nncli.cli.options import DataArg, HelpGroup, command
from nncli.cli.tabular import InputArg
from nncli.data.integrity import PartialLastRow
from nncli.data.loading import CsvOptions
from nncli.data.writing import PredictionOutput
from nncli.forecasting.options import (
    BacktestOptions,
    ForecastOptions,
    PredictFreshness,
    QualityGates,
)
from nncli.output import EpochProgress, Ui, make_table

if TYPE_CHECKING:
    from nncli.forecasting.backtest import BacktestReport
    from nncli.forecasting.train import ForecastTrainReport

forecast_app = typer.Typer(
    name="forecast",
    cls=HelpGroup,
    help="Forecast time series with an N-HITS ensemble (or LSTM/GRU/TCN), next to naive, seasonal naive and ETS.",
    no_args_is_help=True,
)

SCORE_KEYS = ["mae", "rmse", "mape", "smape", "mase", "directional_accuracy", "coverage"]
SCORE_LABELS = ["MAE", "RMSE", "MAPE", "sMAPE", "MASE", "dir. acc.", "coverage"]


def render_scores(title: str, scores: dict[str, dict[str, Any]], forecaster: str) -> Any:
    """A table of forecast scores, one row per model (the network's named `forecaster`, as
    `forecaster_label` names it)."""
    rows = [
        [forecaster if name == "network" else name, *(values.get(k) for k in SCORE_KEYS)]
        for name, values in scores.items()
    ]
    return make_table(title, ["model", *SCORE_LABELS], rows)


@command(forecast_app, "train")
def train(
    ui: Ui,
    data: DataArg,
    options: ForecastOptions,
    csv: CsvOptions,
    out: OutModelOpt = None,
    plot: PlotOpt = None,
) -> None:
    """Train a forecaster on one or many series; compare it with the baselines on new windows.

    Examples:
      nncli forecast train sample_data/stocks.csv --time-col date \\
          -t adj_close --group-col ticker -o prices.nncli
    """
    from nncli.forecasting.model import save_forecast_model
    from nncli.forecasting.series import load_panel
    from nncli.forecasting.train import train_forecast

    outputs = TrainOutputs.check(data, out, plot)
    panel = load_panel(data, options.panel, csv, reporter=ui)
    with EpochProgress(ui, options.training.epochs) as progress:
        report = train_forecast(panel, options, reporter=ui, callbacks=(progress,), data_path=data)
    save_forecast_model(outputs.model_path, report.model)
    title = f"training {options.architecture.display}: {data.name} → {options.panel.target}"
    model_id = report.model.metadata["model_id"]
    outputs.report(ui, report.history, model_id, title=title, with_metric=False)
    if ui.json_mode:
        ui.emit_json({"ok": True, "model_path": str(outputs.model_path), **report.to_dict()})
    else:
        render_train(ui, report, options)


def render_train(ui: Ui, report: ForecastTrainReport, options: ForecastOptions) -> None:
    """The validation scores next to the baselines, and the verdict."""
    title = f"validation: the newest {options.valid_size:.0%} of each series' windows"
    ui.print(render_scores(title, report.scores, report.forecaster))
    ui.print(("✓ " if report.beats_baselines else "✗ ") + report.verdict)


@command(forecast_app, "backtest")
def backtest(
    ui: Ui,
    data: DataArg,
    options: ForecastOptions,
    walk: BacktestOptions,
    gates: QualityGates,
    csv: CsvOptions,
    plot: PlotOpt = None,
) -> None:
    """Walk-forward backtest against naive, drift, seasonal-naive and ETS forecasts.

    Examples:
      nncli forecast backtest sample_data/stocks.csv --time-col date \\
          -t adj_close --group-col ticker --folds 3
    """
    from nncli.forecasting.backtest import walk_forward
    from nncli.forecasting.gates import check_gates
    from nncli.forecasting.series import load_panel

    check_plot(plot, data)
    panel = load_panel(data, options.panel, csv, reporter=ui)
    report = walk_forward(panel, options, walk, reporter=ui)
    if plot is not None:
        from nncli.plots import interval_label, plot_backtest

        interval = interval_label(options.quantiles)
        plot_backtest(
            report.forecasts, plot, arch=report.forecaster, panel=panel, interval=interval
        )
        ui.info(f"wrote {plot}")
    if ui.json_mode:
        ui.emit_json({"ok": True, **report.to_dict()})
    else:
        render_backtest(ui, report, options)
    check_gates(report.overall, gates, what="backtest").raise_if_failed()


def render_backtest(ui: Ui, report: BacktestReport, options: ForecastOptions) -> None:
    """Overall scores, the direction test, and the per-fold and per-series MASE tables."""
    title = (
        f"walk-forward backtest: {len(report.per_fold)} folds × horizon {options.horizon}, levels"
    )
    ui.print(render_scores(title, report.overall, report.forecaster))
    network = report.overall["network"]
    if "directional_accuracy" in network:
        ui.print(
            f"direction: {network['directional_accuracy']:.1%} hits vs 50% (p={network['direction_p_vs_50']:.3f}) "
            f"and vs always-up {network['always_up_rate']:.1%} (p={network['direction_p_vs_always_up']:.3f}); "
            f"interval coverage {network.get('coverage', float('nan')):.1%} "
            f"(nominal {options.quantiles[-1] - options.quantiles[0]:.0%})"
        )
    names = {m: report.forecaster if m == "network" else m for m in report.overall}
    rows = [
        [f["fold"], f["origin"][:10], f["retrained"], *(f["scores"][m]["mase"] for m in names)]
        for f in report.per_fold
    ]
    columns = ["fold", "origin", "retrained", *names.values()]
    ui.print(make_table("per fold (MASE)", columns, rows, numeric_from=3))
    rows = [
        [name, *(s[m]["mase"] for m in names), s["network"].get("coverage")]
        for name, s in report.per_series.items()
    ]
    ui.print(make_table("per series (MASE)", ["series", *names.values(), "coverage"], rows))
    ui.print(("✓ " if report.beats_baselines else "✗ ") + report.verdict)


@command(forecast_app, "predict")
def predict(
    ui: Ui,
    model: Annotated[
        Path,
        typer.Argument(help="Model file written by 'nncli forecast train'.", show_default=False),
    ],
    data: InputArg,
    freshness: PredictFreshness,
    csv: CsvOptions,
    rows: PartialLastRow,
    table: PredictionOutput,
    append: Annotated[
        Path | None,
        typer.Option(
            "--append",
            envvar="NNCLI_APPEND",
            help="Forecast history CSV: add rows not yet there, keyed by (series, origin, step).",
            show_default=False,
        ),
    ] = None,
    plot: PlotOpt = None,
) -> None:
    """Forecast the next horizon from the newest data, on each series' own calendar.

    Examples:
      nncli forecast predict prices.nncli sample_data/stocks.csv --append ledger.csv
    """

    from nncli.files import check_distinct_outputs, check_output_path
    from nncli.forecasting.model import load_forecast_model
    from nncli.forecasting.options import PanelSpec
    from nncli.forecasting.predict import (
        FORECAST_FLOAT_FORMAT,
        append_history,
        check_freshness,
        forecast_next,
    )
    from nncli.forecasting.series import load_panel

    check_distinct_outputs({"--output": table.file, "--append": append})
    table.check(data, model, json_mode=ui.json_mode)
    if append is not None:
        check_output_path(append, data, model)
    check_plot(plot, data, model)
    loaded = load_forecast_model(model)
    spec = PanelSpec(**loaded.metadata["panel"])
    panel = load_panel(data, spec, csv, reporter=ui, partial_last_row=rows.partial_last_row)
    if freshness.max_age_days is not None:
        check_freshness(panel, freshness.max_age_days, freshness.now())
    forecasts = forecast_next(
        loaded, panel, reporter=ui, refuse_older=freshness.max_age_days is not None
    )
    added = None
    if append is not None:
        added = append_history(append, forecasts)
        ui.info(f"{append}: added {added} new row(s) (idempotent per series, origin and step)")
    if table.file is not None:
        table.write(forecasts, FORECAST_FLOAT_FORMAT)
        ui.info(f"wrote {len(forecasts)} forecast row(s) to {table.file} ({table.table_format})")
    if plot is not None:  # after the forecasts are safely written
        from nncli.plots import interval_label, plot_forecast

        plot_forecast(forecasts, panel, plot, interval=interval_label(loaded.quantiles))
        ui.info(f"wrote {plot}")
    if ui.json_mode:
        import json

        ui.emit_json(
            {
                "ok": True,
                "model_id": loaded.metadata["model_id"],
                "appended": added,
                "forecasts": json.loads(forecasts.to_json(orient="records")),
            }
        )
    elif table.file is None:
        table.write(forecasts, FORECAST_FLOAT_FORMAT)


def register(app: typer.Typer) -> None:
    """Add the forecast sub-commands."""
    app.add_typer(forecast_app, name="forecast")
