"""--precision bf16: mixed precision in the main training loop, recorded in the model file."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nncli.artifacts import read_metadata
from nncli.errors import ExitCode
from nncli.training.loop import check_bf16

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"


def _has_bf16() -> bool:
    try:
        check_bf16(torch.device("cpu"))
    except Exception:
        return False
    return True


needs_bf16 = pytest.mark.skipif(
    not _has_bf16(), reason="this CPU has no hardware bfloat16 (AVX-512 BF16 / AMX)"
)


@needs_bf16
@pytest.mark.parametrize("arch", ["mlp", "tabm"])
def test_bf16_trains_as_well_and_is_recorded(cli, tmp_path: Path, arch: str) -> None:
    out = tmp_path / "bf16.nncli"
    report = cli.json(
        "train", SAMPLE / "penguins.csv", "--target", "species", "--precision", "bf16",
        "--arch", arch, "-o", out,
    )  # fmt: skip
    assert report["metrics"]["test"]["accuracy"] >= 0.94
    assert read_metadata(out)[0]["training"]["precision"] == "bf16"
    # The saved weights are float32 whatever the training precision.
    assert cli("predict", out, SAMPLE / "penguins.csv", "--quiet").stdout.count("\n") == 345


@needs_bf16
def test_bf16_forecaster_trains(cli, tmp_path: Path) -> None:
    out = tmp_path / "f.nncli"
    cli(
        "forecast", "train", SAMPLE / "stocks.csv", "--time-col", "date", "--target",
        "adj_close", "--group-col", "ticker", "--lookback", "20", "--horizon", "5",
        "--epochs", "2", "--precision", "bf16", "--out", out,
    )  # fmt: skip
    assert read_metadata(out)[0]["training"]["precision"] == "bf16"


def test_an_unknown_precision_is_refused(cli) -> None:
    bad = cli("train", SAMPLE / "penguins.csv", "--target", "species", "--precision", "fp16",
              code=ExitCode.USAGE)  # fmt: skip
    assert "--precision must be one of" in bad.stderr
