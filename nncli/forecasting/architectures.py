"""The forecasting networks, one registry entry each: the only place that asks "which one?".

An entry holds what differs between forecasters as settings (members, lookbacks, width and
depth by default, whether it normalises its own windows, corrects an anchor, trains on a
step budget, is combined with ETS) and rebuilds its member network from a saved config.
Adding a forecaster: a network in `nncli/models/<name>.py`, one `ForecastArchitecture` in
`ARCHITECTURES` here.

Light at import (the CLI reads the names for its choices): torch and the networks are
imported inside `rebuild`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

# nhits' default lookbacks, as multiples of the horizon, in the order members take them
# (one member reads 3h; three read 3h, 2h, 5h; six add a second seed to each): the ones
# `benchmarks/forecast_accuracy.py` measured (benchmarks/RESULTS-forecast-candidates.md).
NHITS_LOOKBACK_MULTIPLES = (3, 2, 5)
RECURRENT_LOOKBACK = 60


@dataclass(frozen=True)
class ForecastArchitecture:
    """A forecaster and the defaults and abilities the ensemble, options and model ask for."""

    name: str
    display: str  # its name in titles, tables and verdicts: "N-HITS"
    summary: str = ""  # what it is, for --arch's help
    members: int = 1  # ensemble members by default (--ensemble)
    width: int = 64  # --hidden-size by default
    depth: int = 1  # --layers by default
    lookback_multiples: tuple[int, ...] = ()  # of the horizon; () : RECURRENT_LOOKBACK
    normalises_windows: bool = False  # always, not only with --window-norm
    anchored: bool = False  # corrects a naive or seasonal-naive anchor (--anchor)
    step_budget: bool = False  # "epochs" of a fixed number of mini-batches
    combined_with_ets: bool = False  # --combine auto tries network + ETS
    changes_only: bool = False  # forecasts changes: refuses centred transforms
    min_lookback: int = 1

    def default_lookbacks(self, horizon: int, members: int) -> list[int]:
        """The distinct lookbacks the members read when --lookback is left out."""
        if not self.lookback_multiples:
            return [RECURRENT_LOOKBACK]
        return [max(2, m * horizon) for m in self.lookback_multiples[:members]]

    def rebuild(self, config: dict[str, Any], window_norm: bool) -> nn.Module:
        """The member network a saved config describes (untrained)."""
        from nncli.models.nbeats import NBeatsConfig, NBeatsForecaster, WindowNormalised
        from nncli.models.recurrent import SequenceConfig, SequenceForecaster

        if self.normalises_windows:  # N-HITS normalises its windows itself
            return NBeatsForecaster(NBeatsConfig(**config))
        network = SequenceForecaster(SequenceConfig(**config))
        return WindowNormalised(network) if window_norm else network


NHITS = ForecastArchitecture(
    "nhits",
    "N-HITS",
    "residual MLP stacks on pooled inputs",
    members=6,
    width=128,
    depth=2,
    lookback_multiples=NHITS_LOOKBACK_MULTIPLES,
    normalises_windows=True,
    anchored=True,
    step_budget=True,
    combined_with_ets=True,
    changes_only=True,
    min_lookback=2,
)
# The same names as nncli.models.recurrent.ARCHITECTURES (which imports torch) after "nhits"
# (nncli.models.nbeats); a unit test keeps them in step.
ARCHITECTURES: dict[str, ForecastArchitecture] = {
    entry.name: entry
    for entry in (
        NHITS,
        ForecastArchitecture("lstm", "LSTM"),
        ForecastArchitecture("gru", "GRU"),
        ForecastArchitecture("rnn", "RNN"),
        ForecastArchitecture("tcn", "TCN", "dilated causal convolutions"),
        ForecastArchitecture("mlp", "MLP", "feedforward on flattened lags"),
    )
}


def forecast_architecture(name: str) -> ForecastArchitecture:
    """The registry entry of `--arch NAME` (ValueError for an unknown name)."""
    try:
        return ARCHITECTURES[name]
    except KeyError:
        raise ValueError(f"unknown architecture {name!r}") from None


# --- the forecaster's name, as every command shows it ---------------------------------------

RANDOM_WALK_NOTE = "random walk chosen: no skill on validation"
ETS_NOTE = "averaged with ETS"


def forecaster_notes(metadata: dict[str, Any]) -> list[str]:
    """What validation chose for a forecaster, from its model file's metadata: the random
    walk (the no-harm rule's shrink 0: the median is the naive forecast) and the average
    with ETS (`--combine`); nothing for a network forecasting as trained."""
    calibration = metadata.get("calibration") or {}
    notes = []
    if calibration.get("shrink", 1.0) == 0.0:
        notes.append(RANDOM_WALK_NOTE)
    if calibration.get("combine") == "ets":
        notes.append(ETS_NOTE)
    return notes


def forecaster_label(metadata: dict[str, Any]) -> str:
    """The forecaster's one name in train, backtest and score: 'N-HITS', or with what
    validation chose, 'N-HITS (random walk chosen: no skill on validation)'."""
    return labelled(display_name(metadata), [forecaster_notes(metadata)])


def display_name(metadata: dict[str, Any]) -> str:
    """The architecture's display name ("N-HITS") of a forecaster's model file."""
    name = str(metadata.get("architecture", {}).get("arch", "lstm"))
    entry = ARCHITECTURES.get(name)
    return entry.display if entry is not None else name.upper()


def labelled(display: str, notes_per_model: list[list[str]]) -> str:
    """`display` with what validation chose for each of several models (a backtest's folds):
    a note every model shares as it is, another with the share of models it holds for."""
    count = len(notes_per_model)
    seen = dict.fromkeys(note for notes in notes_per_model for note in notes)
    parts = []
    for note in seen:
        holds = sum(note in notes for notes in notes_per_model)
        parts.append(note if holds == count else f"{note}, in {holds} of {count} folds")
    return f"{display} ({'; '.join(parts)})" if parts else display


def ledger_forecaster(metadata: dict[str, Any] | None, model_ids: set[str]) -> str:
    """The name of the ledger's forecaster as train and backtest name it (`forecaster_label`):
    that of --model's file where every forecast is that model's; with forecasts of earlier
    models, their count too; without --model, "live forecasts"."""
    if metadata is None:
        return "live forecasts"
    label = forecaster_label(metadata)
    earlier = len(model_ids - {metadata["model_id"]})
    return f"{label} and {earlier} earlier model(s)" if earlier else label
