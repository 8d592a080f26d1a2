"""Hostile option values and config files: each is refused with exit code 2 and one line that
names where the bad value came from (the flag, the NNCLI_* variable or the config file's key)
and what was expected. Nothing here reaches training: every refusal comes before it.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer

from nncli.cli import app
from nncli.devices import MAX_PARAMETERS
from nncli.errors import ExitCode, UsageError
from nncli.options import check_options, flag_name, spec_of
from tests.robustness.conftest import series_lines, table_lines, write_lines

SEED_RANGE = "--seed must be in [0, 4294967295]"


def refused(
    cli: Any,
    *args: Any,
    fragment: str,
    code: int = ExitCode.USAGE,
    env: dict[str, str] | None = None,
) -> str:
    """Run, expect `code` and exactly one stderr line, the error, holding `fragment`."""
    result = cli(*args, code=code, env=env)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.stderr and result.stdout == ""
    return lines[0]


def last_error(cli: Any, *args: Any, fragment: str, env: dict[str, str] | None = None) -> str:
    """Like `refused`, for commands that print notes (the study, the split) before the error."""
    result = cli(*args, code=ExitCode.USAGE, env=env)
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("error: ") and fragment in line, result.stderr
    assert "Traceback" not in result.stderr
    return line


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("hostile_config")
    return {
        "table": write_lines(folder / "table.csv", table_lines()),
        "series": write_lines(folder / "series.csv", series_lines()),
    }


@pytest.fixture
def config(tmp_path: Path) -> Iterator[Any]:
    """`config(text)`: a config file holding `text`."""
    path = tmp_path / "nncli.toml"

    def write(text: str) -> Path:
        path.write_text(text, encoding="utf-8")
        return path

    yield write


def train(files: dict[str, Path], tmp_path: Path, *extra: Any) -> list[Any]:
    return ["train", files["table"], "--target", "y", "--out", tmp_path / "m.nncli", *extra]


# --- 1. config values of the wrong type: named by file, table, key and expected type --------


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        # TOML's true is a Python int: it used to train for exactly 1 epoch.
        ("[train]\nepochs = true\n", "[train] epochs = true: expected an integer, not a boolean"),
        # A table used to be skipped as if it were a command's table.
        ("[train]\nepochs = {max = 3}\n", "[train] epochs: expected an integer, not a table"),
        ('[train]\nepochs = "ten"\n', '[train] epochs = "ten": expected an integer, not a string'),
        ("epochs = 1.5\n", "epochs = 1.5: expected an integer, not a number"),
        ('[train]\nlr = "fast"\n', '[train] lr = "fast": expected a number, not a string'),
        ('[train]\nclass-weights = "yes"\n', 'class-weights = "yes": expected true or false'),
        ("[train]\nout = 3\n", "[train] out = 3: expected a path (a non-empty string)"),
        ("[train]\ndrop = {a = 1}\n", "[train] drop: expected a list of strings, not a table"),
        ("[train]\ntarget = true\n", "[train] target = true: expected a string, not a boolean"),
    ],
)
def test_config_values_of_the_wrong_type_name_the_file_key_and_type(
    cli, files, config, tmp_path: Path, text: str, fragment: str
) -> None:
    path = config(text)
    line = refused(cli, *train(files, tmp_path, "--config", path), fragment=fragment)
    assert str(path) in line and "NNCLI_" not in line
    assert not (tmp_path / "m.nncli").exists()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[train]\nepochz = 3\n", "[train]: unknown option 'epochz' for 'nncli train'"),
        ("epochz = 3\n", "unknown option 'epochz': no command has it"),
        ("[trian]\nepochs = 3\n", "unknown table [trian]: there is no command 'nncli trian'"),
        ("[forecast.trian]\nepochs = 3\n", "unknown table [forecast.trian]"),
        ("[train.space]\nwidth = 3\n", "unknown table [train.space]"),
        ("[forecast]\nepochs = 3\n", "[forecast] epochs: a group's table holds its commands'"),
        # Another command's table is checked too: a typo there is not left for later.
        ("[predict]\nepochs = 3\n", "unknown option 'epochs' for 'nncli predict'"),
        ("config = 'other.toml'\n", "unknown option 'config'"),
    ],
)
def test_unknown_keys_and_tables_are_refused(
    cli, files, config, tmp_path: Path, text: str, fragment: str
) -> None:
    refused(cli, *train(files, tmp_path, "--config", config(text)), fragment=fragment)


def test_tune_space_values_of_the_wrong_type_are_refused_before_any_trial(
    cli, files, config, tmp_path: Path
) -> None:
    env = {"NNCLI_HOME": str(tmp_path / "home")}
    base = ["tune", files["table"], "--target", "y", "--trials", "1", "--epochs", "1"]
    for text, fragment in [
        ('width = "big"', 'width = "big": expected an integer'),
        ("width = true", "width = true: expected an integer"),
        ('batch_size = ["big", 64]', 'batch_size = "big": expected an integer'),
        ("lr = {low = nan, high = 0.1}", "lr = nan: expected a finite number"),
        ('lr = {low = 0.001, high = 0.1, log = "yes"}', 'log = "yes": expected true or false'),
        ("activation = 3", "activation = 3: expected a string"),
    ]:
        path = config(f"[tune.space]\n{text}\n")
        line = last_error(cli, *base, "--config", path, fragment=fragment, env=env)
        assert f"{path} [tune.space]" in line
    study = tmp_path / "home" / "studies.journal"
    assert not study.exists() or "COMPLETE" not in study.read_text()  # no trial ran


# --- 2. blame: the file, the variable or the flag -----------------------------------------


def test_a_bad_value_is_blamed_on_where_it_came_from(cli, files, config, tmp_path: Path) -> None:
    args = train(files, tmp_path, "--config", config("[train]\nepochs = -3\n"))
    line = refused(cli, *args, fragment="[train] epochs: --epochs must be at least 1, not -3")
    assert "NNCLI_" not in line
    # An empty variable is unset (as in Click): the file's value is still the one blamed.
    line = refused(cli, *args, fragment="[train] epochs: --epochs", env={"NNCLI_EPOCHS": ""})
    assert "NNCLI_" not in line
    # The variable overrides the file, and is blamed for its own bad value.
    refused(
        cli,
        *args,
        fragment="NNCLI_EPOCHS=abc: Invalid value for '--epochs': Input should be a valid integer",
        env={"NNCLI_EPOCHS": "abc"},
    )
    refused(
        cli,
        *args,
        fragment="NNCLI_EPOCHS=-5: --epochs must be at least 1, not -5",
        env={"NNCLI_EPOCHS": "-5"},
    )
    refused(cli, *args, fragment="NNCLI_EPOCHS='1 0': Invalid value", env={"NNCLI_EPOCHS": "1 0"})
    # A flag's bad value names the flag alone: no variable the user never set.
    line = refused(cli, *args, "--epochs", "abc", fragment="Invalid value for '--epochs'")
    assert "NNCLI_" not in line and "env var" not in line


def test_a_parsed_value_is_blamed_on_its_variable_or_key(
    cli, files, config, tmp_path: Path
) -> None:
    predict = ["forecast", "predict", tmp_path / "m.nncli", files["series"]]
    refused(
        cli,
        *predict,
        fragment="NNCLI_MAX_AGE=nan: --max-age 'nan': must be a finite age",
        env={"NNCLI_MAX_AGE": "nan"},
    )
    path = config('[forecast.predict]\nmax-age = "-2d"\n')
    refused(
        cli,
        *predict,
        "--config",
        path,
        fragment=f"{path} [forecast.predict] max-age: --max-age '-2d'",
    )


# --- 3. nan and inf: every float option of every command (one CLI test per command) -------

REQUIRED = {
    "train": ["{table}", "--target", "y"],
    "tune": ["{table}", "--target", "y"],
    "forecast train": ["{series}", "--time-col", "date", "--target", "value"],
    "forecast backtest": ["{series}", "--time-col", "date", "--target", "value"],
    "forecast tune": ["{series}", "--time-col", "date", "--target", "value"],
    "forecast score": ["{series}", "{series}"],
    "forecast run": [
        *("--data", "{series}", "--model", "{tmp}/m.nncli", "--ledger", "{tmp}/l.csv"),
        *("--time-col", "date", "--target", "value"),
    ],
}


def _leaf_commands() -> Iterator[tuple[str, Any]]:
    """(command as typed, its Click command) for every command of the CLI."""

    def walk(group: Any, path: tuple[str, ...]) -> Iterator[tuple[str, Any]]:
        for name, sub in group.commands.items():
            if hasattr(sub, "commands"):
                yield from walk(sub, (*path, name))
            else:
                yield " ".join((*path, name)), sub

    yield from walk(typer.main.get_command(app), ())


def _options_of_type(kind: type) -> list[tuple[str, str]]:
    """(command, flag) for every option of `kind` in every command."""
    return [
        (name, param.opts[0])
        for name, command in _leaf_commands()
        for param in command.params
        if param.param_type_name == "option"
        and getattr(param, "type_descriptor", None).annotation is kind
    ]


FLOAT_OPTIONS = _options_of_type(float)


def test_the_float_options_are_all_known_here() -> None:
    assert {command for command, _ in FLOAT_OPTIONS} <= set(REQUIRED)
    assert len(FLOAT_OPTIONS) >= 20


def required_args(command: str, files: dict[str, Path], tmp_path: Path) -> list[str]:
    fill = {"{table}": str(files["table"]), "{series}": str(files["series"])}
    required = REQUIRED.get(command, ["{table}", "{table}"])  # explain MODEL DATA
    return [fill.get(a, a).replace("{tmp}", str(tmp_path)) for a in required]


FLOAT_COMMANDS = sorted({command for command, _ in FLOAT_OPTIONS})


@pytest.mark.parametrize("command", FLOAT_COMMANDS)
def test_every_command_refuses_nan_and_inf(cli, files, tmp_path: Path, command: str) -> None:
    """Through the command line, one command at a time: its first float option given nan, its
    last -inf. Every float option goes through the same check (`check_options`, before any
    work), which the next test runs for each of them."""
    args = required_args(command, files, tmp_path)
    flags = [flag for name, flag in FLOAT_OPTIONS if name == command]
    for flag, value in dict.fromkeys([(flags[0], "nan"), (flags[-1], "-inf")]):
        refused(
            cli, *command.split(), *args, flag, value, fragment=f"{flag} must be a finite number"
        )


def _built(cls: type) -> Any:
    """An options dataclass with its defaults; a required field gets "x", Path("x") or its
    own dataclass built the same way."""
    hints = typing.get_type_hints(cls)
    required = {}
    for field in dataclasses.fields(cls):
        if field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            hint = hints[field.name]
            dataclass = isinstance(hint, type) and dataclasses.is_dataclass(hint)
            required[field.name] = _built(hint) if dataclass else Path("x") if hint is Path else "x"
    return cls(**required)


def _options_of_command(command: Any) -> list[Any]:
    """The options dataclasses a command's function takes, built by `_built`."""
    module = sys.modules[command.callback.__module__]
    function = getattr(module, command.callback.__name__)  # as written, before `command()`
    return [
        _built(hint)
        for hint in typing.get_type_hints(function).values()
        if isinstance(hint, type) and dataclasses.is_dataclass(hint) and hint.__name__ != "Ui"
    ]


