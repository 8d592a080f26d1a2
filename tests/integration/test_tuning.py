"""Optuna searches: spaces, pruning, budgets shared by workers, resuming, storages, refits."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import optuna
import pytest

from nncli.errors import ExitCode, UsageError
from nncli.tabular.options import TabularOptions
from nncli.training.loop import TrainingConfig
from nncli.tuning.runner import TuneJob, budget_state, open_study, run_study, summarize
from nncli.tuning.space import TABULAR_SPACE, build_space

POSTGRES_URL = os.environ.get("NNCLI_TEST_POSTGRES_URL", "")
NNCLI = str(Path(sys.executable).parent / "nncli")


def _job(storage: str, data: Path, trials: int, **space) -> TuneJob:
    return TuneJob(
        kind="tabular",
        data=data,
        study_name=f"test-{uuid.uuid4().hex[:8]}",
        storage_url=storage,
        trials=trials,
        space_overrides={"arch": "mlp", "layers": 1, "width": 16, "batch_size": 64, **space},
        tabular=TabularOptions(
            target="species", training=TrainingConfig(epochs=12, patience=12, seed=0)
        ),
    )


@pytest.fixture
def journal(tmp_path: Path) -> str:
    return f"journal:{tmp_path / 'studies.journal'}"


def test_space_overrides_are_applied_and_validated() -> None:
    space = build_space(
        TABULAR_SPACE,
        {"width": {"low": 32, "high": 512, "log": True}, "activation": ["relu"], "layers": 2},
        "x.toml",
    )
    assert (space["width"].low, space["width"].high, space["width"].log) == (32, 512, True)
    assert space["activation"].choices == ("relu",) and space["layers"].value == 2
    assert TABULAR_SPACE["arch"].choices == ("tabm", "mlp", "rbf")
    with pytest.raises(UsageError, match="unknown search parameter 'depth'"):
        build_space(TABULAR_SPACE, {"depth": 3}, "x.toml")
    with pytest.raises(UsageError, match="low <= high"):
        build_space(TABULAR_SPACE, {"lr": {"low": 0.1, "high": 0.01}}, "x.toml")
    with pytest.raises(UsageError, match="log = true needs low > 0"):
        build_space(TABULAR_SPACE, {"dropout": {"low": 0.0, "high": 0.5, "log": True}}, "x.toml")


@pytest.mark.slow
def test_pruning_prunes_hopeless_trials(journal: str, sample_data: Path) -> None:
    # Half the learning rates cannot learn in 12 epochs: the median pruner must stop them early.
    job = _job(journal, sample_data / "penguins.csv", 8, lr=[1e-6, 1e-2])
    run_study(job)
    study = open_study(job)
    counts = budget_state(study)
    assert counts["pruned"] > 0 and counts["finished"] == 8
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    assert any(t.params["lr"] == 1e-6 for t in pruned)
    assert study.best_trial.params["lr"] == 1e-2
    assert all(max(t.intermediate_values) < 12 for t in pruned)  # stopped before the last epoch


@pytest.mark.slow
def test_the_first_trial_is_nncli_trains_defaults(journal: str, sample_data: Path) -> None:
    """A new study starts from the default network (TabM and its settings), so its best
    trial is at least the defaults on validation; TabM's own knobs are drawn only for TabM."""
    job = TuneJob(
        kind="tabular",
        data=sample_data / "penguins.csv",
        study_name=f"test-{uuid.uuid4().hex[:8]}",
        storage_url=journal,
        trials=3,
        pruner="none",
        space_overrides={"arch": ["tabm", "mlp"], "width": {"low": 16, "high": 128}},
        tabular=TabularOptions(target="species", training=TrainingConfig(epochs=4, seed=0)),
    )
    run_study(job)
    trials = open_study(job).trials
    first = trials[0].params
    # 240 training rows: TabM's batch size for them is 2**round(log2(240 / 20)) = 16 -> 32.
    assert first == {
        "arch": "tabm", "layers": 2, "width": 128, "dropout": 0.1, "lr": 4e-3,
        "weight_decay": 1e-6, "batch_size": 32, "activation": "relu", "members": 8,
        "numeric_embedding": "pbld", "lr_schedule": "coslog4",
    }  # fmt: skip
    for trial in trials[1:]:
        tabm_knobs = {"members", "numeric_embedding", "lr_schedule"} & set(trial.params)
        assert bool(tabm_knobs) == (trial.params["arch"] == "tabm")


