"""Hyperparameter search with Optuna: search spaces, storages, the study runner."""
