"""What to forecast and how: the options of the forecast commands, declared once.

`PanelSpec` names the columns, `ForecastOptions` the model and its training,
`BacktestOptions` the walk-forward folds, `QualityGates` the exit-5 checks, `Freshness` the
stale-data refusal, and `JobOptions` the scheduled job (`forecast run`) built from all of them.
The CLI spells each field out as a flag (`nncli.cli.options.command`); a Python caller builds
the same dataclasses.

Light on purpose: imported when the CLI starts, so no numpy, pandas or torch here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from nncli.errors import UsageError
from nncli.forecasting.architectures import (
    ARCHITECTURES,
    ForecastArchitecture,
    forecast_architecture,
)
from nncli.forecasting.transforms import TRANSFORMS, Transform, get_transform
from nncli.option_presets import (
    BACKTEST,
    JOB,
    MODEL,
    SERIES,
    automatic_count,
    backtest_option,
    gate_option,
    model_option,
    series_option,
    training_option,
)
from nncli.options import (
    AtLeast,
    HelpNote,
    NonNegative,
    OneOf,
    Within,
    check_options,
    option,
    per_choice,
    show_rate,
)
from nncli.training.config import TrainingConfig, batch_rule

FORECAST_ARCHITECTURES = tuple(ARCHITECTURES)
ANCHORS = ("auto", "naive", "seasonal")
COMBINES = ("auto", "ets", "none")
WINDOWS = ("expanding", "fixed")
PARTIAL_LAST_ROW = ("error", "drop", "allow")
# bf16 on the forecasters, measured on a CPU with AMX/AVX-512 BF16
# (benchmarks/RESULTS-precision.md).
PRECISION_HELP = (
    "fp32, or bf16: the forward pass in bfloat16 (weights stay fp32). Measured on a CPU with "
    "AMX/AVX-512 BF16: 1.3-1.5x faster for --arch lstm, slower for nhits; see "
    "benchmarks/RESULTS-precision.md."
)


def parse_quantiles(text: str) -> list[float]:
    """'0.1,0.5,0.9' -> [0.1, 0.5, 0.9] (sorted, duplicates removed)."""
    try:
        return sorted({float(part) for part in text.split(",") if part.strip()})
    except ValueError as exc:
        raise UsageError(f"--quantiles {text!r}: use numbers in (0, 1), e.g. 0.1,0.5,0.9") from exc


def show_quantiles(quantiles: list[float]) -> str:
    """[0.1, 0.5, 0.9] -> '0.1,0.5,0.9'."""
    return ",".join(f"{q:g}" for q in quantiles)


def parse_age(text: str) -> float:
    """'36h', '3d', '2w' or plain days -> days."""
    units = {"h": 1 / 24, "d": 1.0, "w": 7.0}
    text = text.strip().lower()
    try:
        days = float(text[:-1]) * units[text[-1]] if text and text[-1] in units else float(text)
    except ValueError as exc:
        raise UsageError(f"--max-age {text!r}: use a number of days or e.g. 36h, 3d, 2w") from exc
    if not math.isfinite(days) or days < 0:  # nan would silently switch the gate off
        raise UsageError(f"--max-age {text!r}: must be a finite age, zero or more, e.g. 3d")
    return days


@dataclass
class PanelSpec:
    """Which columns hold time, series name, target and covariates."""

    time_col: str = series_option(help="Timestamp column.")
    target: str = series_option(help="Column to forecast (e.g. adj_close).", short="-t")
    group_col: str | None = series_option(
        None, help="Column naming the series (e.g. ticker): one global model for all."
    )
    covariates: list[str] = option(
        default_factory=list,
        help="Past-observed covariate column (repeatable), e.g. volume.",
        flag="--covariate",
        panel=SERIES,
        repeatable=True,
    )
    wide: bool = series_option(
        False, help="The file is wide: a time column and one numeric column per series."
    )


@dataclass
class ForecastOptions:
    """What to forecast and how; every field is a `nncli forecast train` option."""

    panel: PanelSpec
    arch: str = model_option(
        "nhits",
        help="nhits (N-HITS: residual MLP stacks on pooled inputs), lstm, gru, rnn, tcn "
        "(dilated causal convolutions), or mlp (feedforward on flattened lags).",
        parse=str.lower,
        check=OneOf(FORECAST_ARCHITECTURES),
    )
    # The defaults of the sizes and of the training settings are each architecture's own,
    # and the help reads them from the registry (`help_notes`).
    lookback: int | None = model_option(
        None, help="Past steps the network reads.", check=AtLeast(1), hidden_default=True
    )
    horizon: int = model_option(5, help="Future steps forecast at once.", check=AtLeast(1))
    transform: str = model_option(
        "log-return",
        help="log-return, diff, pct or none; forecasts are inverted back to levels.",
        check=OneOf(TRANSFORMS),
    )
    hidden_size: int | None = automatic_count(
        help="Recurrent state, TCN channels, MLP or N-HITS layer width.", panel=MODEL
    )
    num_layers: int | None = automatic_count(
        help="Stacked recurrent layers (tcn: at least this many residual blocks; nhits: "
        "hidden layers per block).",
        flag="--layers",
        panel=MODEL,
    )
    dropout: float = model_option(0.0, help="Dropout between layers.", check=Within(0, 1, "[)"))
    ensemble: int | None = automatic_count(
        help="Networks trained over seeds and lookbacks whose quantiles are combined by their "
        "element-wise median; 1 = a single model.",
        panel=MODEL,
    )
    no_window_norm: bool = model_option(
        False,
        help="Feed lstm/gru/rnn/tcn/mlp raw windows. By default each window's target steps "
        "are divided by their mean size and the forecast scaled back (RevIN-style), so one "
        "model serves series of any scale; nhits always normalises.",
    )
    anchor: str = model_option(
        "auto",
        help="nhits: what the network corrects: naive (no change), seasonal (the value one "
        "season back), or auto (seasonal when it beats naive on the training data).",
        check=OneOf(ANCHORS),
    )
    combine: str = model_option(
        "auto",
        help="ets: average the network's median with ETS fitted per series at forecast time; "
        "none; auto: for nhits, ets where it beats the network alone on validation by 5 % "
        "of its error or by a Diebold-Mariano test (only by the test where the no-harm rule "
        "chose the random walk).",
        check=OneOf(COMBINES),
    )
    quantiles: list[float] = option(
        default_factory=lambda: [0.1, 0.5, 0.9],
        help="Quantiles trained with pinball loss; lowest/highest give the interval, 0.5 the forecast.",
        panel=MODEL,
        parse=parse_quantiles,
        show=show_quantiles,
    )
    season: int | None = model_option(
        None,
        help="Season length for seasonal naive, ETS and MASE (default: from the frequency: "
        "monthly 12, quarterly 4, weekly 52, business-daily 5, daily 7, hourly 24); 1 turns "
        "seasonality off.",
        check=AtLeast(1),
        hidden_default=True,
    )
    valid_size: float = training_option(
        0.15,
        help="Newest share of each series' windows used for validation.",
        check=Within(0, 0.5, "()"),
    )
    training: TrainingConfig = field(default_factory=lambda: TrainingConfig(epochs=30, patience=5))

    @classmethod
    def help_notes(cls) -> dict[str, HelpNote]:
        """How a series command's help describes what each forecaster uses where an option is
        left out (the registry's entries, the default first), and the training settings'
        help for series."""
        from nncli.forecasting.ensemble import NHITS_BATCH, SHORT_STEPS_PER_EPOCH, STEPS_PER_EPOCH

        options = cls(PanelSpec(time_col="", target=""))
        names = [options.arch, *(name for name in ARCHITECTURES if name != options.arch)]
        values: dict[str, dict[str, str]] = {}
        for name in names:
            chosen = replace(options, arch=name)
            entry, filled = chosen.architecture, chosen.training.filled()
            assert filled.learning_rate is not None and filled.weight_decay is not None
            multiples = entry.lookback_multiples[: chosen.member_count()]
            values[name] = {
                "--lookback": f"{', '.join(f'{m}h' for m in multiples)} across its members "
                "(h: --horizon)"
                if multiples
                else ", ".join(map(str, chosen.member_lookbacks())),
                "--hidden-size": str(chosen.width),
                "--layers": str(chosen.depth),
                "--ensemble": str(chosen.member_count()),
                "--batch-size": str(NHITS_BATCH) if entry.step_budget else batch_rule("windows"),
                "--lr": show_rate(filled.learning_rate),
                "--weight-decay": show_rate(filled.weight_decay),
                "--patience": str(filled.patience),
            }
        notes = {
            flag: HelpNote(default=per_choice({name: values[name][flag] for name in names}))
            for flag in values[options.arch]
        }
        notes["--batch-size"] = HelpNote("Windows per mini-batch.", notes["--batch-size"].default)
        budgeted = " and ".join(name for name in names if ARCHITECTURES[name].step_budget)
        notes["--epochs"] = HelpNote(
            f"Most epochs to train ({budgeted}: an epoch is {STEPS_PER_EPOCH} mini-batches, "
            f"{SHORT_STEPS_PER_EPOCH} where the training windows fill fewer than "
            f"{SHORT_STEPS_PER_EPOCH} batches; the others: one pass over the windows)."
        )
        notes["--precision"] = HelpNote(PRECISION_HELP)
        return notes

    def check_combination(self) -> None:
        """Rules no single declaration can state."""
        if (
            not self.quantiles
            or any(not 0 < q < 1 for q in self.quantiles)
            or 0.5 not in self.quantiles
        ):
            raise UsageError("--quantiles must lie in (0, 1) and include 0.5 (the point forecast)")
        entry = self.architecture
        if entry.changes_only and self.target_transform.centred:
            raise UsageError(
                f"--arch {self.arch} forecasts changes, not --transform {self.transform}",
                hint="use --transform diff (or log-return for positive series)",
            )
        if self.lookback is not None and self.lookback < entry.min_lookback:
            raise UsageError(f"--arch {self.arch} needs --lookback {entry.min_lookback} or more")

    def member_count(self) -> int:
        """Ensemble members: --ensemble, else the architecture's (6 for nhits, 1 otherwise)."""
        if self.ensemble is not None:
            return self.ensemble
        return self.architecture.members

    def member_lookbacks(self) -> list[int]:
        """The distinct lookbacks the members read, in the order members take them."""
        if self.lookback is not None:
            return [self.lookback]
        return self.architecture.default_lookbacks(self.horizon, self.member_count())

    @property
    def architecture(self) -> ForecastArchitecture:
        """The registry entry of --arch."""
        return forecast_architecture(self.arch)

    @property
    def window_norm(self) -> bool:
        """Per-window normalisation (on unless --no-window-norm)."""
        return not self.no_window_norm

    @property
    def width(self) -> int:
        """--hidden-size, else the architecture's default."""
        return self.hidden_size or self.architecture.width

    @property
    def depth(self) -> int:
        """--layers, else the architecture's default."""
        return self.num_layers or self.architecture.depth

    @property
    def window_length(self) -> int:
        """The longest lookback: every window is built this long, members read its tail."""
        return max(self.member_lookbacks())

    def validate(self) -> None:
        """Reject impossible settings before any data is read."""
        check_options(self)

    @property
    def target_transform(self) -> Transform:
        """The transform object named by `transform`."""
        return get_transform(self.transform)

    @property
    def first_valid(self) -> int:
        """The first index with a defined per-step value (returns need a predecessor)."""
        return self.target_transform.first_valid

    def min_length(self, with_validation: bool = True) -> int:
        """Rows a series needs: one window, its horizon, and a few validation origins."""
        base = self.first_valid + self.window_length + self.horizon
        return base + (2 * self.horizon + 1 if with_validation else 0)


@dataclass
class BacktestOptions:
    """Folds, their spacing, the training window and the retraining schedule."""

    folds: int = backtest_option(5, help="Forecast origins, walking forward.", check=AtLeast(1))
    stride: int | None = automatic_count(
        help="Steps between origins (default: the horizon).", panel=BACKTEST
    )
    window: str = backtest_option(
        "expanding",
        help="expanding (all history) or fixed (--train-window rows).",
        check=OneOf(WINDOWS),
    )
    train_window: int | None = backtest_option(
        None, help="Rows per series for --window fixed.", check=AtLeast(1)
    )
    retrain_every: int = backtest_option(
        1, help="Retrain at every N-th fold (mimics a scheduled retrain).", check=AtLeast(1)
    )

    def check_combination(self) -> None:
        """A fixed window needs its length."""
        if self.window == "fixed" and not self.train_window:
            raise UsageError("--window fixed needs --train-window ROWS")

    def validate(self, horizon: int | None = None) -> None:
        """Reject impossible settings before any data is read (`horizon` is not needed)."""
        check_options(self)


@dataclass
class QualityGates:
    """Checks that turn a poor score into exit code 5 (backtest, live ledger, scheduled job)."""

    fail_if_worse_than_naive: bool = gate_option(
        False, help="Exit 5 when the network's MASE is not below the naive forecast's."
    )
    fail_if_worse_than_baseline: bool = gate_option(
        False,
        help="Exit 5 when the network's MASE is not below the best baseline's "
        "(naive, drift, seasonal naive, ETS: whichever scored best).",
    )
    max_mase: float | None = gate_option(
        None,
        help="Exit 5 when the network's MASE is above this.",
        check=NonNegative(),
        hidden_default=True,
    )


@dataclass
class Freshness:
    """Refuse data whose newest row is too old (exit code 6)."""

    max_age_days: float | None = option(
        None,
        help="Refuse (exit 6) when the newest row is older than this (days, or 36h, 3d, 2w).",
        flag="--max-age",
        parse=parse_age,
        check=NonNegative(),
        hidden_default=True,
    )
    as_of: datetime | None = option(
        None,
        help="The 'now' for --max-age and the retrain schedule (default: the current time).",
        hidden_default=True,
    )

    def now(self) -> datetime:
        """--as-of, else the current time in UTC without an offset: the clock every command
        compares the data's naive timestamps with (a day of slack covers local dates)."""
        return self.as_of or datetime.now(UTC).replace(tzinfo=None)


@dataclass
class PredictFreshness(Freshness):
    """`forecast predict`'s freshness: there --as-of serves --max-age only."""

    def check_combination(self) -> None:
        if self.as_of is not None and self.max_age_days is None:
            raise UsageError(
                "--as-of sets 'now' for --max-age only", hint="add --max-age, or leave out --as-of"
            )


@dataclass
class LedgerScoring:
    """How matured forecasts in the ledger are scored."""

    window: int = option(
        20, help="Trailing window: the newest N forecast origins.", check=AtLeast(1)
    )


@dataclass
class RetrainSchedule:
    """When the scheduled job retrains, and whether a retrained model must beat naive."""

    retrain_every_days: float | None = option(
        7.0, help="Retrain when the model is this many days old.", panel=JOB, check=NonNegative()
    )
    retrain_every_runs: int | None = automatic_count(
        help="Retrain after this many runs.", panel=JOB
    )
    retrain_if_mase_above: float | None = option(
        None,
        help="Retrain when the trailing live MASE exceeds this.",
        panel=JOB,
        check=NonNegative(),
        hidden_default=True,
    )
    require_beats_naive: bool = gate_option(
        False,
        help="Keep the previous model when a retrained one does not beat naive on validation MASE.",
    )


@dataclass
class JobOptions:
    """A scheduled job (`nncli forecast run`): its files, schedule, gates and forecaster."""

    forecast: ForecastOptions
    data: Path = option(help="The price/series CSV to read.", panel=JOB)
    model: Path = option(
        help="The job's model file (created on the first run, replaced on retrains).", panel=JOB
    )
    ledger: Path = option(help="The forecast ledger CSV (append-only).", panel=JOB)
    lock: Path | None = option(
        None, help="Lock file (default: MODEL.lock).", panel=JOB, hidden_default=True
    )
    wait_seconds: float = option(
        0.0,
        help="Seconds to wait for a running job's lock before giving up (exit 7).",
        flag="--wait",
        panel=JOB,
        check=NonNegative(),
    )
    partial_last_row: str = option(
        "error",
        help="A last line without a line ending (a file still being written): error, drop (with a warning) or allow.",
        panel=JOB,
        check=OneOf(PARTIAL_LAST_ROW),
    )
    freshness: Freshness = field(default_factory=Freshness)
    schedule: RetrainSchedule = field(default_factory=RetrainSchedule)
    gates: QualityGates = field(default_factory=QualityGates)
    scoring: LedgerScoring = field(default_factory=LedgerScoring)
    state: Path | None = None  # library only: default MODEL.state.json

    @property
    def lock_path(self) -> Path:
        return self.lock or self.model.with_name(self.model.name + ".lock")

    @property
    def state_path(self) -> Path:
        return self.state or self.model.with_name(self.model.name + ".state.json")

    @property
    def backup_path(self) -> Path:
        return self.model.with_name(self.model.name + ".prev")
