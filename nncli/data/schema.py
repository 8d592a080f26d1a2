"""Column kinds, task inference and the `inspect` report: what the table holds and what to watch."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nncli.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

    from nncli.data.loading import CsvOptions


class ColumnKind(StrEnum):
    """What a column is, as far as modelling goes."""

    NUMERIC = "numeric"
    CATEGORICAL = "categorical"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    ID = "id"
    CONSTANT = "constant"
    TEXT = "text"


# Kinds the network uses as inputs; the others are dropped with a note.
MODEL_INPUT_KINDS = frozenset({ColumnKind.NUMERIC, ColumnKind.CATEGORICAL, ColumnKind.BOOLEAN})

_ID_NAME = re.compile(r"(^|[_\s-])(id|uuid|guid|key|index|idx)$|^(id|uuid|guid)([_\s-]|$)", re.I)
_BOOL_WORDS = frozenset({"true", "false", "yes", "no", "y", "n", "t", "f", "0", "1", "0.0", "1.0"})
HIGH_CARDINALITY = 100
CLASSIFICATION_MAX_INT_CLASSES = 20
# The leakage check fits three small trees per column; on very wide tables it checks only
# this many columns, those most associated with the target first.
LEAKAGE_CHECK_MAX_COLUMNS = 100
_FLOAT32_MAX = 3.4028234663852886e38


@dataclass
class ColumnInfo:
    """One column's inferred kind and the numbers behind it."""

    name: str
    kind: ColumnKind
    dtype: str
    missing: int
    unique: int
    example: str
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "kind": str(self.kind)}


@dataclass
class TaskChoice:
    """Classification or regression, and why."""

    task: str
    reason: str


@dataclass
class TargetSummary:
    """The target's distribution: class counts, or numeric statistics."""

    name: str
    task: TaskChoice
    missing: int
    classes: dict[str, int] = field(default_factory=dict)
    stats: dict[str, float] = field(default_factory=dict)


def _is_numeric(series: pd.Series) -> bool:
    import pandas as pd

    return bool(pd.api.types.is_numeric_dtype(series)) and not pd.api.types.is_bool_dtype(series)


def _looks_like_datetime(values: pd.Series) -> bool:
    import pandas as pd

    sample = values.dropna().astype(str).head(200)
    if sample.empty or not sample.str.contains(r"\d").all():
        return False
    if not sample.str.contains(r"[-/:.]|\d{8}").all():
        return False
    parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() >= 0.95)


def _infer_plain_numeric_column(name: str, series: pd.Series) -> ColumnInfo:
    """`infer_column` for a numpy int or float column, in numpy alone.

    The same rules as the general path, without pandas' per-call overhead, which dominates
    on wide tables (10,000 numeric columns).
    """
    import numpy as np

    values = series.to_numpy()
    present = values[~np.isnan(values)] if values.dtype.kind == "f" else values
    distinct = np.unique(present)
    unique = len(distinct)
    example = str(present[0]) if len(present) else ""

    def info(kind: ColumnKind, note: str = "") -> ColumnInfo:
        missing = len(values) - len(present)
        return ColumnInfo(name, kind, str(series.dtype), missing, unique, example[:40], note)

    if unique <= 1:
        return info(ColumnKind.CONSTANT, "all missing" if unique == 0 else "one value")
    if unique == 2 and set(distinct.tolist()) <= {0, 1}:
        return info(ColumnKind.BOOLEAN, "0/1")
    integral = bool((present == np.round(present)).all())
    if integral and unique == len(present) and len(values) >= 20:
        steps = np.diff(present)
        ordered = bool((steps >= 0).all() or (steps <= 0).all())
        if _ID_NAME.search(name) or ordered:
            return info(ColumnKind.ID, "unique integers" + (" in order" if ordered else ""))
    return info(ColumnKind.NUMERIC)