def _declared(options: Any) -> Iterator[tuple[Any, dataclasses.Field[Any]]]:
    """(the object holding it, the field) for every declared option, nested ones included."""
    for field in dataclasses.fields(options):
        value = getattr(options, field.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            yield from _declared(value)
        elif spec_of(field) is not None:
            yield options, field


def test_every_float_option_refuses_nan_and_inf_in_check_options() -> None:
    """Every float option of every command is a declared option, which `check_options` (run
    by every command on its options before any work) refuses as nan, inf or -inf."""
    commands = dict(_leaf_commands())
    for command, flag in FLOAT_OPTIONS:
        for value in (math.nan, math.inf, -math.inf):
            found = [
                (root, holder, field)
                for root in _options_of_command(commands[command])
                for holder, field in _declared(root)
                if flag_name(field) == flag
            ]
            assert len(found) == 1, f"{command} {flag}: not one declared option"
            root, holder, field = found[0]
            object.__setattr__(holder, field.name, value)
            with pytest.raises(UsageError) as caught:
                check_options(root)
            assert caught.value.message == f"{flag} must be a finite number, not {value}"


# --- 4. a network too large for memory ----------------------------------------------------


def test_a_network_too_large_is_refused_before_it_is_allocated(cli, files, tmp_path: Path) -> None:
    out = tmp_path / "m.nncli"
    line = last_error(
        cli,
        *train(files, tmp_path, "--hidden", "100000,100000", "--epochs", "1"),
        fragment="--hidden 100000,100000: the network would have more than 10,00",
    )
    assert "GB to train" in line and f"{MAX_PARAMETERS:,}" in line
    line = last_error(
        cli,
        "forecast",
        "train",
        files["series"],
        *("--time-col", "date", "--target", "value", "--arch", "lstm"),
        *("--hidden-size", "100000", "--out", out),
        fragment="--hidden-size 100000 --layers 1: the network would have more than",
    )
    last_error(
        cli,
        *train(files, tmp_path, "--hidden", str(10**30)),
        fragment=f"--hidden {10**30}: the network would have more than",
    )
    assert not out.exists()


# --- 5. NNCLI_HOME that cannot hold the studies --------------------------------------------


def test_nncli_home_that_is_a_file_is_a_usage_error(cli, files, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.write_text("not a directory")
    env = {"NNCLI_HOME": str(home)}
    refused(cli, "study", "list", fragment=f"{home} is a file, not a directory", env=env)
    last_error(
        cli,
        *("tune", files["table"], "--target", "y", "--trials", "1", "--epochs", "1"),
        fragment="cannot keep the study journal there",
        env=env,
    )
    refused(cli, "study", "list", fragment="Not a directory", env={"NNCLI_HOME": str(home / "sub")})
    assert home.read_text() == "not a directory"


def test_nncli_home_where_no_file_can_be_made_is_a_usage_error(cli, tmp_path: Path) -> None:
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        try:
            (folder / "probe").touch()
        except OSError:
            home = folder
        else:  # root ignores mode bits; /proc takes no new files, even from root
            (folder / "probe").unlink()
            if not Path("/proc/self").is_dir():
                pytest.skip("no directory here refuses new files")
            home = Path("/proc")
        refused(
            cli,
            "study",
            "list",
            fragment="cannot keep the study journal there",
            env={"NNCLI_HOME": str(home)},
        )
    finally:
        folder.chmod(0o755)


# --- 6. --seed: one range for every command -------------------------------------------------


SEED_COMMANDS = sorted({command for command, flag in _options_of_type(int) if flag == "--seed"})


def test_the_seed_commands_are_all_known_here() -> None:
    assert set(SEED_COMMANDS) == {*REQUIRED, "explain"} - {"forecast score"}


@pytest.mark.parametrize("command", SEED_COMMANDS)
def test_every_command_refuses_the_same_seeds(cli, files, tmp_path: Path, command: str) -> None:
    args = required_args(command, files, tmp_path)
    refused(cli, *command.split(), *args, "--seed", "-1", fragment=f"{SEED_RANGE}, not -1")


def test_the_seed_range_is_the_same_from_every_source(cli, files, tmp_path: Path) -> None:
    from nncli.explain import ExplainOptions
    from nncli.options import check_options
    from nncli.training.config import TrainingConfig

    refused(cli, *train(files, tmp_path, "--seed", str(2**32)), fragment=SEED_RANGE)
    refused(
        cli,
        *train(files, tmp_path),
        fragment=f"NNCLI_SEED=-1: {SEED_RANGE}",
        env={"NNCLI_SEED": "-1"},
    )
    for largest in (TrainingConfig(seed=2**32 - 1), ExplainOptions(seed=2**32 - 1)):
        check_options(largest)  # the top of the range is a seed like any other


# --- 7. --max-age: never silently off ------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "age"),
    [
        ("forecast predict", "nan"),
        ("forecast predict", "inf"),
        ("forecast predict", "nanh"),
        ("forecast predict", "-1"),
        ("forecast run", "nan"),
        ("forecast run", "-0.5w"),
    ],
)
def test_max_age_must_be_a_finite_age(cli, files, tmp_path: Path, command: str, age: str) -> None:
    """nan compares False with every age: it used to switch the staleness gate off."""
    if command == "forecast predict":
        args = [str(tmp_path / "m.nncli"), str(files["series"])]
    else:
        args = required_args(command, files, tmp_path)
    refused(
        cli,
        *command.split(),
        *args,
        "--max-age",
        age,
        fragment=f"--max-age {age!r}: must be a finite age, zero or more",
    )


# --- 8. more of the same family --------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (["--epochs", "0"], "--epochs must be at least 1, not 0"),
        (["--epochs", str(10**30)], "--epochs must be at most 9223372036854775807 (2**63-1)"),
        (["--batch-size", "0"], "--batch-size must be at least 1, not 0"),
        (["--patience", "-1"], "--patience must be at least 1, not -1"),
        (["--valid-size", "1.5"], "--valid-size must be in (0, 1), not 1.5"),
        (["--test-size", "0"], "--test-size must be in (0, 1), not 0.0"),
        (["--valid-size", "0.5", "--test-size", "0.45"], "leave less than 10% of the rows"),
        (["--threads", "5000"], "--threads must be in [1, 1024], not 5000"),
        (["--threads", str(10**30)], "--threads must be at most 9223372036854775807"),
        (["--dropout", "1"], "--dropout must be in [0, 1), not 1.0"),
        (["--weight-decay", "-0.1"], "--weight-decay must be zero or positive, not -0.1"),
        (["--lr", "0"], "--lr must be positive, not 0.0"),
    ],
)
def test_impossible_training_settings_are_refused_before_the_data_is_read(
    cli, files, tmp_path: Path, extra: list[str], fragment: str
) -> None:
    refused(cli, *train(files, tmp_path, *extra), fragment=fragment)


