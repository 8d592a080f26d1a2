"""What to learn and how: the options of `nncli train` (and of tuning's trials), declared once."""

from __future__ import annotations

from dataclasses import dataclass, field

from nncli.data.loading import CsvOptions
from nncli.errors import UsageError
from nncli.option_presets import (
    DATA,
    MODEL,
    automatic_count,
    data_option,
    model_option,
    split_option,
    training_option,
)
from nncli.options import AtLeast, OneOf, Within, option
from nncli.tasks import TASK_NAMES
from nncli.training.config import TrainingConfig

MIN_TRAINING_ROWS = 10  # fewer cannot fill a training, a validation and a test split
TABULAR_ARCHITECTURES = ("mlp", "rbf", "tabm")
ACTIVATIONS = ("relu", "gelu", "silu", "tanh", "leaky_relu", "elu")
SPLITS = ("auto", "stratified", "random", "time", "column")


def parse_sizes(text: str) -> list[int]:
    """'128,64' -> [128, 64]."""
    try:
        sizes = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError as exc:
        raise UsageError(f"{text!r} is not a comma-separated list of integers (--hidden)") from exc
    if not sizes or any(size < 1 for size in sizes):
        raise UsageError(f"{text!r}: layer widths must be positive integers")
    return sizes


def show_sizes(sizes: list[int]) -> str:
    return ",".join(str(size) for size in sizes)


@dataclass
class InspectOptions:
    """What `nncli inspect` looks at besides the columns; every field is one of its options."""

    target: str | None = option(
        None, help="Column to predict: adds its balance, the task and leakage checks.", short="-t"
    )
    time_col: str | None = option(
        None, help="Time column: --plot draws each series' history and return distribution."
    )
    group_col: str | None = option(
        None, help="Column naming the series (with --time-col), e.g. ticker."
    )


@dataclass
class TabularOptions:
    """What to learn and how; every field is a `nncli train` option."""

    target: str = option(help="Column to predict.", short="-t")
    task: str | None = option(
        None,
        help="classification or regression (default: inferred).",
        check=OneOf(TASK_NAMES),
        hidden_default=True,
    )
    drop: list[str] = option(
        default_factory=list, help="Column to leave out (repeatable).", panel=DATA, repeatable=True
    )
    id_columns: list[str] = option(
        default_factory=list,
        help="ID column: not a feature, kept in predictions (repeatable).",
        flag="--id-col",
        panel=DATA,
        repeatable=True,
    )
    max_categories: int = data_option(
        1000,
        help="Most frequent categories kept per column; rarer ones share the unknown bucket.",
        check=AtLeast(1),
    )
    split: str = split_option(
        "auto",
        help="auto (stratified for classes), stratified, random, time, or column.",
        check=OneOf(SPLITS),
    )
    split_col: str | None = split_option(
        None, help="Column holding train/valid/test per row.", envvar=False
    )
    time_col: str | None = split_option(
        None, help="Time column for --split time (oldest rows train, newest test).", envvar=False
    )
    valid_size: float = split_option(0.15, help="Share of rows for validation (early stopping).")
    test_size: float = split_option(0.15, help="Share of rows held out for the final test.")
    hidden_sizes: list[int] = option(
        default_factory=lambda: [128, 64],
        help="Hidden layer widths, comma-separated.",
        flag="--hidden",
        panel=MODEL,
        parse=parse_sizes,
        show=show_sizes,
    )
    activation: str = model_option(
        "relu", help="relu, gelu, silu, tanh, leaky_relu or elu.", check=OneOf(ACTIVATIONS)
    )
    dropout: float = model_option(
        0.1, help="Dropout after each hidden layer.", check=Within(0, 1, "[)")
    )
    batch_norm: bool = model_option(False, help="Batch normalisation after each hidden layer.")
    arch: str = model_option(
        "mlp",
        help=(
            "mlp; rbf (a radial-basis-function network: Gaussian units around learned "
            "centres); or tabm (numeric embeddings + an ensemble of k=8 MLPs sharing "
            "weights, trained on its own schedule; --epochs caps it at 64)."
        ),
        parse=str.lower,
        check=OneOf(TABULAR_ARCHITECTURES),
    )
    centres: int | None = automatic_count(
        help="RBF units (--arch rbf) (default: the first --hidden width).", panel=MODEL
    )
    class_weights: bool = training_option(False, help="Weight classes by inverse frequency.")
    training: TrainingConfig = field(default_factory=TrainingConfig)
    csv: CsvOptions = field(default_factory=CsvOptions)

    def check_combination(self) -> None:
        """Rules that involve more than one option."""
        if not self.hidden_sizes or any(size < 1 for size in self.hidden_sizes):
            raise UsageError("--hidden needs positive layer widths, e.g. --hidden 128,64")

    def validate(self) -> None:
        """Reject impossible settings before any data is read."""
        from nncli.options import check_options

        check_options(self)
