"""Preprocessing fitted on the training split only, stored as plain numbers in the model file.

Numeric columns: median imputation, a missing-value indicator (when training saw missing
values), standardisation. Categorical and boolean columns: integer codes into a vocabulary
whose index 0 is the explicit unknown bucket (unseen or missing values), fed to embeddings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nncli.data.labels import category_strings
from nncli.data.schema import ColumnKind
from nncli.errors import DataError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

UNKNOWN_INDEX = 0
# Networks compute in float32: larger magnitudes overflow to infinity in the first layer.
FLOAT32_MAX = 3.4028234663852886e38
# Above this many cells (64 MiB of float32) the baselines' one-hot design matrix is sparse.
DENSE_ONE_HOT_CELLS = 1 << 24


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

    @property
    def missing_indicator_positions(self) -> list[int]:
        """Where the missing-value indicators sit among the numeric features (each follows
        its column's value)."""
        positions, position = [], 0
        for spec in self.numeric:
            position += 1
            if spec.missing_indicator:
                positions.append(position)
                position += 1
        return positions

    def to_dict(self) -> dict[str, Any]:
        return {
            "numeric": [asdict(spec) for spec in self.numeric],
            "categorical": [asdict(spec) for spec in self.categorical],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Preprocessor:
        """Rebuild from a model file's metadata; wrong types raise TypeError or ValueError.

        Every value is converted to the type it must have, so a hand-edited or hostile file
        fails here (a bad model file) rather than mid-prediction (a crash).
        """
        numeric = [
            NumericSpec(
                name=str(spec["name"]),
                median=float(spec["median"]),
                mean=float(spec["mean"]),
                std=float(spec["std"]),
                missing_indicator=bool(spec["missing_indicator"]),
            )
            for spec in data["numeric"]
        ]
        categorical = []
        for spec in data["categorical"]:
            if not isinstance(spec["vocabulary"], list):
                raise TypeError(f"the vocabulary of {spec['name']!r} is not a list")
            vocabulary = [str(value) for value in spec["vocabulary"]]
            categorical.append(CategoricalSpec(str(spec["name"]), str(spec["kind"]), vocabulary))
        return cls(numeric=numeric, categorical=categorical)


@dataclass
class EncodedFeatures:
    """Model-ready arrays: float32 numeric features and int64 category codes."""

    numeric: np.ndarray  # [rows, n_numeric_features] float32
    categorical: np.ndarray  # [rows, n_categorical] int64
    unknown_counts: dict[str, int] = field(default_factory=dict)

    def one_hot(self, cardinalities: list[int], max_dense_cells: int = DENSE_ONE_HOT_CELLS) -> Any:
        """Numeric features plus one-hot categories: the design matrix of the linear baselines.

        A dense float32 array, or a scipy CSR matrix when the dense one would exceed
        `max_dense_cells` (a million rows of a 1000-category column would need 4 GB).
        """
        import numpy as np

        width = self.numeric.shape[1] + sum(cardinalities)
        if len(self.categorical) * width > max_dense_cells:
            return self._sparse_one_hot(cardinalities)
        blocks = [self.numeric]
        for column, size in enumerate(cardinalities):
            block = np.zeros((len(self.categorical), size), dtype=np.float32)
            block[np.arange(len(self.categorical)), self.categorical[:, column]] = 1.0
            blocks.append(block)
        return np.concatenate(blocks, axis=1)

    def _sparse_one_hot(self, cardinalities: list[int]) -> Any:
        import numpy as np
        from scipy import sparse

        rows = len(self.categorical)
        offsets = np.concatenate([[0], np.cumsum(cardinalities)[:-1]]).astype(np.int64)
        codes = sparse.csr_matrix(
            (
                np.ones(self.categorical.size, dtype=np.float32),
                (
                    np.repeat(np.arange(rows), len(cardinalities)),
                    (self.categorical + offsets).ravel(),
                ),
            ),
            shape=(rows, sum(cardinalities)),
        )
        return sparse.hstack(
            [sparse.csr_matrix(self.numeric), codes], format="csr", dtype=np.float32
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
    if pd.api.types.is_numeric_dtype(series):
        # Already numbers (the common case): plain numpy, no per-value parsing. This is what
        # keeps a 10,000-column table from spending seconds in pandas bookkeeping.
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        numbers = pd.Series(values, index=series.index, name=series.name, copy=False)
    else:
        numbers = pd.to_numeric(series, errors="coerce").astype("float64")
        values = numbers.to_numpy()
        bad = np.isnan(values) & series.notna().to_numpy()
        if bad.any():
            position = int(np.flatnonzero(bad)[0])
            row = row_number(position)
            raise DataError(
                f"{where}column {name!r} holds text {str(series.iloc[position])!r} at data row "
                f"{row} (line {row + 1}) where numbers are expected",
                hint="fix or blank that cell",
            )
    with np.errstate(invalid="ignore"):
        too_large = np.abs(values) > FLOAT32_MAX
    if too_large.any():
        position = int(np.flatnonzero(too_large)[0])
        row = row_number(position)
        if np.isinf(values[position]):
            raise DataError(
                f"{where}column {name!r} holds an infinite value at data row {row} (line {row + 1})",
                hint="replace it with a finite number or leave the cell empty",
            )
        raise DataError(
            f"{where}column {name!r} holds {values[position]:.6g} at data row {row} "
            f"(line {row + 1}), beyond the float32 range nncli computes in (±3.4e38)",
            hint="rescale the column (e.g. thousands, or a logarithm) or blank that cell",
        )
    return numbers


def numeric_columns(
    frame: pd.DataFrame, names: list[str], path: Path | None = None
) -> dict[str, np.ndarray]:
    """Each named column as float64 numbers, checked as `numeric_values` checks them.

    Columns that are already numpy numbers are converted as one block: on a table of
    10,000 numeric columns, one call per column would cost seconds of pandas overhead.
    """
    import numpy as np

    dtypes = frame.dtypes
    plain = [
        name for name in names if isinstance(dtypes[name], np.dtype) and dtypes[name].kind in "iuf"
    ]
    columns: dict[str, np.ndarray] = {}
    if plain:
        block = frame[plain].to_numpy(dtype=np.float64)  # [rows, plain columns]
        with np.errstate(invalid="ignore"):
            out_of_range = (np.abs(block) > FLOAT32_MAX).any(axis=0)
        for index, name in enumerate(plain):
            if out_of_range[index]:
                numeric_values(frame[name], path, name)  # raises, naming the first bad row
            columns[name] = block[:, index]
    for name in names:
        if name not in columns:
            columns[name] = numeric_values(frame[name], path, name).to_numpy()
    return columns


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
    numbers = numeric_columns(
        frame, [name for name, kind in kinds.items() if kind is ColumnKind.NUMERIC], path
    )
    for name, kind in kinds.items():
        if kind is ColumnKind.NUMERIC:
            values = numbers[name]
            missing = np.isnan(values)
            median = float(np.median(values[~missing])) if not missing.all() else 0.0
            filled = np.where(missing, median, values)
            # numeric_values caps magnitudes at float32's limit, so float64 cannot overflow here.
            mean = float(filled.mean())
            std = float(filled.std())
            if not np.isfinite(std) or std < 1e-12:
                std = 1.0
            preprocessor.numeric.append(
                NumericSpec(name, median, mean, std, missing_indicator=bool(missing.any()))
            )
        elif kind in (ColumnKind.CATEGORICAL, ColumnKind.BOOLEAN):
            counts = category_strings(frame[name]).value_counts()
            vocabulary = _most_frequent(counts, max_categories)
            preprocessor.categorical.append(CategoricalSpec(name, str(kind), vocabulary))
    return preprocessor


def _most_frequent(counts: pd.Series, limit: int) -> list[str]:
    """The `limit` most frequent values, ties by value, so the same data gives the same vocabulary.

    Only values that can make the cut are sorted: a column of a million distinct values
    (all tied at one row each) costs a heap selection of `limit` items, not a full sort.
    """
    import heapq

    if len(counts) > limit:
        threshold = counts.nlargest(limit).min()
        above = counts[counts > threshold]
        tied = heapq.nsmallest(limit - len(above), map(str, counts.index[counts == threshold]))
        ordered = sorted(((str(v), int(c)) for v, c in above.items()), key=lambda i: (-i[1], i[0]))
        return [value for value, _ in ordered] + tied
    ordered = sorted(((str(v), int(c)) for v, c in counts.items()), key=lambda i: (-i[1], i[0]))
    return [value for value, _ in ordered]


def transform(
    preprocessor: Preprocessor, frame: pd.DataFrame, *, path: Path | None = None
) -> EncodedFeatures:
    """Apply the fitted preprocessing; unseen and missing categories go to the unknown bucket."""
    import numpy as np
    import pandas as pd

    rows = len(frame)
    numeric = np.empty((rows, preprocessor.n_numeric_features), dtype=np.float32)
    column = 0
    numbers = numeric_columns(frame, [spec.name for spec in preprocessor.numeric], path)
    for spec in preprocessor.numeric:
        values = numbers[spec.name]
        missing = np.isnan(values)
        values = np.where(missing, spec.median, values)
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