@pytest.mark.slow
def test_resuming_adds_only_the_missing_trials(journal: str, sample_data: Path) -> None:
    job = _job(journal, sample_data / "penguins.csv", 3, lr=3e-3)
    run_study(job)
    run_study(job)  # already complete: nothing to do
    assert len(open_study(job).trials) == 3
    job.trials = 5
    run_study(job)
    study = open_study(job)
    assert len(study.trials) == 5 and budget_state(study)["finished"] == 5


@pytest.mark.slow
def test_two_local_workers_share_one_budget(journal: str, sample_data: Path) -> None:
    job = _job(journal, sample_data / "penguins.csv", 6, lr=3e-3)
    run_study(job, workers=2)
    study = open_study(job)
    counts = budget_state(study)
    assert counts["finished"] == 6 and counts["running"] == 0
    numbers = [
        t.number
        for t in study.trials
        if t.state.is_finished() and not t.user_attrs.get("nncli_surplus")
    ]
    assert len(numbers) == len(set(numbers)) == 6


@pytest.mark.slow
def test_tune_cli_saves_the_best_model_with_its_provenance(
    cli, sample_data: Path, tmp_path: Path, journal: str
) -> None:
    from nncli.artifacts import read_metadata

    config = tmp_path / "tune.toml"
    config.write_text(
        "[tune]\nepochs = 10\n[tune.space]\narch = ['mlp', 'rbf']\nlayers = 1\nwidth = [16, 32]\nlr = {low = 0.001, high = 0.01, log = true}\n"
    )
    best = tmp_path / "best.nncli"
    document = cli.json(
        "tune",
        sample_data / "penguins.csv",
        "--target",
        "species",
        "--trials",
        "3",
        "--study",
        "cli-test",
        "--storage",
        journal,
        "--config",
        config,
        "--save-best",
        best,
        "--refit",
        "trial",
        "--pick",
        "best",
    )
    assert document["counts"]["finished"] == 3 and document["best"]["params"]["width"] in (16, 32)
    assert document["space"]["width"] == "{16, 32}" and document["space"]["layers"] == "= 1"
    saved = read_metadata(best)[0]
    tuning = saved["tuning"]
    assert tuning["study"] == "cli-test" and tuning["trial"] == document["best"]["number"]
    assert tuning["refit"] == "trial"
    # --refit trial retrains the best trial as it trained: the
    # same seed and rows give the same network, so the same best epoch and validation loss.
    history = saved["history"]
    assert history["best_epoch"] == document["best"]["user_attrs"]["best_epoch"]
    best_record = history["epochs"][history["best_epoch"] - 1]
    assert best_record["valid_loss"] == pytest.approx(document["best"]["value"], rel=1e-6)
    assert document["saved"]["test_metrics"]["accuracy"] > 0.5
    # --refit all (the default): train+validation for the trial's best epoch count (the
    # study is not rerun).
    on_all = tmp_path / "best-all.nncli"
    again = cli.json(
        "tune",
        sample_data / "penguins.csv",
        *("--target", "species", "--trials", "3", "--study", "cli-test"),
        *("--storage", journal, "--config", config, "--save-best", on_all, "--pick", "best"),
    )
    assert again["counts"]["finished"] == 3 and again["best"] == document["best"]
    saved = read_metadata(on_all)[0]
    assert saved["tuning"]["refit"] == "all"
    assert saved["training"]["epochs"] == document["best"]["user_attrs"]["best_epoch"]

    listed = cli.json("study", "list", "--storage", journal)
    assert [s["study"] for s in listed["studies"]] == ["cli-test"]
    shown = cli.json("study", "show", "cli-test", "--storage", journal)
    assert shown["best"]["number"] == document["best"]["number"]
    exported = tmp_path / "trials.csv"
    cli("study", "export", "cli-test", "--storage", journal, "-o", exported)
    assert exported.read_text().splitlines()[0].startswith("number,state,value")
    assert len(exported.read_text().splitlines()) == 4
    result = cli("study", "show", "nope", "--storage", journal, code=ExitCode.USAGE)
    assert "no study named 'nope'" in result.stderr and "cli-test" in result.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text("[tune.space]\ndepth = 3\n")
    result = cli(
        "tune",
        sample_data / "penguins.csv",
        "-t",
        "species",
        "--storage",
        journal,
        "--config",
        bad,
        code=ExitCode.USAGE,
    )
    assert "unknown search parameter 'depth'" in result.stderr


