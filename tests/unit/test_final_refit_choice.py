"""--final-refit: auto refits up to 20,000 train+validation rows; always and never as named."""

from __future__ import annotations

import pytest

from nncli.errors import ExitCode
from nncli.tabular.options import FINAL_REFIT_MAX_ROWS, TabularOptions


@pytest.mark.parametrize(
    ("mode", "rows", "wanted"),
    [
        ("auto", 100, True),
        ("auto", FINAL_REFIT_MAX_ROWS, True),
        ("auto", FINAL_REFIT_MAX_ROWS + 1, False),
        ("always", 10 * FINAL_REFIT_MAX_ROWS, True),
        ("never", 100, False),
    ],
)
def test_which_tables_are_refitted(mode: str, rows: int, wanted: bool) -> None:
    assert TabularOptions(target="y", final_refit=mode).wants_final_refit(rows) is wanted


def test_an_unknown_choice_is_a_usage_error(cli, sample_data) -> None:
    bad = cli(
        "train", sample_data / "penguins.csv", "-t", "species", "--final-refit", "sometimes",
        code=ExitCode.USAGE,
    )  # fmt: skip
    assert "--final-refit must be one of auto, always, never" in bad.stderr
