"""Every `--json` document matches its published JSON Schema, and every command has one.

The schemas live in docs/schemas/<command with dashes>.schema.json (draft 2020-12), with
shared pieces in common.schema.json and the failure document in error.schema.json. The run
below makes each command print its document once (twice where the document has two shapes)
on small settings, in about 30 s; a new command with --json fails these tests until it has a
schema file and a line in RUNS.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from tests.cli.test_help import LEAVES
from tests.conftest import REPO, SAMPLE_DATA, Cli

SCHEMAS = REPO / "docs" / "schemas"
SHARED = {"common", "error"}  # schema files that belong to no one command
# Commands whose --json prints no document of their own, and why.
NO_DOCUMENT = {"demo": "it runs other commands and shows their tables; run those with --json"}
SERIES = "--time-col date --target adj_close --group-col ticker"


def json_commands() -> list[str]:
    """Every command that takes --json, as typed ("forecast train")."""
    return sorted(
        " ".join(path)
        for path, command in LEAVES
        if any("--json" in getattr(param, "opts", []) for param in command.params)
    )


def schema_file(command: str) -> Path:
    return SCHEMAS / f"{command.replace(' ', '-')}.schema.json"


def validator(name: str) -> Draft202012Validator:
    """A validator for docs/schemas/<name>.schema.json, its relative $refs resolved."""
    registry: Registry = Registry().with_resources(
        (path.name, Resource.from_contents(json.loads(path.read_text(encoding="utf-8"))))
        for path in SCHEMAS.glob("*.schema.json")
    )
    return Draft202012Validator({"$ref": f"{name}.schema.json"}, registry=registry)


def problems(name: str, document: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, error.absolute_path))}: {error.message[:300]}"
        for error in validator(name).iter_errors(document)
    ]


# (command, its arguments before --json); {tmp}, {data}, {penguins} and {autompg} are filled in.
SMALL = f"--arch lstm --lookback 20 --horizon 5 --hidden-size 8 --epochs 2 {SERIES}"
RUNS: list[tuple[str, str]] = [
    ("inspect", "{data}/penguins.csv --target species"),
    ("inspect", "{data}/autompg.csv"),
    ("train", "{data}/autompg.csv -t mpg --drop name --epochs 2 -o {tmp}/mpg.nncli"),
    ("evaluate", "{penguins} {data}/penguins.csv"),
    ("evaluate", "{autompg} {data}/autompg.csv"),
    ("predict", "{penguins} {data}/penguins.csv --proba"),
    ("predict", "{autompg} {data}/autompg.csv -o {tmp}/mpg.csv"),
    ("explain", "{penguins} {data}/penguins.csv --repeats 2"),
    ("export", "{penguins} --format torchscript -o {tmp}/penguins.pt"),
    ("forecast train", f"{{tmp}}/recent.csv {SMALL} -o {{tmp}}/prices.nncli"),
    ("forecast backtest", f"{{tmp}}/recent.csv {SMALL} --folds 2"),
    ("explain", "{tmp}/prices.nncli {tmp}/recent.csv --repeats 2"),
    ("forecast predict", "{tmp}/prices.nncli {tmp}/recent.csv"),
    # Forecasts made 5 days back have matured by the newest data: scores, not just {}.
    ("forecast predict", "{tmp}/prices.nncli {tmp}/older.csv --append {tmp}/l.csv"),
    ("forecast score", "{tmp}/l.csv {tmp}/recent.csv --model {tmp}/prices.nncli"),
    (
        "forecast run",
        f"--data {{tmp}}/recent.csv --model {{tmp}}/job.nncli --ledger {{tmp}}/l.csv {SMALL}",
    ),
    (
        "tune",
        "{data}/penguins.csv -t species --trials 2 --epochs 2 --study p --save-best {tmp}/b.nncli",
    ),
    (
        "forecast tune",
        f"{{tmp}}/recent.csv {SERIES} --trials 1 --epochs 1 --config {{tmp}}/small.toml",
    ),
    ("study list", ""),
    ("study show", "p"),
    ("study best", "p"),
    ("study export", "p -o {tmp}/trials.csv"),
]


@pytest.fixture(scope="module")
def run_json(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Any]:
    """Run nncli with --json in a scratch folder holding small price files and a study store."""
    tmp = tmp_path_factory.mktemp("json")
    prices = pd.read_csv(SAMPLE_DATA / "stocks.csv").groupby("ticker").tail(200)
    prices.to_csv(tmp / "recent.csv", index=False)
    prices.groupby("ticker").head(195).to_csv(tmp / "older.csv", index=False)
    # One small network for forecast tune's trial: the search's default space is slow.
    space = 'arch = "lstm"\nlookback = 20\nhidden_size = 8\nlayers = 1\n'
    (tmp / "small.toml").write_text(f"[forecast.tune.space]\n{space}", encoding="utf-8")
    env = {"NNCLI_STORAGE": f"journal:{tmp / 'studies.log'}", "NNCLI_QUIET": "1"}

    def run(line: str, code: int | None = 0, **paths: Path) -> Any:
        fill = {"tmp": tmp, "data": SAMPLE_DATA, **paths}
        args = [arg.format(**fill) for arg in line.split()]
        return Cli()(*args, "--json", env=env, code=code)

    return run


@pytest.fixture(scope="module")
def documents(
    run_json: Callable[..., Any], penguins_model: Path, autompg_model: Path
) -> dict[str, list[Any]]:
    """Each command's --json stdout, parsed (it must be exactly one JSON document)."""
    found: dict[str, list[Any]] = {}
    for command, args in RUNS:
        result = run_json(f"{command} {args}", penguins=penguins_model, autompg=autompg_model)
        found.setdefault(command, []).append(json.loads(result.stdout))
    return found