def infer_column(name: str, series: pd.Series) -> ColumnInfo:
    """Infer one column's kind from its values (and, for IDs, its name)."""
    import numpy as np
    import pandas as pd

    if isinstance(series.dtype, np.dtype) and series.dtype.kind in "iuf":
        return _infer_plain_numeric_column(name, series)
    n_rows = len(series)
    non_null = series.dropna()
    missing = int(n_rows - len(non_null))
    unique = int(non_null.nunique())
    example = str(non_null.iloc[0]) if len(non_null) else ""
    dtype = str(series.dtype)

    def info(kind: ColumnKind, note: str = "") -> ColumnInfo:
        return ColumnInfo(name, kind, dtype, missing, unique, example[:40], note)

    if unique <= 1:
        return info(ColumnKind.CONSTANT, "all missing" if unique == 0 else "one value")
    if pd.api.types.is_bool_dtype(series):
        return info(ColumnKind.BOOLEAN)
    if pd.api.types.is_datetime64_any_dtype(series):
        return info(ColumnKind.DATETIME)
    if _is_numeric(series):
        integral = bool((non_null == non_null.round()).all()) if len(non_null) else False
        if unique == 2 and set(non_null.unique().tolist()) <= {0, 1}:
            return info(ColumnKind.BOOLEAN, "0/1")
        if integral and unique == len(non_null) and n_rows >= 20:
            ordered = non_null.is_monotonic_increasing or non_null.is_monotonic_decreasing
            if _ID_NAME.search(name) or ordered:
                return info(ColumnKind.ID, "unique integers" + (" in order" if ordered else ""))
        return info(ColumnKind.NUMERIC)
    text = non_null.astype(str)
    if unique == 2 and set(text.str.lower().str.strip().unique()) <= _BOOL_WORDS:
        return info(ColumnKind.BOOLEAN)
    if _looks_like_datetime(non_null):
        return info(ColumnKind.DATETIME)
    numeric_share = pd.to_numeric(text, errors="coerce").notna().mean()
    if numeric_share >= 0.9:
        return info(ColumnKind.NUMERIC, f"{1 - numeric_share:.0%} non-numeric values")
    mean_length = float(text.str.len().mean())
    unique_share = unique / max(len(non_null), 1)
    if mean_length > 30 and unique_share > 0.5 and text.str.contains(" ").mean() > 0.5:
        return info(ColumnKind.TEXT, f"mean length {mean_length:.0f} characters")
    if unique_share >= 0.95 and len(non_null) >= 20:
        return info(ColumnKind.ID, "a different value in almost every row")
    if _ID_NAME.search(name) and unique_share > 0.5:
        return info(ColumnKind.ID, "named like an identifier")
    note = "high cardinality" if unique > HIGH_CARDINALITY else ""
    return info(ColumnKind.CATEGORICAL, note)


def infer_schema(frame: pd.DataFrame) -> list[ColumnInfo]:
    """Infer every column's kind."""
    return [infer_column(str(name), frame[name]) for name in frame.columns]


