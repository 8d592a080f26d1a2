"""A tuning worker killed mid-trial on the journal storage does not leave the study stuck.

The journal has no heartbeat; each trial records its worker (PID, host, process start), and
a surviving worker (or else the next process that opens the storage) fails a RUNNING trial
whose worker is gone and queues its retry, so the study reaches `--trials N` exactly.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from nncli.tuning.storage import WORKER_ATTR, worker_is_gone


def _running_trials(journal: Path) -> list:
    """RUNNING trials as a plain JournalStorage sees them (no clean-up on open)."""
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    if not journal.exists():
        return []
    storage = JournalStorage(JournalFileBackend(str(journal)))
    trials = []
    for study in storage.get_all_studies():
        study_id = storage.get_study_id_from_name(study.study_name)
        running = (optuna.trial.TrialState.RUNNING,)
        trials += storage.get_all_trials(study_id, states=running)
    return trials


@pytest.mark.slow
def test_a_sigkilled_journal_worker_is_failed_and_a_rerun_reaches_the_budget(
    cli, sample_data: Path, tmp_path: Path
) -> None:
    journal = tmp_path / "studies.journal"
    common = [
        sample_data / "penguins.csv",
        "--target",
        "species",
        "--study",
        "killed",
        "--storage",
        f"journal:{journal}",
        "--pruner",
        "none",
        "--hidden",
        "8",
    ]
    doomed = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nncli",
            "tune",
            *map(str, common),
            "--trials",
            "2",
            "--epochs",
            "100000",
            "--patience",
            "100000",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "NNCLI_THREADS": "1"},
    )
    deadline = time.monotonic() + 120
    # A trial is RUNNING a moment before its worker is recorded on it: wait for both.
    while time.monotonic() < deadline and not _owned_running_trials(journal):
        time.sleep(0.5)
    running = _owned_running_trials(journal)
    assert running, "the doomed worker never started a trial"
    owner = running[0].system_attrs[WORKER_ATTR]
    assert owner["pid"] == doomed.pid and not worker_is_gone(owner)
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(timeout=30)
    assert _running_trials(journal) and worker_is_gone(owner)  # stuck, as before the fix

    document = cli.json("tune", *common, "--trials", "2", "--epochs", "2")
    counts = document["counts"]
    assert counts["finished"] == 2 and counts["running"] == 0, counts
    assert counts["not_counted"] >= 1  # the killed trial: failed, retried, not counted
    assert not _running_trials(journal)


def _owned_running_trials(journal: Path) -> list:
    """The running trials whose worker is recorded (it is written just after the trial)."""
    return [t for t in _running_trials(journal) if WORKER_ATTR in t.system_attrs]


def _stop_a_worker_mid_trial(journal: Path, deadline: float) -> tuple[int, int]:
    """SIGSTOP the worker of a RUNNING trial, checked to be still running once stopped (so
    the kill lands mid-trial however short the trial); its PID and the trial's number."""
    while time.monotonic() < deadline:
        for trial in _owned_running_trials(journal):
            pid = trial.system_attrs[WORKER_ATTR]["pid"]
            os.kill(pid, signal.SIGSTOP)
            if trial.number in [t.number for t in _running_trials(journal)]:
                return pid, trial.number
            os.kill(pid, signal.SIGCONT)
        time.sleep(0.05)
    raise AssertionError("no worker started a trial")


