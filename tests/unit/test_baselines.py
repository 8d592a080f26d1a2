"""The baselines' worker process gives what fitting them here gives, and never loses them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from nncli.baselines import BaselineWorker
from nncli.data.loading import read_csv
from nncli.reporting import CollectingReporter
from nncli.tabular.options import TabularOptions
from nncli.tabular.train import baseline_data, prepare_table

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"


def _table(name: str, target: str):
    path = SAMPLE / name
    options = TabularOptions(target=target)
    reporter = CollectingReporter()
    return prepare_table(path, read_csv(path, options.csv, reporter=reporter), options, reporter)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "target"), [("penguins.csv", "species"), ("autompg.csv", "mpg")])
def test_the_worker_process_fits_what_this_process_fits(name: str, target: str) -> None:
    table = _table(name, target)
    here = table.task.fit_baselines(baseline_data(table), table.target, 0)
    with BaselineWorker(in_child=True) as worker:
        assert worker.child_pid is not None
        worker.fit(table.task.name, baseline_data(table), table.target, 0)
        there = worker.result()
    assert set(here) == set(there) and "gradient boosting" in there
    for model in here:
        for metric, value in here[model].items():
            assert there[model][metric] == pytest.approx(value, rel=1e-6), (model, metric)


def test_a_killed_worker_falls_back_to_fitting_here() -> None:
    table = _table("penguins.csv", "species")
    with BaselineWorker(in_child=True) as worker:
        pid = worker.child_pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        worker.fit(table.task.name, baseline_data(table), table.target, 0)
        results = worker.result()
    assert results["gradient boosting"]["accuracy"] > 0.9


@pytest.mark.slow
def test_train_in_a_fresh_process_leaves_scikit_learn_to_the_worker(tmp_path: Path) -> None:
    # The point of the worker: the training process itself never imports scikit-learn.
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from nncli.tabular.options import TabularOptions\n"
        "from nncli.tabular.train import train_tabular\n"
        "from nncli.training.config import TrainingConfig\n"
        f"options = TabularOptions(target='species', training=TrainingConfig(epochs=3))\n"
        f"report = train_tabular(Path({str(SAMPLE / 'penguins.csv')!r}), options)\n"
        "print(sorted(report.baselines), 'sklearn' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == (
        "['gradient boosting', 'logistic regression', 'majority class'] False"
    )