def test_every_command_with_json_has_a_schema_and_every_schema_a_command() -> None:
    commands = set(json_commands()) - set(NO_DOCUMENT)
    missing = [str(schema_file(c).relative_to(REPO)) for c in sorted(commands)]
    missing = [path for path in missing if not (REPO / path).is_file()]
    assert not missing, f"write a JSON Schema for each command's --json document: {missing}"
    named = {path.name.removesuffix(".schema.json") for path in SCHEMAS.glob("*.schema.json")}
    assert named - SHARED == {c.replace(" ", "-") for c in commands}, "a schema of no command"
    assert set(NO_DOCUMENT) <= set(json_commands())
    assert {command for command, _ in RUNS} == commands, "every schema is checked by a run"


@pytest.mark.parametrize("path", sorted(SCHEMAS.glob("*.schema.json")), ids=lambda p: p.name)
def test_each_schema_is_a_valid_draft_2020_12_schema(path: Path) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema.get("description") and schema.get("title"), "say what the document is"
    if path.stem.removesuffix(".schema") not in SHARED:
        assert {"ok", "warnings"} <= set(schema["required"])


@pytest.mark.slow
@pytest.mark.parametrize("command", sorted(set(json_commands()) - set(NO_DOCUMENT)))
def test_the_json_document_matches_its_schema(
    command: str, documents: dict[str, list[Any]]
) -> None:
    name = command.replace(" ", "-")
    for document in documents[command]:
        assert problems(name, document) == [], json.dumps(document)[:2000]


@pytest.mark.slow
def test_the_schemas_reject_a_broken_document(documents: dict[str, list[Any]]) -> None:
    """The schemas constrain what users rely on: a missing or mistyped field fails."""
    train = dict(documents["train"][0])
    del train["model_id"]
    assert problems("train", train)
    backtest = json.loads(json.dumps(documents["forecast backtest"][0]))
    backtest["overall"]["naive"]["mase"] = "1.0"
    assert problems("forecast-backtest", backtest)
    # A new named baseline is one more entry of the map, not a schema change.
    backtest = json.loads(json.dumps(documents["forecast backtest"][0]))
    backtest["overall"]["ETS"] = dict(backtest["overall"]["naive"])
    assert problems("forecast-backtest", backtest) == []


def test_a_failure_prints_one_error_document(run_json: Callable[..., Any]) -> None:
    result = run_json("train {tmp}/no-such.csv -t y", code=3)
    document = json.loads(result.stdout)
    assert problems("error", document) == [] and document["exit_code"] == 3


@pytest.mark.slow
def test_a_failed_quality_gate_keeps_the_report_in_one_document(
    run_json: Callable[..., Any],
) -> None:
    """A gate fails after the report is ready: one document, the report marked failed."""
    line = f"forecast backtest {{tmp}}/recent.csv {SMALL} --folds 2 --max-mase 0.001"
    result = run_json(line, code=5)
    document = json.loads(result.stdout)  # a second document would be "extra data"
    assert problems("error", document) == [] and "--max-mase" in document["error"]
    assert document["ok"] is False and "per_fold" in document