@pytest.mark.slow
def test_the_best_trial_replaces_the_defaults_only_beyond_noise(
    journal: str, sample_data: Path, tmp_path: Path
) -> None:
    """refit_best's pick, on two real trainings: a configuration that cannot learn in 12
    epochs (lr 1e-6) against the defaults trial, each way round."""
    from dataclasses import replace

    from nncli.artifacts import read_metadata
    from nncli.reporting import CollectingReporter
    from nncli.tuning.runner import refit_best

    job = _job(journal, sample_data / "penguins.csv", 1)
    run_study(job)
    report = summarize(open_study(job), job.storage_url, space=job.space())
    assert report.defaults is not None and report.defaults["number"] == 0
    good = report.defaults
    hopeless = {**good, "number": 1, "params": {**good["params"], "lr": 1e-6}}

    def saved(
        best: dict, defaults: dict, pick: str = "beats-defaults", mode: str = "trial"
    ) -> tuple[dict, dict]:
        path = tmp_path / f"{best['number']}-{defaults['number']}-{pick}-{mode}.nncli"
        chosen = replace(report, best=best, defaults=defaults)
        refit = refit_best(job, chosen, path, CollectingReporter(), mode=mode, pick=pick)
        return refit, read_metadata(path)[0]

    # The hopeless trial ranked best (as a lucky validation split might rank it): the
    # defaults stand, and the file says which trial was best and why it was not kept.
    refit, file = saved(best=hopeless, defaults=good)
    tuning = file["tuning"]
    assert (tuning["trial"], tuning["best_trial"]) == (0, 1)
    assert tuning["versus_defaults"]["kept"] == "defaults" == refit["pick"]["kept"]
    assert tuning["versus_defaults"]["standard_errors"] < -1  # the best trial is far worse
    assert refit["test_metrics"]["accuracy"] >= 0.9

    # A good trial against hopeless defaults: it wins by many standard errors.
    refit, file = saved(best={**good, "number": 2}, defaults={**hopeless, "number": 0})
    tuning = file["tuning"]
    assert tuning["trial"] == 2 and tuning["versus_defaults"]["kept"] == "best"
    assert tuning["versus_defaults"]["standard_errors"] > 3
    assert tuning["versus_defaults"]["best"] > tuning["versus_defaults"]["defaults"] + 0.3

    # --refit all: the kept configuration refitted on train+validation, for the best epoch
    # count it reached when retrained as its trial.
    refit, file = saved(best=hopeless, defaults=good, mode="all")
    assert (file["tuning"]["trial"], file["tuning"]["refit"]) == (0, "all")
    assert refit["pick"]["kept"] == "defaults" and 1 <= file["training"]["epochs"] <= 12

    # --pick best: the best trial, whatever the defaults did.
    refit, file = saved(best=hopeless, defaults=good, pick="best")
    assert file["tuning"]["trial"] == 1 and "versus_defaults" not in file["tuning"]
    assert "pick" not in refit


