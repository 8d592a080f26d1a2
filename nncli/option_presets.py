"""Presets of `nncli.options.option`: one per help panel, and the automatic count.

A field declared `model_option(60, help=...)` is `option(60, help=..., panel="Model")`: each
panel is named once, here. List and Path fields call `option(..., panel=MODEL)` themselves,
since the dataclass lint (ruff RUF009) accepts only `option` itself for mutable defaults.
"""

from __future__ import annotations

from functools import partial

from nncli.options import AtLeast, Within, option

MODEL = "Model"
DATA = "Data"
SPLIT = "Split"
TRAINING = "Training"
SERIES = "Series"
BACKTEST = "Backtest"
JOB = "Job"
GATES = "Quality gates"

model_option = partial(option, panel=MODEL)
data_option = partial(option, panel=DATA)
split_option = partial(option, panel=SPLIT)
training_option = partial(option, panel=TRAINING)
series_option = partial(option, panel=SERIES)
backtest_option = partial(option, panel=BACKTEST)
gate_option = partial(option, panel=GATES)

# A training setting whose default depends on the architecture (None until it is known).
architecture_default = partial(option, None, panel=TRAINING, hidden_default=True)

# A count the user may set, None meaning "nncli chooses" (the help says how, in "default: ...").
automatic_count = partial(option, None, check=AtLeast(1), hidden_default=True)

# Seeds go to numpy, torch and scikit-learn, and scikit-learn takes 0..2**32-1 only: every
# command with --seed refuses the same values in the same words. A command that trains nothing says
# what its seed does instead (`seed_option(help=...)`).
seed_option = partial(
    option,
    0,
    help="Random seed: same data, seed and options give the same model.",
    check=Within(0, 2**32 - 1, "[]"),
)
