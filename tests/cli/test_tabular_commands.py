"""The tabular commands through Typer's CliRunner: stdout data, stderr people, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from nncli.cli import app
from nncli.errors import ExitCode
from nncli.tabular.model import load_tabular_model
from tests.conftest import FAST

ANSI_ESCAPE = "\x1b["


@pytest.mark.slow
def test_every_command_has_help(cli) -> None:
    import typer

    group = typer.main.get_command(app)
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        assert command.help, f"{name} has no help text"
        result = cli(name, "--help")
        assert "Usage" in result.stdout


def test_inspect_table_and_json(cli, sample_data: Path) -> None:
    result = cli("inspect", sample_data / "penguins.csv", "--target", "species")
    assert "bill_length_mm" in result.stdout and "categorical" in result.stdout
    assert "Adelie" in result.stdout and "44.2%" in result.stdout
    assert ANSI_ESCAPE not in result.stdout + result.stderr  # not a TTY: no colour codes
    document = cli.json("inspect", sample_data / "penguins.csv", "--target", "species")
    kinds = {c["name"]: c["kind"] for c in document["columns"]}
    assert kinds == {
        "species": "categorical",
        "island": "categorical",
        "bill_length_mm": "numeric",
        "bill_depth_mm": "numeric",
        "flipper_length_mm": "numeric",
        "body_mass_g": "numeric",
        "sex": "categorical",
        "year": "numeric",
    }
    missing = {c["name"]: c["missing"] for c in document["columns"]}
    assert missing["sex"] == 11 and missing["body_mass_g"] == 2
    assert document["target"]["task"] == "classification"
    assert document["target"]["classes"] == {"Adelie": 152, "Gentoo": 124, "Chinstrap": 68}


def test_inspect_warns_about_ids_constants_and_leakage(cli, tmp_path: Path) -> None:
    rows = 200
    frame = pd.DataFrame(
        {
            "customer_id": range(1000, 1000 + rows),
            "plan": ["basic", "pro"] * (rows // 2),
            "always": ["x"] * rows,
            "score": [float(i % 17) for i in range(rows)],
            "churned": ["yes" if i % 3 == 0 else "no" for i in range(rows)],
        }
    )
    frame["churn_copy"] = frame["churned"].map({"yes": 1, "no": 0})
    path = tmp_path / "churn.csv"
    frame.to_csv(path, index=False)
    document = cli.json("inspect", path, "--target", "churned")
    text = " ".join(document["warnings"])
    assert "'customer_id' looks like an ID" in text
    assert "'always' is constant" in text
    assert "possible leakage: column 'churn_copy'" in text
    assert (
        "'score'" not in text.split("possible leakage")[1] if "possible leakage" in text else True
    )


@pytest.mark.slow
def test_train_json_is_one_document_and_saves_a_model(
    cli, sample_data: Path, tmp_path: Path
) -> None:
    out = tmp_path / "m.nncli"
    result = cli(
        "train", sample_data / "penguins.csv", "--target", "species", "--out", out, "--json", *FAST
    )
    document = json.loads(result.stdout)  # raises if stdout holds anything but one JSON document
    assert document["ok"] is True and document["model_path"] == str(out)
    assert document["task"] == "classification"
    assert set(document["baselines"]) == {
        "majority class",
        "logistic regression",
        "gradient boosting",
    }
    assert "verdict" in document and document["metrics"]["test"]["accuracy"] > 0.8
    assert out.is_file()
    assert "task: classification" in result.stderr and "saved" in result.stderr


def test_train_renders_baselines_and_verdict(cli, sample_data: Path, tmp_path: Path) -> None:
    result = cli(
        "train",
        sample_data / "autompg.csv",
        "--target",
        "mpg",
        "--drop",
        "name",
        "--out",
        tmp_path / "m.nncli",
        *FAST,
    )
    assert "network (TABM)" in result.stdout
    assert "mean" in result.stdout and "linear regression" in result.stdout
    assert "The network" in result.stdout
    assert "8 row(s) with a missing 'mpg' were left out" in result.stderr


@pytest.mark.slow
def test_quiet_silences_stderr(cli, sample_data: Path, tmp_path: Path) -> None:
    result = cli(
        "train",
        sample_data / "penguins.csv",
        "--target",
        "species",
        "--quiet",
        "--out",
        tmp_path / "m.nncli",
        *FAST,
    )
    assert result.stderr == ""
    assert "network (TABM)" in result.stdout


def test_evaluate_classification_and_regression(
    cli, penguins_model: Path, autompg_model: Path, sample_data: Path
) -> None:
    document = cli.json("evaluate", penguins_model, sample_data / "penguins.csv")
    assert {"accuracy", "balanced_accuracy", "f1_macro", "roc_auc", "log_loss"} <= set(
        document["metrics"]
    )
    assert (
        len(document["confusion_matrix"]) == 3
        and sum(map(sum, document["confusion_matrix"])) == 344
    )
    assert document["per_class"]["Gentoo"]["support"] == 124
    table = cli("evaluate", penguins_model, sample_data / "penguins.csv").stdout
    assert "confusion matrix" in table and "Chinstrap" in table
    # The training verdict, naming the best baseline on the model's own test split.
    verdict = load_tabular_model(penguins_model).metadata["metrics"]["verdict"]
    expected = " ".join(f"at training, on its test split: {verdict}".split())
    assert expected in " ".join(table.split())
    document = cli.json("evaluate", autompg_model, sample_data / "autompg.csv")
    assert set(document["metrics"]) == {"rmse", "mae", "r2", "mape"} and document["rows"] == 398


def test_predict_to_stdout_and_file(
    cli, penguins_model: Path, sample_data: Path, tmp_path: Path
) -> None:
    result = cli("predict", penguins_model, sample_data / "penguins.csv", "--proba")
    lines = result.stdout.splitlines()
    assert lines[0] == "prediction,proba_Adelie,proba_Chinstrap,proba_Gentoo"
    assert len(lines) == 345
    out = tmp_path / "p.csv"
    cli("predict", penguins_model, sample_data / "penguins.csv", "-o", out)
    written = pd.read_csv(out)
    assert list(written.columns) == ["prediction"] and len(written) == 344
    assert (
        written["prediction"] == pd.read_csv(sample_data / "penguins.csv")["species"]
    ).mean() > 0.9
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.slow
def test_predict_keeps_id_columns_and_row_order(cli, tmp_path: Path, sample_data: Path) -> None:
    frame = pd.read_csv(sample_data / "penguins.csv")
    frame.insert(0, "penguin_id", range(5000, 5000 + len(frame)))
    data = tmp_path / "with_ids.csv"
    frame.to_csv(data, index=False)
    model = tmp_path / "m.nncli"
    cli("train", data, "--target", "species", "--out", model, *FAST)
    shuffled = frame.sample(frac=1.0, random_state=1)
    shuffled_path = tmp_path / "shuffled.csv"
    shuffled.drop(columns=["species"]).to_csv(shuffled_path, index=False)
    result = cli("predict", model, shuffled_path)
    written = pd.read_csv(__import__("io").StringIO(result.stdout))
    assert list(written.columns) == ["penguin_id", "prediction"]
    assert written["penguin_id"].tolist() == shuffled["penguin_id"].tolist()


def test_predict_validates_input_against_the_schema(
    cli, penguins_model: Path, sample_data: Path, tmp_path: Path
) -> None:
    frame = pd.read_csv(sample_data / "penguins.csv").head(20)
    missing = tmp_path / "missing.csv"
    frame.drop(columns=["island"]).to_csv(missing, index=False)
    result = cli("predict", penguins_model, missing, code=ExitCode.BAD_DATA)
    assert "column 'island' is missing" in result.stderr and result.stdout == ""

    extra = frame.assign(colour="blue", island=["Atlantis"] * 3 + list(frame["island"][3:]))
    extra_path = tmp_path / "extra.csv"
    extra.to_csv(extra_path, index=False)
    result = cli("predict", penguins_model, extra_path)
    assert "ignoring 1 column(s) the model does not use: colour" in result.stderr
    assert "column 'island': 3 row(s) hold categories unseen in training" in result.stderr
    assert len(result.stdout.splitlines()) == 21

    text = frame.astype({"body_mass_g": "object"})
    text.loc[7, "body_mass_g"] = "heavy"
    text_path = tmp_path / "text.csv"
    text.to_csv(text_path, index=False)
    result = cli("predict", penguins_model, text_path, code=ExitCode.BAD_DATA)
    assert "column 'body_mass_g' holds text 'heavy' at data row 8 (line 9)" in result.stderr


@pytest.mark.slow
def test_same_seed_gives_byte_identical_predictions(cli, sample_data: Path, tmp_path: Path) -> None:
    outputs = []
    for run in range(2):
        model = tmp_path / f"m{run}.nncli"
        cli(
            "train",
            sample_data / "penguins.csv",
            "--target",
            "species",
            "--out",
            model,
            "--seed",
            "7",
            *FAST,
        )
        predictions = tmp_path / f"p{run}.csv"
        cli("predict", model, sample_data / "penguins.csv", "--proba", "-o", predictions)
        outputs.append(predictions.read_bytes())
    assert outputs[0] == outputs[1]


@pytest.mark.slow
def test_flags_beat_env_beat_config_file(cli, sample_data: Path, tmp_path: Path) -> None:
    from nncli.artifacts import read_metadata

    config = tmp_path / "nncli.toml"
    config.write_text('seed = 3\n[train]\nepochs = 3\nhidden = [8, 4]\ntarget = "species"\n')
    out = tmp_path / "m.nncli"
    base = ["train", sample_data / "penguins.csv", "--out", out, "--config", config]
    cli(*base)
    training = read_metadata(out)[0]["training"]
    assert training["epochs"] == 3 and training["seed"] == 3
    assert read_metadata(out)[0]["architecture"]["hidden_sizes"] == [8, 4]
    cli(*base, env={"NNCLI_EPOCHS": "4"})
    assert read_metadata(out)[0]["training"]["epochs"] == 4
    cli(*base, "--epochs", "5", env={"NNCLI_EPOCHS": "4"})
    assert read_metadata(out)[0]["training"]["epochs"] == 5


def test_config_file_errors_are_usage_errors(cli, sample_data: Path, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("[train]\nepoch = 3\n")
    result = cli(
        "train",
        sample_data / "penguins.csv",
        "-t",
        "species",
        "--config",
        config,
        code=ExitCode.USAGE,
    )
    assert "unknown option 'epoch'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    config.write_text("[train\n")
    result = cli(
        "train",
        sample_data / "penguins.csv",
        "-t",
        "species",
        "--config",
        config,
        code=ExitCode.USAGE,
    )
    assert "invalid TOML" in result.stderr


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (
            ["train", "{data}", "--target", "species", "--epochs", "-1"],
            ExitCode.USAGE,
            "--epochs must be at least 1",
        ),
        (
            ["train", "{data}", "--target", "species", "--batch-size", "0"],
            ExitCode.USAGE,
            "--batch-size must be at least 1",
        ),
        (
            ["train", "{data}", "--target", "species", "--hidden", "a,b"],
            ExitCode.USAGE,
            "not a comma-separated list",
        ),
        (
            ["train", "{data}", "--target", "species", "--task", "ranking"],
            ExitCode.USAGE,
            "--task must be one of",
        ),
        (
            ["train", "{data}", "--target", "species", "--device", "cuda:0"],
            ExitCode.USAGE,
            "CUDA is not available",
        ),
        (
            ["train", "{data}", "--target", "species", "--out", "{data}"],
            ExitCode.USAGE,
            "refusing to overwrite the data",
        ),
        (
            ["train", "{data}", "--target", "species", "--out", "/nonexistent/dir/m.nncli"],
            ExitCode.USAGE,
            "does not exist",
        ),
        (["train", "{data}", "--nope"], ExitCode.USAGE, "No such option"),
        (["train", "{data}", "--target", "Species"], ExitCode.BAD_DATA, "did you mean 'species'?"),
        (
            ["train", "no_such.csv", "--target", "species"],
            ExitCode.BAD_DATA,
            "no_such.csv: no such data file",
        ),
        (["evaluate", "{data}", "{data}"], ExitCode.BAD_MODEL, "not an nncli model file"),
        (["predict", "missing.nncli", "{data}"], ExitCode.BAD_MODEL, "no such model file"),
    ],
)
def test_errors_are_one_line_with_documented_codes(
    cli, sample_data: Path, args, code, fragment
) -> None:
    data = str(sample_data / "penguins.csv")
    before = (sample_data / "penguins.csv").read_bytes()
    result = cli(*[a.replace("{data}", data) for a in args], code=code)
    assert fragment in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert (sample_data / "penguins.csv").read_bytes() == before


def test_json_errors_are_one_json_document(cli, tmp_path: Path) -> None:
    result = cli("inspect", tmp_path / "nothing.csv", "--json", code=ExitCode.BAD_DATA)
    document = json.loads(result.stdout)
    assert (
        document["ok"] is False
        and document["exit_code"] == 3
        and "no such data file" in document["error"]
    )


def test_unexpected_errors_exit_1_and_debug_shows_traceback(
    cli, sample_data: Path, monkeypatch
) -> None:
    import nncli.data.schema

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(nncli.data.schema, "inspect_table", broken)
    result = cli("inspect", sample_data / "penguins.csv", code=ExitCode.UNEXPECTED)
    assert "unexpected RuntimeError: boom" in result.stderr and "bug in nncli" in result.stderr
    assert "Traceback" not in result.stderr
    result = cli("inspect", sample_data / "penguins.csv", "--debug", code=None)
    assert result.exit_code == 1 and isinstance(result.exception, RuntimeError)


def test_keyboard_interrupt_exits_130_without_a_model_file(
    cli, sample_data: Path, tmp_path: Path, monkeypatch
) -> None:
    import nncli.training.tabm_fit

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(nncli.training.tabm_fit, "ensemble_loss", interrupted)
    out = tmp_path / "m.nncli"
    result = cli(
        "train",
        sample_data / "penguins.csv",
        "-t",
        "species",
        "--out",
        out,
        code=ExitCode.INTERRUPTED,
    )
    assert "interrupted" in result.stderr
    assert not out.exists() and not list(tmp_path.iterdir())
