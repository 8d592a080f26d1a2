"""Layout of what nncli prints on stdout: snapshots at 80 and 160 columns, full names when piped.

Each snapshot (tests/cli/snapshots/<command>-<mode>.txt) is a command's stdout on an 80- or
160-column terminal, or piped (not a terminal). It checks layout — which lines there are,
what wraps, what is cut with '…', the titles and notes — not values: numbers, dates, model
ids, paths and sparklines are masked, and runs of spaces and of rule characters collapsed,
so column widths that follow the values do not count. After a change in what a command
prints (new baselines in the forecast backtest, a new column), the lead regenerates them:

    NNCLI_UPDATE_SNAPSHOTS=1 .venv/bin/python -m pytest tests/cli/test_layout.py

and reads the diff of tests/cli/snapshots/ before committing it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import SAMPLE_DATA, Cli

SNAPSHOTS = Path(__file__).parent / "snapshots"
# Read at import: the autouse fixture clears every NNCLI_* variable before a test runs.
UPDATE = os.environ.get("NNCLI_UPDATE_SNAPSHOTS") == "1"
SERIES = "--time-col date --target adj_close --group-col ticker"
SMALL = "--arch lstm --lookback 20 --horizon 5 --hidden-size 8 --epochs 2"
# Rich takes a terminal from TTY_COMPATIBLE; TERM=dumb keeps colour codes out, and LINES
# keeps a dumb terminal from falling back to 80 columns.
MODES = {
    "80": {"TTY_COMPATIBLE": "1", "TERM": "dumb", "LINES": "50", "COLUMNS": "80"},
    "160": {"TTY_COMPATIBLE": "1", "TERM": "dumb", "LINES": "50", "COLUMNS": "160"},
    "piped": {"TTY_COMPATIBLE": "0", "COLUMNS": "80"},
}
COMMANDS = {
    "inspect": "inspect {data}/penguins.csv --target species",
    "train": "train {data}/autompg.csv -t mpg --drop name --epochs 2 -o {tmp}/mpg.nncli",
    "evaluate": "evaluate {penguins} {data}/penguins.csv",
    "forecast-backtest": f"forecast backtest {{tmp}}/recent.csv {SERIES} {SMALL} --folds 2",
}
MASKS = [
    (re.compile(r"\b\d{4}-\d\d-\d\d(?:[T ][\d:]+)?"), "<date>"),
    (re.compile(r"\b[0-9a-f]{12}\b"), "<id>"),
    (re.compile(r"[-+]?\d+(?:[.,]\d+)*(?:e[-+]?\d+)?%?"), "#"),
    (re.compile(r"[▁▂▃▄▅▆▇█]+"), "▁"),
    (re.compile(r"([─━═])\1+"), r"\1"),
    (re.compile(r" {2,}"), " "),
]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the newest 200 days of each ticker, and one for the files commands write."""
    folder = tmp_path_factory.mktemp("layout")
    prices = pd.read_csv(SAMPLE_DATA / "stocks.csv").groupby("ticker").tail(200)
    prices.to_csv(folder / "recent.csv", index=False)
    return folder


def masked(text: str, *paths: Path) -> str:
    """Layout only: paths, numbers, ids and sparklines masked, widths collapsed."""
    for path in paths:
        text = text.replace(str(path), "<path>")
    for pattern, replacement in MASKS:
        text = pattern.sub(replacement, text)
    return "\n".join(line.rstrip() for line in text.splitlines()) + "\n"


def run(line: str, mode: str, **fill: Path) -> str:
    env = {"NNCLI_QUIET": "1", **MODES[mode]}
    filled = [arg.format(data=SAMPLE_DATA, **fill) for arg in line.split()]
    return str(Cli()(*filled, env=env).stdout)


# A backtest trains a network per fold: its 80-column layout runs in the fast tier, the
# other two with the slow tests.
CASES = [
    pytest.param(
        name,
        mode,
        id=f"{name}-{mode}",
        marks=[pytest.mark.slow] if name.startswith("forecast") and mode != "80" else [],
    )
    for name in sorted(COMMANDS)
    for mode in sorted(MODES)
]


@pytest.mark.parametrize(("name", "mode"), CASES)
def test_layout_matches_the_snapshot(
    name: str, mode: str, scratch: Path, penguins_model: Path
) -> None:
    stdout = run(COMMANDS[name], mode, tmp=scratch, penguins=penguins_model)
    if mode != "piped":  # a terminal of that width holds every table line
        table = [line for line in stdout.splitlines() if line[:1] in "┏┃┡│└"]
        assert table and max(map(len, table)) <= int(mode)
    actual = masked(stdout, scratch, penguins_model, SAMPLE_DATA)
    snapshot = SNAPSHOTS / f"{name}-{mode}.txt"
    if UPDATE:
        SNAPSHOTS.mkdir(exist_ok=True)
        snapshot.write_text(actual, encoding="utf-8")
    assert snapshot.is_file(), f"no snapshot {snapshot.name}: run with NNCLI_UPDATE_SNAPSHOTS=1"
    assert actual == snapshot.read_text(encoding="utf-8"), (
        f"{name} at {mode} no longer matches {snapshot.name}; if the change is meant, "
        "regenerate with NNCLI_UPDATE_SNAPSHOTS=1 and read the diff"
    )


@pytest.fixture(scope="module")
def long_names(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two long column names that share their first 24 characters, and a numeric target."""
    path = tmp_path_factory.mktemp("names") / "long.csv"
    pd.DataFrame(
        {
            "measurement_temperature_celsius_at_noon": [float(i % 7) for i in range(40)],
            "measurement_temperature_kelvin_at_noon": [float(i % 5) for i in range(40)],
            "target": [float(i) for i in range(40)],
        }
    ).to_csv(path, index=False)
    return path


def test_piped_inspect_prints_long_column_names_in_full(long_names: Path) -> None:
    stdout = run(f"inspect {long_names} --target target", "piped")
    for name in (
        "measurement_temperature_celsius_at_noon",
        "measurement_temperature_kelvin_at_noon",
    ):
        assert sum(name in line for line in stdout.splitlines()) == 1, stdout
    assert "…" not in stdout


def test_free_text_is_not_wrapped_to_the_width_of_the_table_before_it(long_names: Path) -> None:
    """The target table is ~25 columns wide; its `task:` note (~110) is one line at 160."""
    stdout = run(f"inspect {long_names} --target target", "160")
    task = [line for line in stdout.splitlines() if line.startswith("task: regression")]
    assert len(task) == 1 and task[0].rstrip().endswith("0 missing"), stdout
    title = f"{long_names}: 40 rows × 3 columns"
    assert title in stdout.splitlines(), "a title is its own line, not padded to the table"