def test_tune_takes_train_data_options_and_names_the_flags_the_search_replaces(
    cli, sample_data: Path, tmp_path: Path, journal: str
) -> None:
    semicolons = tmp_path / "penguins.csv"
    semicolons.write_text((sample_data / "penguins.csv").read_text().replace(",", ";"))
    document = cli.json(
        "tune",
        semicolons,
        "-t",
        "species",
        "--sep",
        ";",
        "--valid-size",
        "0.2",
        "--lr",
        "0.05",
        "--hidden",
        "8",
        "--trials",
        "1",
        "--epochs",
        "2",
        "--storage",
        journal,
    )
    assert document["study"] == "penguins-tabular" and document["counts"]["complete"] == 1
    assert any(w.startswith("--hidden, --lr: drawn by the search") for w in document["warnings"])
    for bad, message in (
        (["--trials", "0"], "--trials must be at least 1, not 0"),
        (["--pruner", "random"], "--pruner must be one of median, hyperband, none"),
    ):
        result = cli("tune", semicolons, "-t", "species", *bad, code=ExitCode.USAGE)
        assert message in result.stderr
    result = cli("study", "export", "penguins-tabular", "--storage", journal, "--json")
    assert [t["number"] for t in json.loads(result.stdout)] == [0]


@pytest.mark.slow
def test_forecast_tune_prunes_across_folds(cli, tmp_path: Path, journal: str) -> None:
    import numpy as np
    import pandas as pd

    t = np.arange(260)
    frame = pd.DataFrame(
        {
            "date": pd.bdate_range("2020-01-01", periods=260).strftime("%Y-%m-%d"),
            "price": 100 + 10 * np.sin(t / 6) + np.random.default_rng(0).normal(0, 0.3, 260),
        }
    )
    data = tmp_path / "wave.csv"
    frame.to_csv(data, index=False)
    config = tmp_path / "f.toml"
    config.write_text(
        '[forecast.tune.space]\narch = ["gru"]\nlookback = [20]\nhidden_size = 8\nlayers = 1\n'
    )
    document = cli.json(
        "forecast",
        "tune",
        data,
        "--time-col",
        "date",
        "--target",
        "price",
        "--transform",
        "diff",
        "--trials",
        "4",
        "--folds",
        "2",
        "--epochs",
        "3",
        "--storage",
        journal,
        "--config",
        config,
        "--save-best",
        tmp_path / "f.nncli",
    )
    assert document["kind"] == "forecast" and document["counts"]["finished"] == 4
    assert (tmp_path / "f.nncli").is_file()


def _tune_process(
    data: Path, storage: str, study: str, trials: int, *extra: str
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            NNCLI,
            "tune",
            str(data),
            "--target",
            "species",
            "--trials",
            str(trials),
            "--study",
            study,
            "--storage",
            storage,
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
    )


def _wait_for_running(storage: str, study: str, timeout: float = 60) -> None:
    from nncli.tuning.storage import open_storage

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            loaded = optuna.load_study(study_name=study, storage=open_storage(storage))
            if any(t.state == optuna.trial.TrialState.RUNNING for t in loaded.trials):
                return
        except KeyError:
            pass
        time.sleep(0.3)
    raise AssertionError("no trial started")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("stop", "exit_code"),
    [(signal.SIGINT, ExitCode.INTERRUPTED), (signal.SIGTERM, ExitCode.TERMINATED)],
    ids=["ctrl-c", "sigterm"],
)
def test_a_stopped_run_fails_its_trial_at_no_cost_and_a_rerun_resumes(
    tmp_path: Path, sample_data: Path, journal: str, stop: signal.Signals, exit_code: ExitCode
) -> None:
    config = tmp_path / "slow.toml"
    config.write_text(
        '[tune.space]\narch = "mlp"\nlayers = 1\nwidth = 16\nbatch_size = 32\nlr = 0.00001\n'
    )
    slow = ["--epochs", "100000", "--patience", "100000", "--config", str(config)]
    process = _tune_process(sample_data / "penguins.csv", journal, "interrupted", 2, *slow)
    _wait_for_running(journal, "interrupted")
    process.send_signal(stop)
    _, err = process.communicate(timeout=60)
    assert process.returncode == exit_code, err
    assert "Traceback" not in err
    from nncli.tuning.storage import open_storage

    study = optuna.load_study(study_name="interrupted", storage=open_storage(journal))
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.FAIL]
    assert study.trials[0].user_attrs.get("nncli_interrupted") is True
    rerun = _tune_process(sample_data / "penguins.csv", journal, "interrupted", 2, "--epochs", "5")
    _, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err
    study = optuna.load_study(study_name="interrupted", storage=open_storage(journal))
    assert budget_state(study)["complete"] == 2


