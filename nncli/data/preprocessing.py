"""Preprocessing fitted on the training split only, stored as plain numbers in the model file.

Numeric columns: median imputation, a missing-value indicator (when training saw missing
values), standardisation. Categorical and boolean columns: integer codes into a vocabulary
whose index 0 is the explicit unknown bucket (unseen or missing values), fed to embeddings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nncli.data.schema import ColumnKind
from nncli.errors import DataError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

UNKNOWN_INDEX = 0


@dataclass
class NumericSpec:
    """How one numeric column becomes standardised features."""

    name: str
    median: float
    mean: float
    std: float
    missing_indicator: bool


@dataclass
class CategoricalSpec:
    """How one categorical column becomes codes: value -> 1 + position in `vocabulary`."""

    name: str
    kind: str
    vocabulary: list[str]

    @property
    def cardinality(self) -> int:
        """Number of embedding rows, the unknown bucket included."""
        return len(self.vocabulary) + 1


@dataclass
class Preprocessor:
    """The fitted preprocessing of the model's input columns."""

    numeric: list[NumericSpec] = field(default_factory=list)
    categorical: list[CategoricalSpec] = field(default_factory=list)

    @property
    def input_columns(self) -> list[str]:
        return [spec.name for spec in self.numeric] + [spec.name for spec in self.categorical]

    @property
    def n_numeric_features(self) -> int:
        return len(self.numeric) + sum(spec.missing_indicator for spec in self.numeric)

    def to_dict(self) -> dict[str, Any]:
        return {
            "numeric": [asdict(spec) for spec in self.numeric],
            "categorical": [asdict(spec) for spec in self.categorical],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocessor:
        return cls(
            numeric=[NumericSpec(**spec) for spec in data["numeric"]],
            categorical=[CategoricalSpec(**spec) for spec in data["categorical"]],
        )


@dataclass
class EncodedFeatures:
    """Model-ready arrays: float32 numeric features and int64 category codes."""

    numeric: np.ndarray  # [rows, n_numeric_features] float32
    categorical: np.ndarray  # [rows, n_categorical] int64
    unknown_counts: dict[str, int] = field(default_factory=dict)

    def one_hot(self, cardinalities: list[int]) -> np.ndarray:
        """Numeric features plus one-hot categories: the design matrix of the linear baselines."""
        import numpy as np

        blocks = [self.numeric]
        for column, size in enumerate(cardinalities):
            block = np.zeros((len(self.categorical), size), dtype=np.float32)
            block[np.arange(len(self.categorical)), self.categorical[:, column]] = 1.0
            blocks.append(block)
        return np.concatenate(blocks, axis=1)


def category_strings(series: pd.Series) -> pd.Series:
    """Category values as strings; whole numbers lose their '.0' so 3 and 3.0 agree."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(series):
        return series.map(lambda v: None if pd.isna(v) else str(bool(v)).lower())
    if pd.api.types.is_numeric_dtype(series):
        return series.map(
            lambda v: (
                None if pd.isna(v) else (str(int(v)) if float(v).is_integer() else repr(float(v)))
            )
        )
    # A True/False column with a blank cell is object dtype holding Python bools: spell them
    # as the bool-dtype branch does, or a file without blanks would not match the vocabulary.
    return series.map(
        lambda v: (
            None if pd.isna(v) else (str(v).lower() if isinstance(v, bool) else str(v).strip())
        )
    )


def numeric_values(series: pd.Series, path: Path | None, name: str) -> pd.Series:
    """A column as float64, failing on text or infinities with the first bad row named."""
    import numpy as np
    import pandas as pd

    where = f"{path}: " if path is not None else ""

    def row_number(position: int) -> int:
        # Callers pass row subsets (the training split) that keep the file's integer index;
        # name the file's row, not the position inside the subset.
        label = series.index[position]
        return int(label) + 1 if pd.api.types.is_integer(label) else position + 1

    if pd.api.types.is_bool_dtype(series):
        series = series.astype("float64")
    numbers = pd.to_numeric(series, errors="coerce").astype("float64")
    bad = numbers.isna() & series.notna()
    if bad.any():
        position = int(np.flatnonzero(bad.to_numpy())[0])
        row = row_number(position)
        raise DataError(
            f"{where}column {name!r} holds text {str(series.iloc[position])!r} at data row "
            f"{row} (line {row + 1}) where numbers are expected",
            hint="fix or blank that cell",
        )
    infinite = np.isinf(numbers.to_numpy())
    if infinite.any():
        row = row_number(int(np.flatnonzero(infinite)[0]))
        raise DataError(
            f"{where}column {name!r} holds an infinite value at data row {row} (line {row + 1})",
            hint="replace it with a finite number or leave the cell empty",
        )
    return numbers


def fit_preprocessor(
    frame: pd.DataFrame,
    kinds: dict[str, ColumnKind],
    *,
    path: Path | None = None,
    max_categories: int = 1000,
) -> Preprocessor:
    """Fit imputation, scaling and vocabularies on the training rows only."""
    import numpy as np

    preprocessor = Preprocessor()
    for name, kind in kinds.items():
        if kind is ColumnKind.NUMERIC:
            numbers = numeric_values(frame[name], path, name)
            median = float(numbers.median()) if numbers.notna().any() else 0.0
            filled = numbers.fillna(median).to_numpy()
            mean = float(filled.mean())
            std = float(filled.std())
            if not np.isfinite(std) or std < 1e-12:
                std = 1.0
            preprocessor.numeric.append(
                NumericSpec(name, median, mean, std, missing_indicator=bool(numbers.isna().any()))
            )
        elif kind in (ColumnKind.CATEGORICAL, ColumnKind.BOOLEAN):
            counts = category_strings(frame[name]).value_counts()
            # Most frequent first, ties by value, so the same data gives the same vocabulary.
            ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
            vocabulary = [str(value) for value, _ in ordered[:max_categories]]
            preprocessor.categorical.append(CategoricalSpec(name, str(kind), vocabulary))
    return preprocessor


def transform(
    preprocessor: Preprocessor, frame: pd.DataFrame, *, path: Path | None = None
) -> EncodedFeatures:
    """Apply the fitted preprocessing; unseen and missing categories go to the unknown bucket."""
    import numpy as np
    import pandas as pd

    rows = len(frame)
    numeric = np.empty((rows, preprocessor.n_numeric_features), dtype=np.float32)
    column = 0
    for spec in preprocessor.numeric:
        numbers = numeric_values(frame[spec.name], path, spec.name)
        missing = numbers.isna().to_numpy()
        values = numbers.fillna(spec.median).to_numpy()
        numeric[:, column] = (values - spec.mean) / spec.std
        column += 1
        if spec.missing_indicator:
            numeric[:, column] = missing
            column += 1
    categorical = np.empty((rows, len(preprocessor.categorical)), dtype=np.int64)
    unknown_counts: dict[str, int] = {}
    for index, category_spec in enumerate(preprocessor.categorical):
        values = category_strings(frame[category_spec.name])
        codes = (
            pd.Index(category_spec.vocabulary, dtype=object)
            .get_indexer(values.astype(object))
            .astype(np.int64)
            + 1
        )
        categorical[:, index] = codes
        unseen = int(((codes == UNKNOWN_INDEX) & values.notna().to_numpy()).sum())
        if unseen:
            unknown_counts[category_spec.name] = unseen
    return EncodedFeatures(numeric, categorical, unknown_counts)