def infer_task(target: pd.Series, name: str, path: Path | None = None) -> TaskChoice:
    """Classification for labels and small sets of integers, regression for other numbers.

    A target of many distinct numbers with a unit (`12kg`, `5%`) or of dates is refused
    with a DataError: as labels it would become dozens of one-row classes.
    """
    import pandas as pd

    non_null = target.dropna()
    unique = int(non_null.nunique())
    if not _is_numeric(target):
        if unique > CLASSIFICATION_MAX_INT_CLASSES:
            refuse_unit_or_date_target(non_null, name, path)
        numbers = pd.to_numeric(non_null.astype(str), errors="coerce")
        if len(non_null) and numbers.notna().mean() >= 0.9 and not _is_whole_small_set(numbers):
            # Numbers with a few stray words ('n/a', 'oops'): a regression target with bad
            # cells, not 60 one-row classes. Regression then names the first bad cell.
            return TaskChoice(
                "regression",
                f"{name!r} is mostly numbers ({numbers.notna().mean():.0%} of values)",
            )
        return TaskChoice("classification", f"{name!r} holds labels ({unique} distinct values)")
    integral = bool((non_null == non_null.round()).all())
    if (
        integral
        and unique <= CLASSIFICATION_MAX_INT_CLASSES
        and unique <= max(2, len(non_null) // 5)
    ):
        return TaskChoice(
            "classification",
            f"{name!r} holds {unique} distinct whole numbers (use --task regression to override)",
        )
    return TaskChoice(
        "regression",
        f"{name!r} is numeric with {unique} distinct values (use --task classification to override)",
    )


_NUMBER_WITH_UNIT = re.compile(
    r"\s*[$€£¥]?\s*[-+]?(\d+([.,]\d*)?|[.,]\d+)\s*([%‰]|[A-Za-zµ°$€£¥/²³]+\.?)\s*"
)


def refuse_unit_or_date_target(values: pd.Series, name: str, path: Path | None = None) -> None:
    """A DataError for a text target that is really numbers with a unit, or dates."""
    where = f"{path}: " if path is not None else ""
    text = values.astype(str).head(500)
    with_unit = text[[bool(_NUMBER_WITH_UNIT.fullmatch(cell)) for cell in text]]
    if len(with_unit) >= 0.9 * len(text):
        raise DataError(
            f"{where}target {name!r} holds numbers with a unit or percent sign "
            f"(e.g. {with_unit.iloc[0]!r}); as labels they would be "
            f"{values.nunique()} classes of a few rows each",
            hint="strip the unit so the column holds plain numbers, then train (a regression)",
        )
    if _looks_like_datetime(values):
        raise DataError(
            f"{where}target {name!r} holds dates or times (e.g. {str(values.iloc[0])!r})",
            hint="choose another --target; to predict values over time, use 'nncli forecast'",
        )


def _is_whole_small_set(numbers: pd.Series) -> bool:
    """Few distinct whole numbers (class codes like 0/1/2), where labels stay labels."""
    parsed = numbers.dropna()
    return bool(
        (parsed == parsed.round()).all() and parsed.nunique() <= CLASSIFICATION_MAX_INT_CLASSES
    )


def summarize_target(
    frame: pd.DataFrame,
    name: str,
    task: str | None = None,
    path: Path | None = None,
    csv: CsvOptions | None = None,
) -> TargetSummary:
    """The target's class balance or distribution, classes spelled as the file at `path`
    (read with `csv`) writes them."""
    series = frame[name]
    non_null = series.dropna()
    if non_null.empty:
        where = f"{path}: " if path is not None else ""
        raise DataError(
            f"{where}target column {name!r} has no values (all missing)",
            hint="choose another --target, or fill in the labels",
        )
    choice = infer_task(series, name, path)
    if task is not None and task != choice.task:
        choice = TaskChoice(task, f"--task {task} given")
    summary = TargetSummary(name=name, task=choice, missing=int(series.isna().sum()))
    if choice.task == "classification":
        from nncli.data.labels import labels_as_written

        counts = labels_as_written(non_null, path, csv).value_counts()
        summary.classes = {str(label): int(count) for label, count in counts.items()}
    else:
        import pandas as pd

        numbers = pd.to_numeric(non_null, errors="coerce").astype("float64")
        numbers = numbers[numbers.abs() < float("inf")]  # NaN and ±inf out of the statistics
        summary.stats = {
            "mean": float(numbers.mean()),
            "std": float(numbers.std()),
            "min": float(numbers.min()),
            "median": float(numbers.median()),
            "max": float(numbers.max()),
        }
    return summary


def _single_feature_score(
    feature: pd.Series, kind: ColumnKind, target: pd.Series, task: str
) -> float:
    """How well one column alone predicts the target on held-out rows (accuracy or R²)."""
    import numpy as np
    import pandas as pd
    from sklearn.model_selection import cross_val_score
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    if kind in (ColumnKind.CATEGORICAL, ColumnKind.BOOLEAN):
        codes = pd.Categorical(feature.astype("string")).codes.astype(np.float64)
        values = codes.reshape(-1, 1)
    else:
        numbers = pd.to_numeric(feature, errors="coerce").astype("float64")
        # Trees compute in float32: infinities and magnitudes beyond it count as missing here.
        numbers = numbers.where(numbers.abs() <= _FLOAT32_MAX)
        values = numbers.fillna(numbers.median()).fillna(0.0).to_numpy().reshape(-1, 1)
    model = (
        DecisionTreeClassifier(max_depth=6, random_state=0)
        if task == "classification"
        else DecisionTreeRegressor(max_depth=6, random_state=0)
    )
    labels = (
        target.astype(str).to_numpy()
        if task == "classification"
        else pd.to_numeric(target, errors="coerce").to_numpy(np.float64)
    )
    folds = 3
    if task == "classification":
        folds = int(min(3, pd.Series(labels).value_counts().min()))
        if folds < 2:
            return 0.0
    scores = cross_val_score(model, values, labels, cv=folds)
    return float(np.mean(scores))


def _usable_target_rows(target: pd.Series, task: str) -> pd.Series:
    """Rows whose target a leakage check can score: present, and finite for regression."""
    import numpy as np
    import pandas as pd

    if task == "classification":
        return target.notna()
    numbers = pd.to_numeric(target, errors="coerce").astype("float64")
    return numbers.notna() & (numbers.abs() <= _FLOAT32_MAX) & np.isfinite(numbers)


def _leakage_candidates(
    sample: pd.DataFrame, candidates: list[ColumnInfo], target: str, task: str
) -> list[ColumnInfo]:
    """The columns worth a leakage check, at most LEAKAGE_CHECK_MAX_COLUMNS of them.

    Categorical and boolean columns come first (there are rarely many); numeric columns are
    ranked by a vectorised screen: the absolute rank correlation with a numeric target, or
    the share of rank variance explained by the class (eta squared). A column that alone
    predicts the target scores high on either, so the trees see it.
    """
    import numpy as np
    import pandas as pd

    if len(candidates) <= LEAKAGE_CHECK_MAX_COLUMNS:
        return candidates
    coded = [c for c in candidates if c.kind is not ColumnKind.NUMERIC]
    numeric = [c for c in candidates if c.kind is ColumnKind.NUMERIC]
    room = max(LEAKAGE_CHECK_MAX_COLUMNS - len(coded), 0)
    if room == 0 or not numeric:
        return coded[:LEAKAGE_CHECK_MAX_COLUMNS] + numeric[:room]
    block = sample[[c.name for c in numeric]]
    for name in block.columns[~block.dtypes.map(pd.api.types.is_numeric_dtype).to_numpy()]:
        block = block.assign(**{name: pd.to_numeric(block[name], errors="coerce")})
    ranks = block.rank(pct=True).fillna(0.5).to_numpy(np.float64)  # [rows, columns]
    centred = ranks - ranks.mean(axis=0)
    total = (centred**2).sum(axis=0)
    total[total == 0] = 1.0
    if task == "classification":
        codes = pd.factorize(sample[target].astype(str))[0]
        onehot = np.eye(codes.max() + 1)[codes]  # [rows, classes]
        per_class = onehot.T @ centred / np.maximum(onehot.sum(axis=0), 1)[:, None]
        explained = (onehot.sum(axis=0)[:, None] * per_class**2).sum(axis=0)
        scores = explained / total
    else:
        truth = pd.to_numeric(sample[target], errors="coerce").rank(pct=True).fillna(0.5)
        truth_centred = truth.to_numpy(np.float64) - truth.mean()
        denominator = np.sqrt(total * max(float((truth_centred**2).sum()), 1e-12))
        scores = np.abs(truth_centred @ centred) / denominator
    best = np.argsort(-scores, kind="stable")[:room]
    return coded + [numeric[i] for i in sorted(best)]


@dataclass
class InspectReport:
    """Everything `nncli inspect` shows."""

    path: str
    rows: int
    columns: list[ColumnInfo]
    target: TargetSummary | None
    warnings: list[str]

    def to_dict(self) -> dict[str, Any]:
        target = None
        if self.target is not None:
            target = {
                "name": self.target.name,
                "task": self.target.task.task,
                "task_reason": self.target.task.reason,
                "missing": self.target.missing,
                "classes": self.target.classes,
                "stats": self.target.stats,
            }
        return {
            "path": self.path,
            "rows": self.rows,
            "columns": [column.to_dict() for column in self.columns],
            "target": target,
        }


def _column_warnings(columns: list[ColumnInfo], target: str | None, rows: int) -> list[str]:
    """The warnings about the columns besides the target: IDs, constants, many categories,
    free text, mostly missing."""
    warnings: list[str] = []
    for column in columns:
        if column.name == target:
            continue
        if column.kind is ColumnKind.ID:
            warnings.append(
                f"column {column.name!r} looks like an ID ({column.note}); it is not used as a feature"
            )
        elif column.kind is ColumnKind.CONSTANT:
            warnings.append(
                f"column {column.name!r} is constant ({column.note}); it carries no information"
            )
        elif column.kind is ColumnKind.CATEGORICAL and column.unique > HIGH_CARDINALITY:
            warnings.append(
                f"column {column.name!r} is categorical with {column.unique} distinct values; "
                "rare values share the unknown bucket beyond --max-categories"
            )
        elif column.kind is ColumnKind.TEXT:
            warnings.append(f"column {column.name!r} is free text; it is not used as a feature")
        if column.missing and column.missing / max(rows, 1) > 0.5:
            warnings.append(f"column {column.name!r} is {column.missing / rows:.0%} missing")
    return warnings


def inspect_table(
    frame: pd.DataFrame,
    path: Path,
    target: str | None = None,
    csv: CsvOptions | None = None,
) -> InspectReport:
    """Infer the schema, summarise the target and collect the warnings a modeller needs."""
    if len(frame) == 0:
        raise DataError(f"{path}: the file has a header but no data rows")
    columns = infer_schema(frame)
    rows = len(frame)
    warnings = _column_warnings(columns, target, rows)
    summary = None
    if target is not None:
        summary = summarize_target(frame, target, path=path, csv=csv)
        task = summary.task.task
        labelled = frame[_usable_target_rows(frame[target], task)]
        if task == "classification":
            counts = list(summary.classes.values())
            if len(counts) < 2:
                warnings.append(f"target {target!r} has a single class; nothing to classify")
            elif max(counts) / sum(counts) > 0.9:
                warnings.append(
                    f"target {target!r} is imbalanced: the majority class is {max(counts) / sum(counts):.0%}"
                    " of rows (consider --class-weights)"
                )
            if counts and min(counts) < 3:
                warnings.append(f"target {target!r} has a class with only {min(counts)} row(s)")
        candidates = [c for c in columns if c.name != target and c.kind in MODEL_INPUT_KINDS]
        sample = (
            labelled.sample(n=min(len(labelled), 20000), random_state=0)
            if len(labelled) > 20
            else None
        )
        if sample is not None and not (task == "classification" and len(summary.classes) < 2):
            checked = _leakage_candidates(sample, candidates, target, task)
            if len(checked) < len(candidates):
                warnings.append(
                    f"the leakage check covered the {len(checked)} of {len(candidates)} feature "
                    f"columns most associated with {target!r}"
                )
            for column in checked:
                score = _single_feature_score(
                    sample[column.name], column.kind, sample[target], task
                )
                if score >= 0.98:
                    measure = "accuracy" if task == "classification" else "R²"
                    warnings.append(
                        f"possible leakage: column {column.name!r} alone predicts {target!r} with "
                        f"{measure} {score:.3f}; drop it (--drop) if it is not known at prediction time"
                    )
    return InspectReport(str(path), rows, columns, summary, warnings)