def _postgres_available() -> str | None:
    if not POSTGRES_URL:
        return "NNCLI_TEST_POSTGRES_URL is not set"
    try:
        import sqlalchemy

        with sqlalchemy.create_engine(POSTGRES_URL).connect():
            return None
    except Exception as exc:
        return f"no PostgreSQL server answers at {POSTGRES_URL} ({type(exc).__name__})"


@pytest.fixture
def postgres() -> str:
    reason = _postgres_available()
    if reason:
        pytest.skip(reason)
    return POSTGRES_URL


@pytest.mark.slow
@pytest.mark.postgres
def test_three_postgres_workers_finish_exactly_n_trials(postgres: str, sample_data: Path) -> None:
    job = _job(postgres, sample_data / "penguins.csv", 6, lr=3e-3)
    job.heartbeat_seconds = 2
    try:
        run_study(job, workers=3)
        study = open_study(job)
        counts = budget_state(study)
        assert counts["finished"] == 6 and counts["running"] == 0 and counts["waiting"] == 0
        report = summarize(study, postgres)
        assert report.best is not None and report.counts["finished"] == 6
    finally:
        with contextlib.suppress(KeyError):
            optuna.delete_study(study_name=job.study_name, storage=postgres)


@pytest.mark.slow
@pytest.mark.postgres
def test_a_killed_postgres_worker_is_failed_by_heartbeat_and_retried(
    postgres: str, sample_data: Path, tmp_path: Path
) -> None:
    study_name = f"test-kill-{uuid.uuid4().hex[:8]}"
    config = tmp_path / "space.toml"
    config.write_text(
        '[tune.space]\narch = "mlp"\nlayers = 1\nwidth = 16\nbatch_size = 32\nlr = 0.003\n'
    )
    try:
        doomed = _tune_process(
            sample_data / "penguins.csv",
            postgres,
            study_name,
            2,
            "--epochs",
            "100000",
            "--patience",
            "100000",
            "--heartbeat",
            "1",
            "--config",
            str(config),
        )
        _wait_for_running(postgres, study_name)
        doomed.send_signal(signal.SIGKILL)
        doomed.communicate(timeout=30)
        survivor = _tune_process(
            sample_data / "penguins.csv",
            postgres,
            study_name,
            2,
            "--epochs",
            "5",
            "--heartbeat",
            "1",
            "--config",
            str(config),
        )
        _, err = survivor.communicate(timeout=180)
        assert survivor.returncode == 0, err
        from nncli.tuning.storage import open_storage

        study = optuna.load_study(study_name=study_name, storage=open_storage(postgres, 1))
        states = {t.number: t.state for t in study.trials}
        assert states[0] == optuna.trial.TrialState.FAIL  # the killed worker's trial
        retries = [t for t in study.trials if t.system_attrs.get("failed_trial") == 0]
        assert len(retries) == 1 and retries[0].state == optuna.trial.TrialState.COMPLETE
        assert budget_state(study)["finished"] == 2
    finally:
        with contextlib.suppress(KeyError):
            optuna.delete_study(study_name=study_name, storage=postgres)


def test_tabm_switches_given_to_tune_apply_to_tabm_trials_only() -> None:
    """`nncli tune --no-robust-scaling --members 4 ...` must not make an mlp trial invalid."""
    from nncli.tuning.runner import tabular_options

    base = TabularOptions(
        target="species",
        members=4,
        no_robust_scaling=True,
        no_front_scale=True,
        lr_schedule="constant",
    )
    point = {"layers": 1, "width": 16, "dropout": 0.0, "lr": 1e-3, "weight_decay": 1e-4}
    point |= {"batch_size": 32, "activation": "relu"}
    mlp = tabular_options(base, {**point, "arch": "mlp"})
    mlp.validate()
    assert (mlp.members, mlp.no_robust_scaling, mlp.no_front_scale, mlp.lr_schedule) == (
        None, False, False, None,
    )  # fmt: skip
    tabm = tabular_options(base, {**point, "arch": "tabm"})
    assert (tabm.members, tabm.no_robust_scaling, tabm.lr_schedule) == (4, True, "constant")
