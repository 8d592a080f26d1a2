"""Every model and training option either changes what the chosen network does or is refused.

For each architecture and each option of `nncli train`'s Model and Training panels, the
network is trained twice on the same rows and seed, with and without the option: the model
(its weights' digest) must differ, or the option must be a usage error naming it. An option
that silently does nothing (as `--batch-norm` and `--class-weights` once did for the default
network) fails here. A new option of those panels must be added to `CHANGES`.
"""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from nncli.errors import UsageError
from nncli.options import OPTION_KEY, flag_name
from nncli.tabular.architectures import ARCHITECTURES
from nncli.tabular.options import TabularOptions
from nncli.tabular.train import train_tabular
from nncli.training.config import TrainingConfig
from tests.conftest import SAMPLE_DATA

pytestmark = pytest.mark.slow

# A value that differs from the default for every option of the Model and Training panels.
CHANGES: dict[str, Any] = {
    "hidden_sizes": [24, 12],
    "activation": "gelu",
    "dropout": 0.3,
    "batch_norm": True,
    "centres": 9,
    "members": 3,
    "numeric_embedding": "none",
    "no_front_scale": True,
    "no_robust_scaling": True,
    "lr_schedule": "constant",
    "label_smoothing": 0.3,
    "class_weights": True,
    "final_refit": "always",
    "epoch_folds": 3,
    "epochs": 3,
    "batch_size": 17,
    "learning_rate": 0.02,
    "weight_decay": 0.05,
    "patience": 1,
}
# Options that by design do not change the model: where and how fast it trains.
NOT_MODEL_OPTIONS = {
    "arch": "chooses the network itself (the parametrisation below)",
    "device": "where it trains; tests/unit/test_device_reach.py checks it reaches every network",
    "threads": "how fast; the arithmetic is the same",
    "precision": "bf16 needs hardware bfloat16 (refused here); tests/integration/test_precision.py",
}
TRAINING_FIELDS = {field.name for field in fields(TrainingConfig)}
FLAGS = {f.name: flag_name(f) for f in [*fields(TabularOptions), *fields(TrainingConfig)]}


def panel_options() -> list[str]:
    """Every option of the Model and Training panels of `nncli train`."""
    names = []
    for declared in [*fields(TabularOptions), *fields(TrainingConfig)]:
        spec = declared.metadata.get(OPTION_KEY)
        if spec is not None and spec.panel in ("Model", "Training"):
            names.append(declared.name)
    return names


def test_every_model_and_training_option_is_walked() -> None:
    assert set(panel_options()) == set(CHANGES) | set(NOT_MODEL_OPTIONS)


@pytest.fixture(scope="module")
def small_table(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Penguins, 150 rows: enough to tell two networks apart, quick to train 4 epochs on."""
    frame = pd.read_csv(SAMPLE_DATA / "penguins.csv").sample(150, random_state=0)
    path = tmp_path_factory.mktemp("reach") / "penguins.csv"
    frame.to_csv(path, index=False)
    return path


def options_for(arch: str, **changed: Any) -> TabularOptions:
    training = TrainingConfig(epochs=4, seed=0)
    training = replace(training, **{k: v for k, v in changed.items() if k in TRAINING_FIELDS})
    model = {k: v for k, v in changed.items() if k not in TRAINING_FIELDS}
    base = {"hidden_sizes": [32, 16], "final_refit": "never"}
    return TabularOptions(target="species", arch=arch, training=training, **{**base, **model})


def model_id(path: Path, options: TabularOptions) -> tuple[str, int]:
    """The trained weights' digest and the epochs run (patience may only shorten a run
    whose best epoch came early: same weights, less training)."""
    # The final refit happens only where the test rows are scored.
    refit = options.final_refit != "never"
    report = train_tabular(path, options, score_test=refit)
    return str(report.model.metadata["model_id"]), len(report.history.records)


@pytest.fixture(scope="module")
def plain_ids(small_table: Path) -> dict[str, tuple[str, int]]:
    return {arch: model_id(small_table, options_for(arch)) for arch in ARCHITECTURES}


@pytest.mark.parametrize("arch", sorted(ARCHITECTURES))
@pytest.mark.parametrize("option", sorted(CHANGES))
def test_an_option_changes_the_network_or_is_refused(
    small_table: Path, plain_ids: dict[str, tuple[str, int]], arch: str, option: str
) -> None:
    # Some options show only beside another: folds choose a refit's epoch count, patience
    # stops a run long enough (and fast enough) to stall.
    context = {
        "epoch_folds": {"final_refit": "always", "epochs": 20, "learning_rate": 0.05},
        "final_refit": {"final_refit": "never"},
        "patience": {"epochs": 40, "learning_rate": 0.05},
    }
    extra = context.get(option, {})
    reference = model_id(small_table, options_for(arch, **extra)) if extra else plain_ids[arch]
    try:
        options = options_for(arch, **{**extra, option: CHANGES[option]})
        options.validate()
    except UsageError as refused:
        assert FLAGS[option] in str(refused), str(refused)
        return
    assert model_id(small_table, options) != reference, f"--{option} did nothing to {arch}"
