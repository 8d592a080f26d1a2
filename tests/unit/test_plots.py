"""Pictures (`--plot`) and terminal sparklines: valid, sane PNGs written atomically."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from nncli import plots
from nncli.data.schema import inspect_table
from nncli.errors import ExitCode, UsageError
from nncli.forecasting.backtest import FoldForecast
from nncli.forecasting.series import Series
from nncli.output import sparkline

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SAMPLE_DATA = Path(__file__).resolve().parents[2] / "sample_data"


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the IHDR chunk, after checking the PNG signature."""
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_SIGNATURE, f"{path} is not a PNG"
    assert head[12:16] == b"IHDR"
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def assert_picture(path: Path) -> None:
    width, height = png_size(path)
    assert width >= 400 and height >= 300, (width, height)
    assert path.stat().st_size > 10_000
    assert not list(path.parent.glob(".*.tmp")), "a temporary file was left behind"


def history(epochs: int = 30, best: int = 18) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    records = [
        {
            "epoch": e,
            "train_loss": 1 / e + 0.05,
            "valid_loss": 1 / e + 0.08 + (0.01 * (e - best) if e > best else 0),
            "valid_metric": 0.6 + 0.3 * (1 - 1 / e) + rng.normal(0, 0.01),
        }
        for e in range(1, epochs + 1)
    ]
    return {
        "best_epoch": best,
        "epochs_run": epochs,
        "stopped_early": True,
        "metric": "accuracy",
        "epochs": records,
    }


def wave(name: str, length: int = 120, start: str = "2024-01-01") -> Series:
    t = np.arange(length)
    levels = 100 + 5 * np.sin(t / 5) + 0.1 * t
    stamps = pd.bdate_range(start, periods=length)
    return Series(name, stamps, levels, np.zeros((length, 0)))


@pytest.mark.slow
def test_training_curves(tmp_path: Path) -> None:
    path = plots.plot_training(history(), tmp_path / "train.png", title="training MLP")
    assert_picture(path)


def test_confusion_matrix_and_scatter(tmp_path: Path) -> None:
    matrix = [[50, 2, 0], [3, 40, 1], [0, 0, 30]]
    confusion = plots.plot_confusion_matrix(
        matrix, ["Adelie", "Chinstrap", "Gentoo"], tmp_path / "cm.png", title="penguins"
    )
    assert_picture(confusion)
    rng = np.random.default_rng(0)
    actual = rng.normal(25, 8, 300)
    scatter = plots.plot_predicted_vs_actual(
        actual,
        actual + rng.normal(0, 2, 300),
        tmp_path / "scatter.png",
        title="mpg",
        target="mpg",
        metrics={"rmse": 2.0, "mae": 1.6, "r2": 0.93},
    )
    assert_picture(scatter)


def test_backtest_and_forecast_small_multiples(tmp_path: Path) -> None:
    panel = [wave("AAA"), wave("BBB")]
    folds = []
    for series in panel:
        for fold, origin in enumerate((100, 105, 110), start=1):
            actual = series.levels[origin + 1 : origin + 6]
            folds.append(
                FoldForecast(
                    fold=fold,
                    series=series.name,
                    origin=series.timestamps[origin].isoformat(),
                    timestamps=[t.isoformat() for t in series.timestamps[origin + 1 : origin + 6]],
                    actual=actual.tolist(),
                    forecast=(actual + 0.3).tolist(),
                    lower=(actual - 2).tolist(),
                    upper=(actual + 2).tolist(),
                    baselines={"naive": [float(series.levels[origin])] * 5},
                )
            )
    backtest = plots.plot_backtest(
        folds, tmp_path / "backtest.png", arch="tcn", panel=panel, interval="80% interval"
    )
    assert_picture(backtest)

    rows = []
    for series in panel:
        stamps = pd.bdate_range(series.timestamps[-1], periods=6)[1:]
        for step, stamp in enumerate(stamps, start=1):
            value = float(series.levels[-1]) + step * 0.2
            rows.append(
                {
                    "series": series.name,
                    "origin": series.timestamps[-1].date().isoformat(),
                    "step": step,
                    "timestamp": stamp.date().isoformat(),
                    "forecast": value,
                    "lower": value - step,
                    "upper": value + step,
                    "model_id": "abc",
                }
            )
    forecast = plots.plot_forecast(pd.DataFrame(rows), panel, tmp_path / "forecast.png")
    assert_picture(forecast)


@pytest.mark.slow
def test_inspect_pictures(tmp_path: Path) -> None:
    path = SAMPLE_DATA / "penguins.csv"
    frame = pd.read_csv(path)
    report = inspect_table(frame, path, "species")
    assert_picture(plots.plot_columns(frame, report, tmp_path / "columns.png"))
    panel = [wave("AAA", 300), wave("BBB", 250, "2024-03-01")]
    assert_picture(plots.plot_series(panel, tmp_path / "series.png", value="close", source="x"))


def test_a_failed_drawing_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from matplotlib.figure import Figure

    target = tmp_path / "train.png"
    target.write_bytes(b"the previous picture")

    def broken_savefig(self: Figure, handle: Any, **kwargs: Any) -> None:
        handle.write(PNG_SIGNATURE + b"half a picture")
        raise RuntimeError("disk full")

    monkeypatch.setattr(Figure, "savefig", broken_savefig)
    with pytest.raises(RuntimeError, match="disk full"):
        plots.plot_training(history(), target, title="x")
    assert target.read_bytes() == b"the previous picture"
    with pytest.raises(RuntimeError):
        plots.plot_training(history(), tmp_path / "new.png", title="x")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.png"]