def test_tune_timeout_must_be_positive(cli, files, tmp_path: Path) -> None:
    refused(
        cli,
        *("tune", files["table"], "--target", "y", "--timeout", "-1"),
        fragment="--timeout must be positive, not -1.0",
    )


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"[train]\nepochs = 2\nepochs = 3\n", "invalid TOML: Cannot overwrite a value (at line 3"),
        (
            b"[train]\nepochs = 2 3\n",
            "invalid TOML: Expected newline or end of document after a statement (at line 2",
        ),
        (b'[train]\ntarget = "caf\xe9"\n', "the config file is not UTF-8 text"),
        (b"[train\n", "invalid TOML"),
    ],
)
def test_broken_config_files_are_usage_errors(
    cli, files, tmp_path: Path, content: bytes, fragment: str
) -> None:
    path = tmp_path / "broken.toml"
    path.write_bytes(content)
    line = refused(cli, *train(files, tmp_path, "--config", path), fragment=fragment)
    assert str(path) in line


def test_a_config_path_that_is_missing_or_a_directory(cli, files, tmp_path: Path) -> None:
    refused(
        cli,
        *train(files, tmp_path, "--config", tmp_path),
        fragment=f"{tmp_path}: the config file is a directory",
    )
    refused(
        cli,
        *train(files, tmp_path),
        fragment="no.toml: no such config file",
        env={"NNCLI_CONFIG": str(tmp_path / "no.toml")},
    )
