"""What to learn and how: the options of `nncli train` (and of tuning's trials), declared once."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING

from nncli.data.loading import CsvOptions
from nncli.errors import UsageError
from nncli.option_presets import (
    DATA,
    MODEL,
    architecture_default,
    automatic_count,
    data_option,
    model_option,
    split_option,
    training_option,
)
from nncli.options import AtLeast, HelpNote, OneOf, Within, option, per_choice
from nncli.tabular.architectures import ARCHITECTURE_OPTIONS, ARCHITECTURES, architectures_taking
from nncli.tasks import TASK_NAMES
from nncli.training.config import TrainingConfig

if TYPE_CHECKING:
    from pathlib import Path

    import pandas as pd

DEFAULT_ARCHITECTURE = "tabm"
# bf16 on the tables' networks, measured on a CPU with AMX/AVX-512 BF16
# (benchmarks/RESULTS-precision.md).
PRECISION_HELP = (
    "fp32, or bf16: the forward pass in bfloat16 (weights stay fp32). Measured on a CPU with "
    "AMX/AVX-512 BF16: 1.25-1.37x faster for TabM at --hidden 256,256 (accuracy not "
    "measured), 1.7-2.8x for --arch mlp --hidden 512,512, slower for --arch mlp at its "
    "default --hidden 128,64; see benchmarks/RESULTS-precision.md."
)
MIN_TRAINING_ROWS = 10  # fewer cannot fill a training, a validation and a test split
TABULAR_ARCHITECTURES = tuple(ARCHITECTURES)
ACTIVATIONS = ("relu", "gelu", "silu", "tanh", "leaky_relu", "elu")
SPLITS = ("auto", "stratified", "random", "time", "column")
NUMERIC_EMBEDDINGS = ("ple", "pbld", "plr", "none")  # as nncli.models.tabm (kept light here)
LR_SCHEDULES = ("coslog4", "warmup_cos", "flat_anneal", "constant")  # nncli.training.schedule
FINAL_REFITS = ("auto", "always", "never")
# --final-refit auto: the largest train+validation part refitted. Up to it (every table of
# the accuracy benchmark) the refit made 13 of 15 tables at least as accurate as boosting
# instead of 9; above it the second fit's time grows past its worth (50,000 rows: 29 s -> 63 s).
FINAL_REFIT_MAX_ROWS = 20_000


def architecture_help(default: str) -> str:
    """--arch's help: each network of the registry, the default first."""
    names = [default, *(name for name in ARCHITECTURES if name != default)]
    return "; ".join(
        f"{name}{' (the default)' if name == default else ''}: {ARCHITECTURES[name].summary}"
        for name in names
    )


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
    valid_size: float = split_option(
        0.15, help="Share of rows for validation (early stopping).", check=Within(0, 1, "()")
    )
    test_size: float = split_option(
        0.15, help="Share of rows held out for the final test.", check=Within(0, 1, "()")
    )
    hidden_sizes: list[int] = option(
        default_factory=lambda: [128, 64],
        help="Hidden layer widths, comma-separated.",
        flag="--hidden",
        panel=MODEL,
        parse=parse_sizes,
        show=show_sizes,
    )
    activation: str = model_option(
        "relu",
        help="relu, gelu, silu, tanh, leaky_relu or elu (--arch tabm or mlp).",
        check=OneOf(ACTIVATIONS),
    )
    dropout: float = model_option(
        0.1, help="Dropout after each hidden layer (--arch tabm or mlp).", check=Within(0, 1, "[)")
    )
    batch_norm: bool = model_option(
        False, help="Batch normalisation after each hidden layer (--arch mlp)."
    )
    arch: str = model_option(
        DEFAULT_ARCHITECTURE,
        help=architecture_help(DEFAULT_ARCHITECTURE) + ".",
        parse=str.lower,
        check=OneOf(TABULAR_ARCHITECTURES),
    )
    # The defaults of these and of the training settings are the networks' own, and the
    # help reads them from the registry (`help_notes`).
    centres: int | None = automatic_count(help="RBF units (--arch rbf).", panel=MODEL)
    members: int | None = automatic_count(
        help="TabM ensemble members sharing one trunk (--arch tabm; 1: one MLP).", panel=MODEL
    )
    numeric_embedding: str | None = model_option(
        None,
        help="Numeric feature embeddings (--arch tabm): ple, pbld, plr or none.",
        check=OneOf(NUMERIC_EMBEDDINGS),
        hidden_default=True,
    )
    no_front_scale: bool = model_option(
        False, help="Leave out TabM's learnable per-feature input scale (--arch tabm)."
    )
    no_robust_scaling: bool = model_option(
        False,
        help="Feed TabM standardised numbers as they are, without its median/IQR scaling "
        "and smooth clip (--arch tabm).",
    )
    lr_schedule: str | None = architecture_default(
        help="Learning-rate schedule for --arch tabm over its epoch budget: coslog4, "
        "warmup_cos, flat_anneal or constant.",
        check=OneOf(LR_SCHEDULES),
    )
    label_smoothing: float | None = architecture_default(
        help="Label smoothing for --arch tabm classification; 0 turns it and the "
        "temperature scaling after it off.",
        check=Within(0, 1, "[)"),
    )
    class_weights: bool = training_option(False, help="Weight classes by inverse frequency.")
    final_refit: str = training_option(
        "auto",
        help="Retrain the saved network on train+validation for the early-stopped one's best "
        "epoch count: always, never, or auto (up to 20,000 train+validation rows, where it "
        "helps most and costs least).",
        check=OneOf(FINAL_REFITS),
    )
    epoch_folds: int = training_option(
        1,
        help="Folds of train+validation whose mean validation curve chooses the final refit's "
        "epoch count (1: the validation split's best epoch). 5: more accurate on 6 of the 8 "
        "benchmark tables up to 3,000 rows, at about 3x the command's time.",
        check=AtLeast(1),
    )
    training: TrainingConfig = field(default_factory=TrainingConfig)
    csv: CsvOptions = field(default_factory=CsvOptions)

    @classmethod
    def help_notes(cls) -> dict[str, HelpNote]:
        """How a table command's help describes the settings each network chooses for itself
        where they are left out (each registry entry's `help_defaults`, the default network
        first), and the training settings' help for tables."""
        options = cls(target="")
        names = [options.arch, *(name for name in ARCHITECTURES if name != options.arch)]
        values = {name: ARCHITECTURES[name].help_defaults(options) for name in names}
        flags = dict.fromkeys(flag for by_flag in values.values() for flag in by_flag)
        notes = {
            flag: HelpNote(
                default=per_choice(
                    {name: values[name][flag] for name in names if flag in values[name]}
                )
            )
            for flag in flags
        }
        notes["--batch-size"] = HelpNote("Rows per mini-batch.", notes["--batch-size"].default)
        notes["--precision"] = HelpNote(PRECISION_HELP)
        return notes

    def wants_final_refit(self, rows: int) -> bool:
        """Whether the network saved from `rows` train+validation rows is the final refit."""
        if self.final_refit == "auto":
            return rows <= FINAL_REFIT_MAX_ROWS
        return self.final_refit == "always"

    def check_combination(self) -> None:
        """Rules that involve more than one option."""
        if not self.hidden_sizes or any(size < 1 for size in self.hidden_sizes):
            raise UsageError("--hidden needs positive layer widths, e.g. --hidden 128,64")
        if self.valid_size + self.test_size >= 0.9:
            raise UsageError(
                f"--valid-size {self.valid_size:g} and --test-size {self.test_size:g} leave "
                "less than 10% of the rows to train"
            )
        for flag, value, splits in (
            ("--time-col", self.time_col, ("auto", "time")),
            ("--split-col", self.split_col, ("auto", "column")),
        ):
            if value is not None and self.split not in splits:
                raise UsageError(
                    f"{flag} {value} does not apply to --split {self.split}",
                    hint=f"use --split {splits[1]}, or leave out {flag}",
                )
        if self.time_col is not None and self.split_col is not None:
            raise UsageError(
                "--time-col and --split-col name two different splits", hint="give one of them"
            )
        if self.split == "column" and self.split_col is None:
            raise UsageError("--split column needs --split-col NAME")
        self._check_epoch_folds()
        self._check_architecture_options()
        if self.task is not None:
            self.check_task(self.task)

    def _check_epoch_folds(self) -> None:
        """--epoch-folds chooses a refit's epoch count from random folds: it needs a refit,
        and rows that may be shuffled (a time split validates on the newest rows only)."""
        if self.epoch_folds == 1:
            return
        flag = f"--epoch-folds {self.epoch_folds}"
        if self.final_refit == "never":
            raise UsageError(
                f"{flag} chooses the final refit's epoch count, and --final-refit never "
                "turns the refit off",
                hint="leave out one of them",
            )
        if self.split == "time" or self.time_col is not None:
            raise UsageError(
                f"{flag} would validate on random rows of a time split, training on rows "
                "newer than it validates on",
                hint="leave out --epoch-folds: the newest rows choose the epoch count",
            )

    def _check_architecture_options(self) -> None:
        """An option the chosen network does not use is refused, not silently ignored
        (each registry entry's `takes`)."""
        from nncli.options import flag_name

        unused = ARCHITECTURE_OPTIONS - ARCHITECTURES[self.arch].takes
        for declared in fields(self):
            if declared.name in unused and getattr(self, declared.name) != declared.default:
                flag, takers = flag_name(declared), architectures_taking(declared.name)
                raise UsageError(
                    f"{flag} applies to --arch {' or '.join(takers)} only, not --arch {self.arch}",
                    hint=f"add --arch {takers[0]}, or leave out {flag}",
                )

    def split_plan(self, frame: pd.DataFrame, path: Path) -> tuple[str, str | None]:
        """The split method and the time column it orders rows by (None: not a time split).

        --time-col turns --split auto into a time split; --split time without --time-col
        uses the table's one date/time column, and refuses when it has none or several
        (file order is no evidence of time order).
        """
        if self.time_col is not None:
            return "time", self.time_col
        if self.split != "time":
            return self.split, None
        from nncli.data.schema import ColumnKind, infer_column

        skip = {self.target, self.split_col}
        dated = [
            str(name)
            for name in frame.columns
            if name not in skip and infer_column(str(name), frame[name]).kind is ColumnKind.DATETIME
        ]
        if len(dated) == 1:
            return "time", dated[0]
        found = f"several ({', '.join(dated)})" if dated else "none"
        raise UsageError(
            f"{path}: --split time needs a time column to order the rows by, and the table "
            f"has {found}",
            hint="name it with --time-col COLUMN, or choose another --split",
        )

    def check_task(self, task: str) -> None:
        """Refuse options that need classes when the (inferred) task is regression."""
        if self.class_weights and task == "regression":
            raise UsageError(
                f"--class-weights needs classes; target {self.target!r} is a regression target",
                hint="leave out --class-weights, or pass --task classification",
            )
        if self.label_smoothing is not None and task == "regression":
            raise UsageError(
                f"--label-smoothing needs classes; target {self.target!r} is a regression target",
                hint="leave out --label-smoothing, or pass --task classification",
            )

    def validate(self) -> None:
        """Reject impossible settings before any data is read."""
        from nncli.options import check_options

        check_options(self)
