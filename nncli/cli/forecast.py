"""`nncli forecast train|backtest|predict`: recurrent forecasting of one or many series."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from nncli.cli.options import (
    ConfigOpt,
    DataArg,
    DebugOpt,
    EncodingOpt,
    JsonOpt,
    QuietOpt,
    SeedOpt,
    SepOpt,
    csv_options,
)
from nncli.cli.runtime import command_session
from nncli.cli.tabular import PlotOpt
from nncli.output import Ui, make_table

if TYPE_CHECKING:
    from nncli.forecasting.model import ForecastOptions

forecast_app = typer.Typer(
    name="forecast",
    help="Forecast time series with RNN/LSTM/GRU/TCN (or an MLP on lags), honest against naive baselines.",
    no_args_is_help=True,
)

SERIES = "Series"
MODEL = "Model"
TRAINING = "Training"
BACKTEST = "Backtest"

TimeColOpt = Annotated[
    str,
    typer.Option(
        "--time-col", envvar="NNCLI_TIME_COL", help="Timestamp column.", rich_help_panel=SERIES
    ),
]
TargetOpt = Annotated[
    str,
    typer.Option(
        "--target",
        "-t",
        envvar="NNCLI_TARGET",
        help="Column to forecast (e.g. adj_close).",
        rich_help_panel=SERIES,
    ),
]
GroupColOpt = Annotated[
    str | None,
    typer.Option(
        "--group-col",
        envvar="NNCLI_GROUP_COL",
        help="Column naming the series (e.g. ticker): one global model for all.",
        rich_help_panel=SERIES,
    ),
]
CovariateOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--covariate",
        help="Past-observed covariate column (repeatable), e.g. volume.",
        rich_help_panel=SERIES,
    ),
]
WideOpt = Annotated[
    bool,
    typer.Option(
        "--wide",
        envvar="NNCLI_WIDE",
        help="The file is wide: a time column and one numeric column per series.",
        rich_help_panel=SERIES,
    ),
]
ArchOpt = Annotated[
    str,
    typer.Option(
        "--arch",
        envvar="NNCLI_ARCH",
        help="lstm, gru, rnn, tcn (dilated causal convolutions), or mlp (feedforward on flattened lags).",
        rich_help_panel=MODEL,
    ),
]
LookbackOpt = Annotated[
    int,
    typer.Option(
        "--lookback",
        envvar="NNCLI_LOOKBACK",
        help="Past steps the network reads.",
        rich_help_panel=MODEL,
    ),
]
HorizonOpt = Annotated[
    int,
    typer.Option(
        "--horizon",
        envvar="NNCLI_HORIZON",
        help="Future steps forecast at once.",
        rich_help_panel=MODEL,
    ),
]
TransformOpt = Annotated[
    str,
    typer.Option(
        "--transform",
        envvar="NNCLI_TRANSFORM",
        help="log-return, diff, pct or none; forecasts are inverted back to levels.",
        rich_help_panel=MODEL,
    ),
]
HiddenSizeOpt = Annotated[
    int,
    typer.Option(
        "--hidden-size",
        envvar="NNCLI_HIDDEN_SIZE",
        help="Recurrent state, TCN channels, or MLP layer width.",
        rich_help_panel=MODEL,
    ),
]
LayersOpt = Annotated[
    int,
    typer.Option(
        "--layers",
        envvar="NNCLI_LAYERS",
        help="Stacked recurrent layers (tcn: at least this many residual blocks).",
        rich_help_panel=MODEL,
    ),
]
DropoutOpt = Annotated[
    float,
    typer.Option(
        "--dropout", envvar="NNCLI_DROPOUT", help="Dropout between layers.", rich_help_panel=MODEL
    ),
]
QuantilesOpt = Annotated[
    str,
    typer.Option(
        "--quantiles",
        envvar="NNCLI_QUANTILES",
        help="Quantiles trained with pinball loss; lowest/highest give the interval, 0.5 the forecast.",
        rich_help_panel=MODEL,
    ),
]
EpochsOpt = Annotated[
    int,
    typer.Option(
        "--epochs", envvar="NNCLI_EPOCHS", help="Maximum epochs.", rich_help_panel=TRAINING
    ),
]
BatchOpt = Annotated[
    int | None,
    typer.Option(
        "--batch-size",
        envvar="NNCLI_BATCH_SIZE",
        help="Windows per mini-batch (default: windows / 16, within 32..1024).",
        show_default=False,
        rich_help_panel=TRAINING,
    ),
]
LrOpt = Annotated[
    float,
    typer.Option("--lr", envvar="NNCLI_LR", help="AdamW learning rate.", rich_help_panel=TRAINING),
]
WeightDecayOpt = Annotated[
    float,
    typer.Option(
        "--weight-decay",
        envvar="NNCLI_WEIGHT_DECAY",
        help="AdamW weight decay.",
        rich_help_panel=TRAINING,
    ),
]
PatienceOpt = Annotated[
    int,
    typer.Option(
        "--patience",
        envvar="NNCLI_PATIENCE",
        help="Early-stopping patience in epochs.",
        rich_help_panel=TRAINING,
    ),
]
ValidOpt = Annotated[
    float,
    typer.Option(
        "--valid-size",
        envvar="NNCLI_VALID_SIZE",
        help="Newest share of each series' windows used for validation.",
        rich_help_panel=TRAINING,
    ),
]
DeviceOpt = Annotated[
    str,
    typer.Option(
        "--device",
        envvar="NNCLI_DEVICE",
        help="cpu, cuda, cuda:N or auto.",
        rich_help_panel=TRAINING,
    ),
]


def _parse_quantiles(text: str) -> list[float]:
    from nncli.errors import UsageError

    try:
        return sorted({float(part) for part in text.split(",") if part.strip()})
    except ValueError as exc:
        raise UsageError(f"--quantiles {text!r}: use numbers in (0, 1), e.g. 0.1,0.5,0.9") from exc


def _options(
    time_col: str,
    target: str,
    group_col: str | None,
    covariate: list[str] | None,
    wide: bool,
    arch: str,
    lookback: int,
    horizon: int,
    transform: str,
    hidden_size: int,
    layers: int,
    dropout: float,
    quantiles: str,
    epochs: int,
    batch_size: int | None,
    lr: float,
    weight_decay: float,
    patience: int,
    valid_size: float,
    device: str,
    seed: int,
) -> ForecastOptions:
    from nncli.devices import resolve_device
    from nncli.forecasting.model import ForecastOptions
    from nncli.forecasting.series import PanelSpec
    from nncli.training.loop import TrainingConfig

    options = ForecastOptions(
        panel=PanelSpec(time_col, target, group_col, list(covariate or []), wide),
        arch=arch.lower(),
        lookback=lookback,
        horizon=horizon,
        transform=transform,
        hidden_size=hidden_size,
        num_layers=layers,
        dropout=dropout,
        quantiles=_parse_quantiles(quantiles),
        valid_size=valid_size,
        training=TrainingConfig(
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=lr,
            weight_decay=weight_decay,
            patience=patience,
            seed=seed,
            device=resolve_device(device),
        ),
    )
    options.validate()
    return options


def _scores_table(title: str, scores: dict[str, dict[str, Any]], arch: str) -> Any:
    keys = ["mae", "rmse", "mape", "smape", "mase", "directional_accuracy", "coverage"]
    labels = ["MAE", "RMSE", "MAPE", "sMAPE", "MASE", "dir. acc.", "coverage"]
    rows = [
        [arch.upper() if name == "network" else name, *(values.get(k) for k in keys)]
        for name, values in scores.items()
    ]
    return make_table(title, ["model", *labels], rows)


@forecast_app.command("train")
def train(
    data: DataArg,
    time_col: TimeColOpt,
    target: TargetOpt,
    group_col: GroupColOpt = None,
    covariate: CovariateOpt = None,
    wide: WideOpt = False,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            envvar="NNCLI_OUT",
            help="Model file to write (default: <data name>.nncli).",
            show_default=False,
        ),
    ] = None,
    arch: ArchOpt = "lstm",
    lookback: LookbackOpt = 60,
    horizon: HorizonOpt = 5,
    transform: TransformOpt = "log-return",
    hidden_size: HiddenSizeOpt = 64,
    layers: LayersOpt = 1,
    dropout: DropoutOpt = 0.0,
    quantiles: QuantilesOpt = "0.1,0.5,0.9",
    epochs: EpochsOpt = 30,
    batch_size: BatchOpt = None,
    lr: LrOpt = 1e-3,
    weight_decay: WeightDecayOpt = 1e-4,
    patience: PatienceOpt = 5,
    valid_size: ValidOpt = 0.15,
    device: DeviceOpt = "cpu",
    seed: SeedOpt = 0,
    plot: PlotOpt = None,
    sep: SepOpt = None,
    encoding: EncodingOpt = "utf-8",
    json: JsonOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Train a forecaster on one or many series; compare it with naive on the newest windows."""
    with command_session(json, quiet, debug) as ui:
        from nncli.cli.tabular import EpochProgress, default_model_path, show_loss_sparkline
        from nncli.files import check_output_path, file_sha256
        from nncli.forecasting.model import holdout_scores, save_forecast_model, train_forecaster
        from nncli.forecasting.series import load_panel

        options = _options(
            time_col,
            target,
            group_col,
            covariate,
            wide,
            arch,
            lookback,
            horizon,
            transform,
            hidden_size,
            layers,
            dropout,
            quantiles,
            epochs,
            batch_size,
            lr,
            weight_decay,
            patience,
            valid_size,
            device,
            seed,
        )
        model_path = check_output_path(out or default_model_path(data), data)
        if plot is not None:
            from nncli.plots import check_plot_path

            check_plot_path(plot, data, model_path)
        panel = load_panel(data, options.panel, csv_options(sep, encoding), reporter=ui)
        with EpochProgress(ui, epochs) as progress:
            model, history = train_forecaster(panel, options, reporter=ui, callbacks=(progress,))
        scores = holdout_scores(model, panel, options)
        network, naive = scores["network"]["mase"], scores["naive"]["mase"]
        beats = network < naive
        verdict = (
            f"The {options.arch.upper()} {'beats' if beats else 'does not beat'} the naive forecast "
            f"on validation MASE ({network:.3f} vs {naive:.3f}); run 'nncli forecast backtest' for "
            "a walk-forward answer."
        )
        save_forecast_model(
            model_path,
            model,
            {
                "metrics": {"validation": scores, "verdict": verdict},
                "data": {"path": str(data), "name": data.name, "sha256": file_sha256(data)},
                "seed": seed,
            },
        )
        ui.info(
            f"trained {len(history.records)} epoch(s)"
            + (" (early stop)" if history.stopped_early else "")
            + f"; best epoch {history.best_epoch}: val loss {history.best.valid_loss:.4f}"
        )
        ui.info(f"saved {model_path} (model id {model.metadata['model_id']})")
        show_loss_sparkline(ui, history)
        if plot is not None:
            from nncli.plots import plot_training

            title = f"training {options.arch.upper()}: {data.name} → {target}"
            plot_training(history.to_dict(), plot, title=title)
            ui.info(f"wrote {plot}")
        if json:
            ui.emit_json(
                {
                    "ok": True,
                    "model_path": str(model_path),
                    "model_id": model.metadata["model_id"],
                    "series": list(model.metadata["series"]),
                    "validation": scores,
                    "verdict": verdict,
                    "beats_naive": beats,
                    "best_epoch": history.best_epoch,
                }
            )
        else:
            ui.print(
                _scores_table(
                    f"validation: the newest {valid_size:.0%} of each series' windows",
                    scores,
                    options.arch,
                )
            )
            ui.print(("✓ " if beats else "✗ ") + verdict)