@pytest.mark.slow
def test_a_sigkilled_worker_of_two_is_retried_by_the_survivor_in_the_same_run(
    sample_data: Path, tmp_path: Path
) -> None:
    journal = tmp_path / "studies.journal"
    config = tmp_path / "space.toml"
    config.write_text('[tune.space]\narch = "mlp"\nlayers = 1\nwidth = 8\nbatch_size = 32\n')
    tune = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nncli",
            "tune",
            str(sample_data / "penguins.csv"),
            "--target",
            "species",
            "--study",
            "two",
            "--storage",
            f"journal:{journal}",
            "--config",
            str(config),
            "--pruner",
            "none",
            "--trials",
            "2",
            "--workers",
            "2",
            "--epochs",
            "30",
            "--patience",
            "30",
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )
    victim, number = _stop_a_worker_mid_trial(journal, deadline=time.monotonic() + 120)
    assert victim != tune.pid  # a worker process, not the parent
    os.kill(victim, signal.SIGKILL)
    out, err = tune.communicate(timeout=120)
    assert tune.returncode == 0, err
    document = json.loads(out)
    counts = document["counts"]
    assert counts["complete"] == 2 and counts["running"] == 0 and counts["not_counted"] == 1
    (warning,) = [w for w in document["warnings"] if "was killed by SIGKILL" in w]
    assert f"(PID {victim}) was killed by SIGKILL during trial {number}" in warning
    retry = int(warning.rsplit("retried as trial ", 1)[1])
    assert retry > number and retry in [t["number"] for t in document["top_trials"]]
    assert "Traceback" not in err and "error:" not in err
    assert not _running_trials(journal)


def test_a_signal_before_the_objective_runs_fails_only_this_workers_trial_at_no_cost(
    tmp_path: Path,
) -> None:
    """Ctrl-C or SIGTERM can land while Optuna's sampler draws a new trial's parameters,
    before nncli's objective (which marks the trial) runs: the worker's clean-up fails that
    trial as interrupted, so it costs no budget, and leaves other processes' trials alone."""
    import optuna

    from nncli.tuning.runner import budget_state
    from nncli.tuning.storage import INTERRUPTED, fail_interrupted_trials, open_storage

    storage = open_storage(f"journal:{tmp_path / 'studies.journal'}")
    study = optuna.create_study(study_name="stopped", storage=storage)
    mine = study.ask()  # RUNNING, recorded as this process's
    other = study.ask()
    other_id = other._trial_id
    elsewhere = {"pid": 1, "host": "another-host", "start": "0"}
    storage.set_trial_system_attr(other_id, WORKER_ATTR, elsewhere)

    assert fail_interrupted_trials(storage, "stopped") == 1
    trials = {t.number: t for t in study.get_trials()}
    assert trials[mine.number].state == optuna.trial.TrialState.FAIL
    assert trials[mine.number].user_attrs[INTERRUPTED] is True
    assert trials[other.number].state == optuna.trial.TrialState.RUNNING
    counts = budget_state(study)
    assert counts["failed"] == 0 and counts["not_counted"] == 1 and counts["running"] == 1
    assert fail_interrupted_trials(storage, "stopped") == 0  # nothing of ours is left running


@pytest.mark.slow
def test_an_rdb_trial_whose_worker_died_before_its_first_heartbeat_goes_stale(
    tmp_path: Path,
) -> None:
    """On an RDB storage a trial's worker can die after the trial is created and before
    Optuna's heartbeat thread starts (the sampler runs in between). Optuna never judges a
    trial without any heartbeat stale, so it stayed RUNNING forever and the other workers
    waited for it forever. Creating the trial records its first heartbeat, so it goes stale
    and is failed and retried like any other. (SQLite is an RDB storage too: no server.)"""
    import optuna
    from optuna.storages import fail_stale_trials

    from nncli.tuning.storage import open_storage

    storage = open_storage(f"sqlite:///{tmp_path / 'studies.db'}", heartbeat_seconds=1)
    study = optuna.create_study(study_name="died-early", storage=storage)
    with warnings.catch_warnings():  # Optuna: heartbeats are meant for optimize; experimental
        warnings.simplefilter("ignore")
        study.enqueue_trial({})  # a queued trial (as a retry is) ...
        study.ask()  # ... taken RUNNING, as by a worker killed before its heartbeat thread ran
        study.ask()  # a new trial created RUNNING, the same way
        time.sleep(4.5)  # past the grace period (3 heartbeats; SQLite counts whole seconds)
        fail_stale_trials(study)
    states = [t.state for t in study.get_trials()]
    assert states[:2] == [optuna.trial.TrialState.FAIL] * 2
    assert states[2:] == [optuna.trial.TrialState.WAITING] * 2  # their retries, queued