def test_missing_matplotlib_is_a_usage_error_with_the_install_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` now fails
    with pytest.raises(UsageError) as caught:
        plots.check_plot_path(tmp_path / "x.png")
    assert "nncli[plot]" in caught.value.one_line()
    assert caught.value.exit_code == ExitCode.USAGE
    assert "\n" not in caught.value.one_line()


def test_plot_path_checks(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="picture type"):
        plots.check_plot_path(tmp_path / "picture.jpg")
    with pytest.raises(UsageError, match="does not exist"):
        plots.check_plot_path(tmp_path / "missing" / "picture.png")
    data = tmp_path / "data.png"
    data.write_bytes(b"x")
    with pytest.raises(UsageError, match="input file"):
        plots.check_plot_path(data, data)
    assert plots.check_plot_path(tmp_path / "ok.svg") == tmp_path / "ok.svg"


@pytest.mark.slow
def test_svg_follows_the_suffix(tmp_path: Path) -> None:
    path = plots.plot_training(history(5, 5), tmp_path / "train.svg", title="x")
    assert path.read_text(encoding="utf-8").lstrip().startswith("<?xml")


def test_sparkline() -> None:
    assert sparkline([]) == ""
    assert sparkline([1, 2, 3, 4, 5, 6, 7, 8]) == "▁▂▃▄▅▆▇█"
    assert sparkline([3.0, 3.0, 3.0]) == "▁▁▁"
    assert sparkline([0, float("nan"), 1, float("inf")]) == "▁ █ "
    assert sparkline([5, 4, 3, 2, 1]) == "█▆▅▃▁"
    assert len(sparkline(range(200), width=40)) == 40
    assert sparkline(range(200), width=8) == "▁▂▃▄▅▆▇█"
    assert sparkline([5, 10], floor=0) == "▅█"


def test_distribution_sparklines() -> None:
    frame = pd.DataFrame({"x": np.r_[np.zeros(90), np.ones(10)], "y": ["a"] * 100})
    shapes = plots.distribution_sparklines(frame, ["x"], bins=4)
    assert shapes == {"x": "█▁▁▂"}


@pytest.mark.slow
def test_cli_plots(
    cli: Any, penguins_model: Path, autompg_model: Path, sample_data: Path, tmp_path: Path
) -> None:
    confusion = tmp_path / "confusion.png"
    result = cli("evaluate", penguins_model, sample_data / "penguins.csv", "--plot", confusion)
    assert f"wrote {confusion}" in result.stderr
    assert_picture(confusion)
    scatter = tmp_path / "scatter.png"
    cli("evaluate", autompg_model, sample_data / "autompg.csv", "--plot", scatter)
    assert_picture(scatter)
    columns = tmp_path / "columns.png"
    cli("inspect", sample_data / "autompg.csv", "--plot", columns)
    assert_picture(columns)
    series = tmp_path / "series.png"
    cli(
        "inspect",
        sample_data / "stocks.csv",
        "--time-col",
        "date",
        "--group-col",
        "ticker",
        "--target",
        "adj_close",
        "--plot",
        series,
    )
    assert_picture(series)


@pytest.mark.slow
def test_cli_train_plot_and_bad_plot_paths(cli: Any, sample_data: Path, tmp_path: Path) -> None:
    curves = tmp_path / "curves.png"
    model = tmp_path / "m.nncli"
    data = sample_data / "penguins.csv"
    fast = ["--epochs", "5", "--hidden", "8", "--target", "species", "--out", model]
    cli("train", data, *fast, "--plot", curves)
    assert_picture(curves)
    # A bad --plot fails before any training, as a usage error, and writes nothing.
    result = cli("train", data, *fast, "--plot", tmp_path / "curves.gif", code=2)
    assert "picture type" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    result = cli("inspect", data, "--time-col", "nope", "--plot", tmp_path / "x.png", code=3)
    assert "nope" in result.stderr
    assert not (tmp_path / "x.png").exists()


def test_cli_without_matplotlib(
    cli: Any, sample_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    result = cli(
        "inspect", sample_data / "penguins.csv", "--plot", tmp_path / "x.png", code=ExitCode.USAGE
    )
    assert result.stderr.strip() == (
        "error: --plot needs matplotlib, which is not installed — pip install 'nncli[plot]'"
    )


@pytest.mark.slow
def test_cli_forecast_plots(cli: Any, tmp_path: Path) -> None:
    length = 160
    t = np.arange(length)
    frame = pd.DataFrame(
        {
            "date": pd.bdate_range("2024-01-01", periods=length).strftime("%Y-%m-%d"),
            "value": 100 + 5 * np.sin(t / 4) + 0.05 * t,
        }
    )
    data = tmp_path / "series.csv"
    frame.to_csv(data, index=False)
    common = ["--time-col", "date", "--target", "value", "--arch", "tcn", "--lookback", "10"]
    small = [*common, "--horizon", "3", "--hidden-size", "4", "--epochs", "2"]
    backtest = tmp_path / "backtest.png"
    cli("forecast", "backtest", data, *small, "--folds", "2", "--plot", backtest)
    assert_picture(backtest)
    model, curves, fan = tmp_path / "m.nncli", tmp_path / "curves.png", tmp_path / "fan.png"
    cli("forecast", "train", data, *small, "--out", model, "--plot", curves)
    assert_picture(curves)
    history = tmp_path / "history.csv"
    cli("forecast", "predict", model, data, "--append", history, "--plot", fan)
    assert_picture(fan)
    assert len(pd.read_csv(history)) == 3