@forecast_app.command("backtest")
def backtest(
    data: DataArg,
    time_col: TimeColOpt,
    target: TargetOpt,
    group_col: GroupColOpt = None,
    covariate: CovariateOpt = None,
    wide: WideOpt = False,
    folds: Annotated[
        int,
        typer.Option(
            "--folds",
            envvar="NNCLI_FOLDS",
            help="Forecast origins, walking forward.",
            rich_help_panel=BACKTEST,
        ),
    ] = 5,
    stride: Annotated[
        int | None,
        typer.Option(
            "--stride",
            envvar="NNCLI_STRIDE",
            help="Steps between origins (default: the horizon).",
            show_default=False,
            rich_help_panel=BACKTEST,
        ),
    ] = None,
    window: Annotated[
        str,
        typer.Option(
            "--window",
            envvar="NNCLI_WINDOW",
            help="expanding (all history) or fixed (--train-window rows).",
            rich_help_panel=BACKTEST,
        ),
    ] = "expanding",
    train_window: Annotated[
        int | None,
        typer.Option(
            "--train-window",
            envvar="NNCLI_TRAIN_WINDOW",
            help="Rows per series for --window fixed.",
            rich_help_panel=BACKTEST,
        ),
    ] = None,
    retrain_every: Annotated[
        int,
        typer.Option(
            "--retrain-every",
            envvar="NNCLI_RETRAIN_EVERY",
            help="Retrain at every N-th fold (mimics a scheduled retrain).",
            rich_help_panel=BACKTEST,
        ),
    ] = 1,
    season: Annotated[
        int | None,
        typer.Option(
            "--season",
            envvar="NNCLI_SEASON",
            help="Season length for the seasonal-naive baseline and MASE (e.g. 5 for weekdays).",
            rich_help_panel=BACKTEST,
        ),
    ] = None,
    fail_if_worse_than_naive: Annotated[
        bool,
        typer.Option(
            "--fail-if-worse-than-naive",
            help="Exit 5 when the network's MASE is not below the naive forecast's.",
            rich_help_panel=BACKTEST,
        ),
    ] = False,
    max_mase: Annotated[
        float | None,
        typer.Option(
            "--max-mase",
            envvar="NNCLI_MAX_MASE",
            help="Exit 5 when the network's backtest MASE is above this.",
            show_default=False,
            rich_help_panel=BACKTEST,
        ),
    ] = None,
    arch: ArchOpt = "lstm",
    lookback: LookbackOpt = 60,
    horizon: HorizonOpt = 5,
    transform: TransformOpt = "log-return",
    hidden_size: HiddenSizeOpt = 64,
    layers: LayersOpt = 1,
    dropout: DropoutOpt = 0.0,
    quantiles: QuantilesOpt = "0.1,0.5,0.9",
    epochs: EpochsOpt = 30,
    batch_size: BatchOpt = None,
    lr: LrOpt = 1e-3,
    weight_decay: WeightDecayOpt = 1e-4,
    patience: PatienceOpt = 5,
    valid_size: ValidOpt = 0.15,
    device: DeviceOpt = "cpu",
    seed: SeedOpt = 0,
    plot: PlotOpt = None,
    sep: SepOpt = None,
    encoding: EncodingOpt = "utf-8",
    json: JsonOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Walk-forward backtest against naive, seasonal-naive and drift forecasts."""
    with command_session(json, quiet, debug) as ui:
        from nncli.errors import QualityGateError
        from nncli.forecasting.backtest import BacktestOptions, walk_forward
        from nncli.forecasting.series import load_panel

        options = _options(
            time_col,
            target,
            group_col,
            covariate,
            wide,
            arch,
            lookback,
            horizon,
            transform,
            hidden_size,
            layers,
            dropout,
            quantiles,
            epochs,
            batch_size,
            lr,
            weight_decay,
            patience,
            valid_size,
            device,
            seed,
        )
        backtest_options = BacktestOptions(
            folds, stride, window, train_window, retrain_every, season
        )
        backtest_options.validate(horizon)
        if plot is not None:
            from nncli.plots import check_plot_path

            check_plot_path(plot, data)
        panel = load_panel(data, options.panel, csv_options(sep, encoding), reporter=ui)
        report = walk_forward(panel, options, backtest_options, reporter=ui)
        if plot is not None:
            from nncli.plots import interval_label, plot_backtest

            plot_backtest(
                report.forecasts,
                plot,
                arch=options.arch,
                panel=panel,
                interval=interval_label(options.quantiles),
            )
            ui.info(f"wrote {plot}")
        if json:
            ui.emit_json({"ok": True, **report.to_dict()})
        else:
            _render_backtest(ui, report, options)
        if fail_if_worse_than_naive and not report.beats_naive:
            raise QualityGateError(f"quality gate failed: {report.verdict}")
        network_mase = report.overall["network"]["mase"]
        if max_mase is not None and network_mase > max_mase:
            raise QualityGateError(
                f"quality gate failed: backtest MASE {network_mase:.3f} > --max-mase {max_mase:g}"
            )


def _render_backtest(ui: Ui, report: Any, options: ForecastOptions) -> None:
    title = (
        f"walk-forward backtest: {len(report.per_fold)} folds × horizon {options.horizon}, levels"
    )
    ui.print(_scores_table(title, report.overall, report.arch))
    network = report.overall["network"]
    if "directional_accuracy" in network:
        ui.print(
            f"direction: {network['directional_accuracy']:.1%} hits vs 50% (p={network['direction_p_vs_50']:.3f}) "
            f"and vs always-up {network['always_up_rate']:.1%} (p={network['direction_p_vs_always_up']:.3f}); "
            f"interval coverage {network.get('coverage', float('nan')):.1%} "
            f"(nominal {options.quantiles[-1] - options.quantiles[0]:.0%})"
        )
    rows = [
        [
            fold["fold"],
            fold["origin"][:10],
            fold["retrained"],
            fold["scores"]["network"]["mase"],
            fold["scores"]["naive"]["mase"],
        ]
        for fold in report.per_fold
    ]
    ui.print(
        make_table(
            "per fold (MASE)",
            ["fold", "origin", "retrained", report.arch.upper(), "naive"],
            rows,
            numeric_from=3,
        )
    )
    rows = [
        [
            name,
            s["network"]["mase"],
            s["naive"]["mase"],
            s["drift"]["mase"],
            s["network"].get("coverage"),
        ]
        for name, s in report.per_series.items()
    ]
    ui.print(
        make_table(
            "per series (MASE)", ["series", report.arch.upper(), "naive", "drift", "coverage"], rows
        )
    )
    ui.print(("✓ " if report.beats_naive else "✗ ") + report.verdict)


@forecast_app.command("predict")
def predict(
    model: Annotated[
        Path,
        typer.Argument(help="Model file written by 'nncli forecast train'.", show_default=False),
    ],
    data: DataArg,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            envvar="NNCLI_OUTPUT",
            help="CSV file for the forecasts (atomic) (default: stdout).",
            show_default=False,
        ),
    ] = None,
    append: Annotated[
        Path | None,
        typer.Option(
            "--append",
            envvar="NNCLI_APPEND",
            help="Forecast history CSV: add rows not yet there, keyed by (series, origin, step).",
            show_default=False,
        ),
    ] = None,
    max_age: Annotated[
        str | None,
        typer.Option(
            "--max-age",
            envvar="NNCLI_MAX_AGE",
            help="Refuse (exit 6) when the newest row is older than this (days, or 36h, 3d, 2w).",
            show_default=False,
        ),
    ] = None,
    as_of: Annotated[
        datetime | None,
        typer.Option(
            "--as-of",
            envvar="NNCLI_AS_OF",
            help="The 'now' for --max-age (default: the current time).",
            show_default=False,
        ),
    ] = None,
    plot: PlotOpt = None,
    sep: SepOpt = None,
    encoding: EncodingOpt = "utf-8",
    json: JsonOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Forecast the next horizon from the newest data, on each series' own calendar."""
    with command_session(json, quiet, debug) as ui:
        import sys

        from nncli.files import atomic_writer, check_output_path
        from nncli.forecasting.model import load_forecast_model
        from nncli.forecasting.predict import (
            append_history,
            check_freshness,
            forecast_next,
            parse_age,
        )
        from nncli.forecasting.series import PanelSpec, load_panel

        for path in (output, append):
            if path is not None:
                check_output_path(path, data, model)
        if plot is not None:
            from nncli.plots import check_plot_path

            check_plot_path(plot, data, model)
        loaded = load_forecast_model(model)
        spec = PanelSpec(**loaded.metadata["panel"])
        panel = load_panel(data, spec, csv_options(sep, encoding), reporter=ui)
        if max_age is not None:
            check_freshness(panel, parse_age(max_age), as_of or datetime.now())
        forecasts = forecast_next(loaded, panel, reporter=ui)
        added = None
        if append is not None:
            added = append_history(append, forecasts)
            ui.info(f"{append}: added {added} new row(s) (idempotent per series, origin and step)")
        if output is not None:
            with atomic_writer(output) as handle:
                forecasts.to_csv(handle, index=False, float_format="%.10g", lineterminator="\n")
            ui.info(f"wrote {len(forecasts)} forecast row(s) to {output}")
        if plot is not None:  # after the forecasts are safely written
            from nncli.plots import interval_label, plot_forecast

            plot_forecast(forecasts, panel, plot, interval=interval_label(loaded.quantiles))
            ui.info(f"wrote {plot}")
        if json:
            import json as json_module

            ui.emit_json(
                {
                    "ok": True,
                    "model_id": loaded.metadata["model_id"],
                    "appended": added,
                    "forecasts": json_module.loads(forecasts.to_json(orient="records")),
                }
            )
        elif output is None:
            forecasts.to_csv(sys.stdout, index=False, float_format="%.10g", lineterminator="\n")


def register(app: typer.Typer) -> None:
    """Add the forecast sub-commands."""
    app.add_typer(forecast_app, name="forecast")
