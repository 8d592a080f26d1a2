"""`nncli demo`: the whole tabular journey on the bundled sample data, offline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nncli.cli.options import command
from nncli.output import Ui


def find_sample_data() -> Path | None:
    """The repository's sample_data/ folder, when nncli runs from a checkout."""
    candidate = Path(__file__).resolve().parents[2] / "sample_data"
    return candidate if (candidate / "penguins.csv").is_file() else None


def demo(
    ui: Ui,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Folder holding penguins.csv and autompg.csv (default: the checkout's sample_data/).",
            show_default=False,
        ),
    ] = None,
    out_dir: Annotated[
        Path,
        typer.Option("--out-dir", help="Where the demo writes its model files and predictions."),
    ] = Path("nncli-demo"),
    epochs: Annotated[int, typer.Option("--epochs", help="Maximum epochs per model.")] = 150,
) -> None:
    """Inspect, train, evaluate, predict and forecast on the sample data, offline.

    Examples:
      nncli demo --out-dir demo
    """
    from nncli.cli.tabular import render_evaluation, render_inspect, render_train
    from nncli.data.loading import read_csv
    from nncli.data.schema import inspect_table
    from nncli.errors import UsageError
    from nncli.files import atomic_writer
    from nncli.tabular.evaluate import evaluate_tabular
    from nncli.tabular.model import load_tabular_model, save_tabular_model
    from nncli.tabular.options import TabularOptions
    from nncli.tabular.predict import predict_tabular
    from nncli.tabular.train import train_tabular
    from nncli.training.loop import TrainingConfig

    source = data_dir or find_sample_data()
    if source is None or not (source / "penguins.csv").is_file():
        raise UsageError(
            "sample data not found",
            hint="pass --data-dir pointing at nncli's sample_data/ folder",
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, target in (("penguins", "species"), ("autompg", "mpg")):
        data = source / f"{name}.csv"
        ui.print(f"\n[bold]== {name}.csv: predict {target!r} ==[/bold]")
        ui.print(f"$ nncli inspect {data} --target {target}")
        report = inspect_table(read_csv(data), data, target)
        render_inspect(ui, report)
        model_path = out_dir / f"{name}.nncli"
        ui.print(f"$ nncli train {data} --target {target} --out {model_path}")
        options = TabularOptions(
            target=target,
            drop=["name"] if name == "autompg" else [],
            training=TrainingConfig(epochs=epochs, seed=0),
        )
        trained = train_tabular(data, options, reporter=ui)
        save_tabular_model(model_path, trained.model)
        render_train(ui, trained)
        loaded = load_tabular_model(model_path)
        ui.print(f"$ nncli evaluate {model_path} {data}")
        render_evaluation(
            ui, evaluate_tabular(loaded, data, reporter=ui), loaded.metadata["metrics"]
        )
        predictions = out_dir / f"{name}-predictions.csv"
        ui.print(f"$ nncli predict {model_path} {data} -o {predictions} --proba")
        result = predict_tabular(loaded, data, proba=True, reporter=ui)
        with atomic_writer(predictions) as handle:
            result.to_csv(handle, index=False, float_format="%.7g", lineterminator="\n")
        ui.print(f"wrote {len(result)} predictions to {predictions}; first rows:")
        ui.print(result.head(5).to_string(index=False))
    _forecast_demo(ui, source, out_dir, epochs=max(1, min(epochs, 8)))
    ui.print(f"\nDone. Model files and predictions are in {out_dir}/.")


def _forecast_demo(ui: Ui, source: Path, out_dir: Path, epochs: int) -> None:
    """A small LSTM on the sample prices: train next to naive, then the next five business days."""
    from nncli.cli.forecast import render_scores
    from nncli.forecasting.model import save_forecast_model
    from nncli.forecasting.options import ForecastOptions, PanelSpec
    from nncli.forecasting.predict import append_history, forecast_next
    from nncli.forecasting.series import load_panel
    from nncli.forecasting.train import train_forecast
    from nncli.training.config import TrainingConfig

    data = source / "stocks.csv"
    ui.print("\n[bold]== stocks.csv: forecast adj_close for 4 tickers ==[/bold]")
    ui.print(
        f"$ nncli forecast train {data} --time-col date --target adj_close --group-col ticker "
        f"--arch lstm --lookback 30 --horizon 5 --hidden-size 32 --epochs {epochs}"
    )
    spec = PanelSpec("date", "adj_close", "ticker")
    options = ForecastOptions(
        panel=spec,
        arch="lstm",
        lookback=30,
        horizon=5,
        hidden_size=32,
        training=TrainingConfig(epochs=epochs, patience=3, seed=0),
    )
    panel = load_panel(data, spec, reporter=ui)
    report = train_forecast(panel, options, reporter=ui, data_path=data)
    title = "validation: the newest 15% of each series' windows"
    ui.print(render_scores(title, report.scores, "lstm"))
    model_path = out_dir / "stocks.nncli"
    save_forecast_model(model_path, report.model)
    history = out_dir / "forecast-history.csv"
    ui.print(f"$ nncli forecast predict {model_path} {data} --append {history}")
    forecasts = forecast_next(report.model, panel, reporter=ui)
    added = append_history(history, forecasts)
    ui.print(f"appended {added} row(s) to {history}; the next business days for AAPL:")
    ui.print(forecasts[forecasts["series"] == "AAPL"].to_string(index=False))


def register(app: typer.Typer) -> None:
    """Add the demo command."""
    command(app, "demo")(demo)
