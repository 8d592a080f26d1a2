"""The tabular domain: train, evaluate, predict, explain and export MLPs on CSV tables.

CSV -> schema -> preprocessing (fitted on train) -> tensors -> network -> training -> metrics
next to baselines -> model file. Each verb lives in the module named for it; the CLI commands
are thin wrappers over these functions.
"""
