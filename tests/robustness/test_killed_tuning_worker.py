"""A tuning worker killed mid-trial on the journal storage does not leave the study stuck.

The journal has no heartbeat; each trial records its worker (PID, host, process start), and
the next process that opens the storage fails a RUNNING trial whose worker is gone and
queues its retry, so a rerun reaches `--trials N` exactly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

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
    while time.monotonic() < deadline and not _running_trials(journal):
        time.sleep(0.5)
    running = _running_trials(journal)
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
