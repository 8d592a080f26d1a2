"""`nncli inspect` for a table with a target: the data's report plus what training would meet."""

from __future__ import annotations

from typing import TYPE_CHECKING

from nncli.data.schema import InspectReport, inspect_table
from nncli.errors import NncliError

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

    from nncli.data.loading import CsvOptions


def inspect_for_training(
    frame: pd.DataFrame, path: Path, target: str | None, csv: CsvOptions | None = None
) -> InspectReport:
    """`inspect_table`'s report, with the warning `nncli train` would give about the default
    network's size: the same count of the same network on the same training rows."""
    from nncli.tabular.options import TabularOptions
    from nncli.tabular.train import network_size, size_warning

    report = inspect_table(frame, path, target, csv=csv)
    if target is None:
        return report
    options = TabularOptions(target=target)
    if csv is not None:  # the file's own reading options (separator, decimal, ...)
        options.csv = csv
    try:
        rows, parameters = network_size(path, frame, options)
    except NncliError:  # a table train refuses: the other warnings and train itself say why
        return report
    warning = size_warning(rows, parameters)
    if warning is not None:
        report.warnings.append(warning)
    return report
