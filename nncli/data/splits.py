"""Train / validation / test splits: stratified, random, time-ordered, or from a column."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from nncli.errors import DataError, UsageError, shown

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

SPLIT_METHODS = ("auto", "stratified", "random", "time", "column")
_SPLIT_LABELS = {
    "train": "train",
    "training": "train",
    "valid": "valid",
    "validation": "valid",
    "val": "valid",
    "test": "test",
    "testing": "test",
}


@dataclass
class Split:
    """Row positions of each part, and how they were chosen."""

    train: np.ndarray
    valid: np.ndarray
    test: np.ndarray
    method: str


def split_rows(
    frame: pd.DataFrame,
    *,
    method: str,
    seed: int,
    valid_size: float,
    test_size: float,
    labels: pd.Series | None = None,
    time_col: str | None = None,
    split_col: str | None = None,
    path: Path | None = None,
) -> Split:
    """Split row positions into train/valid/test.

    `auto` stratifies by class when `labels` are given and shuffles otherwise; `time` keeps
    the oldest rows for training and the newest for testing; `column` reads train/valid/test
    from `split_col`. `path`, when given, starts every error message.
    """
    if not (0 < valid_size < 1 and 0 < test_size < 1 and valid_size + test_size < 0.9):
        raise UsageError("--valid-size and --test-size must be in (0, 1) and leave 10% to train")
    where = f"{path}: " if path is not None else ""
    if method == "column" or split_col is not None:
        if split_col is None:
            raise UsageError("--split column needs --split-col NAME")
        return split_by_column(frame, split_col, where)
    if method == "time":
        return split_by_time(frame, time_col, valid_size, test_size, where)
    stratify = labels if method in ("auto", "stratified") else None
    return split_shuffled(frame, stratify, seed, valid_size, test_size, where)


def split_by_column(frame: pd.DataFrame, split_col: str, where: str) -> Split:
    """Read each row's part (train/valid/test and their aliases) from `split_col`."""
    import numpy as np

    positions = np.arange(len(frame))
    parts = frame[split_col].astype(str).str.strip().str.lower().map(_SPLIT_LABELS)
    if parts.isna().any():
        position = int(np.flatnonzero(parts.isna().to_numpy())[0])
        label = frame.index[position]  # the file's row when rows were left out
        row = int(label) + 1 if isinstance(label, int | np.integer) else position + 1
        raise DataError(
            f"{where}split column {split_col!r} holds {shown(frame[split_col].iloc[position])} "
            f"at data row {row} (line {row + 1})",
            hint="use train, valid or test in every row",
        )
    picked = {name: positions[(parts == name).to_numpy()] for name in ("train", "valid", "test")}
    for name, rows in picked.items():
        if len(rows) == 0:
            raise DataError(
                f"{where}split column {split_col!r} has no {name!r} rows",
                hint="mark some rows train, some valid and some test",
            )
    return Split(picked["train"], picked["valid"], picked["test"], "column")


def time_order(frame: pd.DataFrame, time_col: str | None, where: str) -> np.ndarray:
    """Row positions from oldest to newest: sorted by `time_col`, or file order without one."""
    import numpy as np
    import pandas as pd

    if time_col is None:
        return np.arange(len(frame))  # file order is time order
    stamps = pd.to_datetime(frame[time_col], errors="coerce", format="mixed")
    if stamps.isna().any():
        position = int(np.flatnonzero(stamps.isna().to_numpy())[0])
        label = frame.index[position]  # the file's row when rows were left out
        row = int(label) + 1 if pd.api.types.is_integer(label) else position + 1
        raise DataError(
            f"{where}time column {time_col!r} has missing or unparseable values "
            f"(first: {shown(frame[time_col].iloc[position])} at data row {row} (line {row + 1}))",
            hint="use one date format, e.g. 2024-01-31, and fill every cell",
        )
    return np.argsort(stamps.to_numpy(), kind="stable")


def split_by_time(
    frame: pd.DataFrame, time_col: str | None, valid_size: float, test_size: float, where: str
) -> Split:
    """Oldest rows train, the next ones validate, the newest test."""
    order = time_order(frame, time_col, where)
    n_test = max(1, round(len(order) * test_size))
    n_valid = max(1, round(len(order) * valid_size))
    train_end = len(order) - n_test - n_valid
    if train_end < 1:
        raise DataError(
            f"{where}cannot split {len(frame)} rows by time: no rows are left to train on",
            hint="add rows or lower --valid-size/--test-size",
        )
    return Split(
        order[:train_end],
        order[train_end : train_end + n_valid],
        order[train_end + n_valid :],
        "time",
    )


def split_shuffled(
    frame: pd.DataFrame,
    labels: pd.Series | None,
    seed: int,
    valid_size: float,
    test_size: float,
    where: str,
) -> Split:
    """Shuffle rows into parts, stratified by class when `labels` are given."""
    import numpy as np
    import pandas as pd

    stratify = labels.to_numpy() if labels is not None else None
    if stratify is not None:
        counts = pd.Series(stratify).value_counts()
        if counts.min() < 3:
            rare = counts.idxmin()
            raise DataError(
                f"{where}class {shown(rare)} has only {counts.min()} row(s); a stratified split needs at least 3 "
                "per class",
                hint="add rows, drop that class, or use --split random",
            )
    rng = np.random.default_rng(seed)
    positions = np.arange(len(frame))
    try:
        rest, test = _split_off(positions, stratify, test_size, rng)
        rest_labels = stratify[rest] if stratify is not None else None
        train, valid = _split_off(rest, rest_labels, valid_size / (1 - test_size), rng)
    except ValueError as exc:
        raise DataError(
            f"{where}cannot split {len(frame)} rows ({exc})", hint="add rows or use --split random"
        ) from exc
    used = "stratified" if stratify is not None else "random"
    return Split(np.sort(train), np.sort(valid), np.sort(test), used)


def _split_off(
    positions: np.ndarray, labels: np.ndarray | None, fraction: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Split `positions` into (kept, taken) with `ceil(fraction * n)` taken at random; with
    `labels`, each class gives its share (largest remainders round up, ties at random)."""
    import math

    import numpy as np

    n = len(positions)
    n_taken = math.ceil(fraction * n)
    if n_taken < 1 or n_taken >= n:
        raise ValueError(f"a {fraction:.0%} part of {n} rows would leave a part empty")
    if labels is None:
        order = rng.permutation(n)
        return positions[order[n_taken:]], positions[order[:n_taken]]
    classes, codes = np.unique(labels, return_inverse=True)
    if n_taken < len(classes) or n - n_taken < len(classes):
        raise ValueError(
            f"a {fraction:.0%} part of {n} rows cannot hold each of the {len(classes)} classes"
        )
    counts = np.bincount(codes)
    share = counts * n_taken / n
    taken_per_class = np.floor(share).astype(np.int64)
    largest_remainders = np.lexsort((rng.random(len(classes)), -(share - taken_per_class)))
    taken_per_class[largest_remainders[: n_taken - int(taken_per_class.sum())]] += 1
    kept, taken = [], []
    for code, count in enumerate(taken_per_class):
        members = rng.permutation(positions[codes == code])
        taken.append(members[:count])
        kept.append(members[count:])
    return np.concatenate(kept), np.concatenate(taken)
