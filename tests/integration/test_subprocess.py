"""The installed `nncli` as a real process: streams, signals, import cost."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import FAST

NNCLI = shutil.which("nncli", path=str(Path(sys.executable).parent)) or shutil.which("nncli")


def run(*args, env=None, **kwargs) -> subprocess.CompletedProcess[str]:
    base = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), "NO_COLOR": "1"}
    return subprocess.run(
        [NNCLI, *map(str, args)],
        capture_output=True,
        text=True,
        env={**base, **(env or {})},
        stdin=subprocess.DEVNULL,
        timeout=300,
        **kwargs,
    )


pytestmark = pytest.mark.skipif(NNCLI is None, reason="the nncli console script is not installed")


@pytest.mark.slow
def test_train_and_predict_through_a_real_process(sample_data: Path, tmp_path: Path) -> None:
    model = tmp_path / "m.nncli"
    trained = run(
        "train",
        sample_data / "penguins.csv",
        "--target",
        "species",
        "--out",
        model,
        *FAST,
        cwd=tmp_path,
    )
    assert trained.returncode == 0, trained.stderr
    assert "network (TABM)" in trained.stdout and "saved" in trained.stderr
    assert "\x1b[" not in trained.stdout + trained.stderr
    predicted = run("predict", model, sample_data / "penguins.csv", cwd=tmp_path)
    assert predicted.returncode == 0
    assert (
        predicted.stdout.splitlines()[0] == "prediction"
        and len(predicted.stdout.splitlines()) == 345
    )
    bad = run("predict", model, tmp_path / "nope.csv")
    assert bad.returncode == 3 and bad.stderr.count("\n") == 1 and bad.stdout == ""
    usage = run("train", "--bogus")
    assert (
        usage.returncode == 2
        and usage.stderr.startswith("error: ")
        and usage.stderr.count("\n") == 1
    )


@pytest.mark.slow
@pytest.mark.parametrize(("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_signal_during_training_leaves_no_model_file(
    sample_data: Path, tmp_path: Path, signum, code
) -> None:
    model = tmp_path / "m.nncli"
    process = subprocess.Popen(
        [
            NNCLI,
            "train",
            str(sample_data / "penguins.csv"),
            "--target",
            "species",
            "--out",
            str(model),
            "--epochs",
            "100000",
            "--patience",
            "100000",
            "--batch-size",
            "8",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "NO_COLOR": "1"},
    )
    deadline = time.monotonic() + 120
    # Wait until training has started (the split note is printed just before the first epoch).
    assert process.stderr is not None
    lines = []
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        lines.append(line)
        if line.startswith("split") or not line:
            break
    time.sleep(1.0)
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == code, "".join(lines) + err
    assert "nothing partial was written" in err and "Traceback" not in err
    assert not model.exists()
    assert list(tmp_path.iterdir()) == []


def test_importing_the_cli_does_not_import_heavy_libraries() -> None:
    code = (
        "import sys, nncli.cli; "
        "print(','.join(m for m in ('torch', 'pandas', 'optuna', 'sklearn', 'numpy') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""


PREDICT_MODULES = """
import atexit, sys
def report():
    sys.stderr.write("MODULES " + ",".join(sorted(m for m in sys.modules if "." not in m)) + "\\n")
    sys.stderr.write("DYNAMO " + str("torch._dynamo" in sys.modules) + "\\n")
atexit.register(report)
sys.argv = ["nncli", *sys.argv[1:]]
from nncli.cli import main
main()
"""


def predict_modules(model: Path, data: Path) -> tuple[set[str], str]:
    done = subprocess.run(
        [sys.executable, "-c", PREDICT_MODULES, "predict", str(model), str(data), "-q"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(done.stderr.split("MODULES ", 1)[1].split("\n", 1)[0].split(",")), done.stderr


@pytest.mark.slow
def test_predict_imports_only_what_it_uses(
    penguins_model: Path, sample_data: Path, tmp_path: Path
) -> None:
    """`nncli predict` of the default network (TabM, for classes and, with piecewise-linear
    embeddings, for regression) and of the plain MLP needs pandas, NumPy and safetensors, not
    torch (their forward passes run in NumPy); a network NumPy does not
    run (here an MLP with GELU) imports torch but not torch._dynamo (1-3 s, pulled in by
    torch.optim and by initialising meta tensors). Never scikit-learn, scipy, optuna,
    matplotlib."""
    heavy = {"sklearn", "scipy", "optuna", "matplotlib", "sympy", "statsmodels"}
    modules, _ = predict_modules(penguins_model, sample_data / "penguins.csv")
    assert {"pandas", "safetensors", "numpy"} <= modules
    assert "torch" not in modules and not modules & heavy
    gelu = tmp_path / "gelu.nncli"
    train = [sys.executable, "-m", "nncli", "train", str(sample_data / "penguins.csv")]
    train += ["-t", "species", "--epochs", "2", "-q"]
    mlp = tmp_path / "mlp.nncli"
    subprocess.run([*train, "--arch", "mlp", "-o", str(mlp)], capture_output=True, check=True)
    modules, _ = predict_modules(mlp, sample_data / "penguins.csv")
    assert "torch" not in modules and not modules & heavy
    regression = tmp_path / "mpg.nncli"
    fit_mpg = [sys.executable, "-m", "nncli", "train", str(sample_data / "autompg.csv")]
    fit_mpg += ["-t", "mpg", "--drop", "name", "--epochs", "2", "-q", "-o", str(regression)]
    subprocess.run(fit_mpg, capture_output=True, check=True)
    modules, _ = predict_modules(regression, sample_data / "autompg.csv")
    assert "torch" not in modules and not modules & heavy
    train += ["--arch", "mlp", "--activation", "gelu", "-o", str(gelu)]
    subprocess.run(train, capture_output=True, check=True)
    modules, stderr = predict_modules(gelu, sample_data / "penguins.csv")
    assert {"torch", "pandas", "safetensors"} <= modules and not modules & heavy
    assert "DYNAMO False" in stderr


@pytest.mark.slow
def test_forecast_predict_does_not_import_torch_dynamo(sample_data: Path, tmp_path: Path) -> None:
    """Loading the N-HITS ensemble builds it on the meta device for the shape check; its
    fixed buffers are made on the CPU, so no torch reference kernel pulls in torch._dynamo
    and sympy (~2 s on every forecast predict before)."""
    model = tmp_path / "prices.nncli"
    train = [sys.executable, "-m", "nncli", "forecast", "train", str(sample_data / "stocks.csv")]
    train += ["--time-col", "date", "-t", "adj_close", "--group-col", "ticker", "--horizon", "5"]
    train += ["--ensemble", "1", "--epochs", "1", "--combine", "none", "-o", str(model), "-q"]
    subprocess.run(train, capture_output=True, check=True)
    predict = ["forecast", "predict", str(model), str(sample_data / "stocks.csv"), "-q"]
    done = subprocess.run(
        [sys.executable, "-c", PREDICT_MODULES, *predict],
        capture_output=True,
        text=True,
        check=True,
    )
    modules = set(done.stderr.split("MODULES ", 1)[1].split("\n", 1)[0].split(","))
    assert "DYNAMO False" in done.stderr and "sympy" not in modules
