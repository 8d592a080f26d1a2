"""Hyperparameter search with Optuna: search domains (tables, series), spaces, storages, runner."""
