"""Running a study: objectives that train with per-epoch pruning, a trial budget shared by
any number of worker processes, the results, and the refit of the best configuration.

`--trials N` is the number of finished trials the *study* ends with, however many workers
(on however many machines) share it. Optuna numbers trials atomically in the storage, so a
trial whose number would exceed the budget is recognised before it trains and recorded as
a failed "surplus" trial that counts for nothing; a trial whose worker died is failed (by
the heartbeat on RDB storages, by a surviving worker on the journal) and retried, and the
retry takes its place in the budget. A study records what its trials are comparable on (the
data's digest, the target, the loss) and refuses a search of anything else.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nncli.data.loading import CsvOptions
from nncli.errors import ExitCode, NncliError, TerminatedError, UsageError, shown
from nncli.tuning.options import ForecastSearchOptions, SearchOptions
from nncli.tuning.space import (
    FORECAST_SPACE,
    TABULAR_SPACE,
    ParamSpec,
    build_space,
    check_space_fits,
    defaults_within,
    read_space_overrides,
    sample,
)
from nncli.tuning.storage import (
    INTERRUPTED,
    WORKER_ATTR,
    fail_interrupted_trials,
    fail_trials_of_dead_workers,
    is_rdb,
    open_storage,
    redact,
)

if TYPE_CHECKING:
    import optuna

    from nncli.forecasting.model import ForecastOptions
    from nncli.tabular.options import TabularOptions
    from nncli.training.loop import EpochRecord, History

Say = Callable[[str], None] | None  # receives one line for people (progress or a warning)
SURPLUS = "nncli_surplus"
FINGERPRINT = "nncli_fingerprint"  # a study's user attribute: what its trials are comparable on
JOURNAL_POLL_SECONDS = 1.0  # how often a journal worker with nothing to start looks for dead ones


@dataclass
class TuneJob:
    """Everything a worker process needs (plain data, so it crosses process boundaries)."""

    kind: str  # "tabular" or "forecast"
    data: Path
    study_name: str
    storage_url: str
    trials: int
    pruner: str = "median"
    seed: int = 0
    space_overrides: dict[str, Any] = field(default_factory=dict)
    space_source: str = "config"
    tabular: TabularOptions | None = None
    forecast: ForecastOptions | None = None
    # How a forecast search reads its file (a tabular search reads it as `tabular.csv` says).
    csv: CsvOptions = field(default_factory=CsvOptions)
    folds: int = 1
    timeout: float | None = None
    heartbeat_seconds: int = 10
    quiet: bool = False
    # What the study's trials are comparable on; set by `run_study` once the data is checked.
    fingerprint: dict[str, Any] | None = None

    @classmethod
    def for_search(
        cls,
        data: Path,
        search: SearchOptions,
        study_name: str,
        *,
        tabular: TabularOptions | None = None,
        forecast: ForecastOptions | None = None,
        csv: CsvOptions | None = None,
        config: Path | None = None,
        quiet: bool = False,
    ) -> TuneJob:
        """The job `search` describes over `data` (after checking the data and output files).

        Give `tabular` or `forecast`: the options every trial starts from. The search space is
        the default one with the ``[tune.space]`` (``[forecast.tune.space]``) table of the
        TOML file `config` applied.
        """
        from nncli.files import check_input_file, check_output_path
        from nncli.tuning.storage import storage_files

        kind = "tabular" if tabular is not None else "forecast"
        base = tabular or forecast
        if base is None:
            raise TypeError("TuneJob.for_search needs tabular or forecast options")
        check_input_file(data)
        if search.save_best is not None:  # never over the data or the studies' own file
            check_output_path(search.save_best, data, *storage_files(search.url()))
        else:
            for flag, value, says in (
                ("--refit", search.refit, "how --save-best retrains"),
                ("--pick", search.pick, "which trial --save-best keeps"),
            ):
                if value is not None:
                    raise UsageError(
                        f"{flag} {value}: says {says}, and no --save-best was given",
                        hint=f"add --save-best PATH, or leave out {flag}",
                    )
        if kind == "forecast" and search.pick == "beats-defaults":
            raise UsageError(
                "--pick beats-defaults compares a table's validation rows row by row; a "
                "series search keeps its best trial",
                hint="leave out --pick",
            )
        command = ("tune",) if kind == "tabular" else ("forecast", "tune")
        overrides, source = read_space_overrides(config, *command)
        return cls(
            kind=kind,
            data=data,
            study_name=study_name,
            storage_url=search.url(),
            trials=search.trials,
            pruner=search.pruner,
            seed=base.training.seed,
            space_overrides=overrides,
            space_source=source,
            tabular=tabular,
            forecast=forecast,
            csv=tabular.csv if tabular is not None else csv or CsvOptions(),
            folds=search.folds if isinstance(search, ForecastSearchOptions) else 1,
            timeout=search.timeout,
            heartbeat_seconds=search.heartbeat,
            quiet=quiet,
        )

    def validate(self) -> None:
        """Check the settings against the option declarations, and the search space."""
        from nncli.options import check_options

        check_options(
            ForecastSearchOptions(
                trials=self.trials,
                pruner=self.pruner,
                folds=self.folds,
                heartbeat=self.heartbeat_seconds,
            )
        )
        self.space()

    def space(self) -> dict[str, ParamSpec]:
        defaults = TABULAR_SPACE if self.kind == "tabular" else FORECAST_SPACE
        return build_space(defaults, self.space_overrides, self.space_source)


class SurplusTrialError(Exception):
    """This trial would exceed the study's trial budget; it is recorded and never trained."""


class PruningCallback:
    """Reports each epoch's validation loss to Optuna and stops unpromising trials."""

    def __init__(self, trial: optuna.Trial, step_offset: int = 0) -> None:
        self.trial = trial
        self.step_offset = step_offset

    def on_epoch_end(self, record: EpochRecord, history: History) -> None:
        import optuna

        self.trial.report(record.valid_loss, self.step_offset + record.epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned at epoch {record.epoch}")


class _Silent:
    def info(self, message: str) -> None:
        pass

    def warn(self, message: str) -> None:
        pass


def make_pruner(name: str, max_epochs: int) -> optuna.pruners.BasePruner:
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=max_epochs, reduction_factor=3
        )
    return optuna.pruners.NopPruner()


def tabular_options(base: TabularOptions, params: dict[str, Any]) -> TabularOptions:
    """Training options for one point of the tabular search space."""
    from nncli.tabular.architectures import architecture_named, foreign_options_reset

    layers, width = int(params["layers"]), int(params["width"])
    arch = str(params.get("arch", base.arch))
    entry = architecture_named(arch)
    return replace(
        base,
        arch=arch,
        **foreign_options_reset(base, arch),
        **entry.search_options(base, params),
        # A trial, and a refit "as the trial trained", is the early-stopped network itself;
        # --refit all is tune's own train+validation refit.
        final_refit="never",
        epoch_folds=1,
        hidden_sizes=[max(4, width // 2**i) for i in range(layers)],
        dropout=float(params["dropout"]),
        activation=str(params["activation"]),
        training=replace(
            base.training,
            learning_rate=float(params["lr"]),
            weight_decay=float(params["weight_decay"]),
            batch_size=int(params["batch_size"]),
        ),
    )


def forecast_options(base: ForecastOptions, params: dict[str, Any]) -> ForecastOptions:
    """Training options for one point of the forecasting search space."""
    return replace(
        base,
        arch=str(params["arch"]),
        lookback=int(params["lookback"]),
        hidden_size=int(params["hidden_size"]),
        num_layers=int(params["layers"]),
        dropout=float(params["dropout"]),
        training=replace(base.training, learning_rate=float(params["lr"])),
    )


# The options each search draws from its space, by flag: a value given for one of them on the
# command line (or in the config's command table) is replaced in every trial.
SEARCHED_OPTIONS = {
    "tabular": {
        "--arch": "arch",
        "--hidden": "hidden_sizes",
        "--centres": "centres",
        "--dropout": "dropout",
        "--activation": "activation",
        "--lr": "training.learning_rate",
        "--weight-decay": "training.weight_decay",
        "--batch-size": "training.batch_size",
        "--members": "members",
        "--numeric-embedding": "numeric_embedding",
        "--lr-schedule": "lr_schedule",
    },
    "forecast": {
        "--arch": "arch",
        "--lookback": "lookback",
        "--hidden-size": "hidden_size",
        "--layers": "num_layers",
        "--dropout": "dropout",
        "--lr": "training.learning_rate",
    },
}


def _declared_default(options: Any, path: str) -> Any:
    """The default of the (possibly nested, 'training.learning_rate') option at `path`."""
    import dataclasses

    first, *rest = path.split(".")
    declared = {f.name: f for f in dataclasses.fields(options)}[first]
    if declared.default_factory is not dataclasses.MISSING:
        value = declared.default_factory()
    else:
        value = declared.default
    for name in rest:
        value = getattr(value, name)
    return value


def options_the_search_replaces(job: TuneJob) -> list[str]:
    """Flags set away from their defaults that the search draws anyway (so they are ignored)."""
    base = job.tabular if job.kind == "tabular" else job.forecast
    changed = []
    for flag, path in SEARCHED_OPTIONS[job.kind].items():
        value: Any = base
        for name in path.split("."):
            value = getattr(value, name)
        if value != _declared_default(base, path):
            changed.append(flag)
    return changed


def _tabular_objective(job: TuneJob) -> Callable[[optuna.Trial], float]:
    from nncli.data.loading import read_csv
    from nncli.tabular.train import train_tabular

    assert job.tabular is not None
    base = job.tabular
    frame = read_csv(job.data, base.csv)  # once per worker, not once per trial
    space = job.space()

    def objective(trial: optuna.Trial) -> float:
        options = tabular_options(base, sample(space, trial))
        report = train_tabular(
            job.data,
            options,
            reporter=_Silent(),
            callbacks=(PruningCallback(trial),),
            frame=frame,
            score_test=False,
        )
        best = report.history.best
        trial.set_user_attr("best_epoch", report.history.best_epoch)
        trial.set_user_attr(f"valid_{report.history.metric_name}", best.valid_metric)
        return best.valid_loss

    return objective


def _forecast_objective(job: TuneJob) -> Callable[[optuna.Trial], float]:
    from nncli.forecasting.model import train_forecaster
    from nncli.forecasting.series import load_panel

    assert job.forecast is not None
    base = job.forecast
    panel = load_panel(job.data, base.panel, job.csv)
    space = job.space()
    horizon = base.horizon

    def objective(trial: optuna.Trial) -> float:
        import optuna

        options = forecast_options(base, sample(space, trial))
        if job.folds == 1:
            _, history = train_forecaster(
                panel, options, reporter=_Silent(), callbacks=(PruningCallback(trial),)
            )
            trial.set_user_attr("best_epoch", history.best_epoch)
            return history.best.valid_loss
        # Walk forward: fold k trains on each series up to an origin k*horizon steps earlier
        # than the next; the running mean of the folds' validation losses is reported per fold.
        losses, epochs = [], []
        for fold in range(job.folds):
            cut = (job.folds - 1 - fold) * horizon
            history_panel = [s.head(len(s) - cut) for s in panel]
            _, history = train_forecaster(history_panel, options, reporter=_Silent())
            losses.append(history.best.valid_loss)
            epochs.append(history.best_epoch)
            trial.report(sum(losses) / len(losses), fold)
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned after fold {fold + 1}")
        trial.set_user_attr("best_epoch", round(sum(epochs) / len(epochs)))
        return sum(losses) / len(losses)

    return objective


def _counted(trial: optuna.trial.FrozenTrial, retried: set[int]) -> bool:
    """Whether a trial uses up budget: everything but surplus, interrupted and retried failures."""
    from optuna.trial import TrialState

    if trial.state == TrialState.FAIL:
        return not (
            trial.user_attrs.get(SURPLUS)
            or trial.user_attrs.get(INTERRUPTED)
            or trial.number in retried
        )
    return True


def _retried_numbers(trials: list[optuna.trial.FrozenTrial]) -> set[int]:
    """Numbers of failed trials that Optuna has queued a retry for (retries of retries too)."""
    retried: set[int] = set()
    for trial in trials:
        retried.update(trial.system_attrs.get("retry_history", []))
        if "failed_trial" in trial.system_attrs:
            retried.add(trial.system_attrs["failed_trial"])
    return retried


def budget_state(study: optuna.Study) -> dict[str, int]:
    """Counts of the study's trials as nncli reports them."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    retried = _retried_numbers(trials)
    counts = {"complete": 0, "pruned": 0, "failed": 0, "running": 0, "waiting": 0, "not_counted": 0}
    for trial in trials:
        if not _counted(trial, retried):
            counts["not_counted"] += 1
        elif trial.state == TrialState.COMPLETE:
            counts["complete"] += 1
        elif trial.state == TrialState.PRUNED:
            counts["pruned"] += 1
        elif trial.state == TrialState.FAIL:
            counts["failed"] += 1
        elif trial.state == TrialState.RUNNING:
            counts["running"] += 1
        elif trial.state == TrialState.WAITING:
            counts["waiting"] += 1
    counts["finished"] = counts["complete"] + counts["pruned"] + counts["failed"]
    return counts


def _is_surplus(study: optuna.Study, trial: optuna.Trial, budget: int) -> bool:
    trials = study.get_trials(deepcopy=False)
    retried = _retried_numbers(trials)
    earlier = [t for t in trials if t.number < trial.number and _counted(t, retried)]
    return len(earlier) >= budget


def study_fingerprint(job: TuneJob) -> dict[str, Any]:
    """What the study's trials are comparable on: the data's digest, the target and the loss.

    The data is read and checked as a trial would (a missing target, too few rows, a lookback
    no series can hold are errors here), so a search that cannot train fails before its
    study exists.
    """
    from nncli.files import file_sha256

    objective: dict[str, Any]
    if job.kind == "tabular":
        from nncli.data.loading import read_csv
        from nncli.tabular.train import prepare_table

        assert job.tabular is not None
        frame = read_csv(job.data, job.tabular.csv)
        table = prepare_table(job.data, frame, job.tabular, _Silent())
        objective = {
            "target": job.tabular.target,
            "task": table.task.name,
            "train_rows": table.split_sizes["train"],
        }
    else:
        from nncli.forecasting.model import collect_windows
        from nncli.forecasting.series import load_panel

        assert job.forecast is not None
        base, lookback = job.forecast, job.space()["lookback"]
        shortest = (
            lookback.value if lookback.kind == "fixed" else min(lookback.choices or [lookback.low])
        )
        panel = load_panel(job.data, base.panel, job.csv)
        collect_windows(panel, replace(base, lookback=int(shortest)), _Silent())
        objective = {
            "target": base.panel.target,
            "transform": base.transform,
            "horizon": base.horizon,
        }
    return {"data": job.data.name, "sha256": file_sha256(job.data), **objective}


def check_fingerprint(name: str, recorded: dict[str, Any], now: dict[str, Any]) -> None:
    """A UsageError naming what differs if the study was made for other data or another target."""
    differences = []
    if recorded.get("sha256") != now["sha256"]:
        was, new = str(recorded.get("sha256"))[:12], now["sha256"][:12]
        differences.append(
            f"data {recorded.get('data')} (sha256 {was}…), not {now['data']} ({new}…)"
        )
    # A key the study did not record (it predates it) is not compared.
    for key in sorted(set(recorded) - {"data", "sha256"}):
        if recorded.get(key) != now.get(key):
            differences.append(f"{key} {shown(recorded.get(key))}, not {shown(now.get(key))}")
    if differences:
        raise UsageError(
            f"study {name!r} holds trials of another search: {'; '.join(differences)}",
            hint="their losses are not comparable with this search's; choose another --study name",
        )


def check_study_fits(study: optuna.Study, job: TuneJob) -> None:
    """Label a new study with its kind and fingerprint; refuse to resume a study of another
    kind, data, target or loss, or with a search space Optuna cannot mix with its trials'."""
    attrs = study.user_attrs
    kind = attrs.get("nncli_kind")
    if kind is not None and kind != job.kind:
        raise UsageError(
            f"study {job.study_name!r} is a {kind} search, not a {job.kind} one",
            hint="choose another --study name",
        )
    if kind is None:
        study.set_user_attr("nncli_kind", job.kind)
        study.set_user_attr("nncli_data", job.data.name)
        study.set_user_attr("nncli_objective", "validation loss (lower is better)")
        if job.kind == "tabular":  # the first trial is nncli train's defaults
            enqueue_defaults(study, job)
    if job.fingerprint is None:
        return
    if FINGERPRINT in attrs:
        check_fingerprint(job.study_name, attrs[FINGERPRINT], job.fingerprint)
    else:  # a new study, or one made before studies had fingerprints
        study.set_user_attr(FINGERPRINT, job.fingerprint)
    check_space_fits(job.study_name, job.space(), study.get_trials(deepcopy=False))


def enqueue_defaults(study: optuna.Study, job: TuneJob) -> None:
    """Queue `nncli train`'s defaults as the study's first trial, read from the option and
    network declarations, as far as the space holds them: TabM's learning rate and numeric
    embedding for the task, its batch size for the table's training rows, the space's lowest
    weight decay for TabM's 0 (the first three are drawn when the study's data is unknown)."""
    from nncli.tabular.architectures import architecture_named
    from nncli.tabular.options import TabularOptions

    assert job.tabular is not None
    options = TabularOptions(target=job.tabular.target)
    hidden = options.hidden_sizes
    space = job.space()
    fingerprint = job.fingerprint or {}
    task = str(fingerprint["task"]) if fingerprint.get("task") else None
    train_rows = int(fingerprint["train_rows"]) if fingerprint.get("train_rows") else None
    defaults: dict[str, Any] = {
        "arch": options.arch,
        "layers": len(hidden),
        "width": hidden[0],  # tabular_options halves it per layer: 128 -> 128, 64
        "dropout": options.dropout,
        "activation": options.activation,
        **architecture_named(options.arch).default_trial(task, train_rows),
    }
    if "weight_decay" in space and space["weight_decay"].low is not None:
        defaults["weight_decay"] = space["weight_decay"].low
    study.enqueue_trial(defaults_within(space, defaults), skip_if_exists=True)


def open_study(
    job: TuneJob,
    worker: int = 0,
    storage: optuna.storages.BaseStorage | None = None,
    warn: Say = None,
) -> optuna.Study:
    """Create or load the study, checking it belongs to this search (see `check_study_fits`)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    storage = storage or open_storage(job.storage_url, job.heartbeat_seconds, warn)
    # Distinct sampler seeds per worker process, so parallel workers do not repeat each other.
    seed = job.seed + 7919 * worker
    max_epochs = (job.tabular or job.forecast).training.epochs  # type: ignore[union-attr]
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=5)
    pruner = make_pruner(job.pruner, max_epochs)
    try:  # loaded first: creating an existing study would append a no-op record to a journal
        study = optuna.load_study(
            study_name=job.study_name, storage=storage, sampler=sampler, pruner=pruner
        )
    except KeyError:
        study = optuna.create_study(
            study_name=job.study_name,
            storage=storage,
            sampler=sampler,
            pruner=pruner,
            direction="minimize",
            load_if_exists=True,  # another worker may create it first
        )
    check_study_fits(study, job)
    return study


def _running_elsewhere(study: optuna.Study, journal: bool) -> int:
    """Trials of the study running in other processes that this worker should wait for: on a
    journal those of this host (it can tell when their worker dies), on an RDB storage all."""
    from optuna.trial import TrialState

    running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
    if not journal:
        return len(running)
    host = socket.gethostname()
    return sum((t.system_attrs.get(WORKER_ATTR) or {}).get("host") == host for t in running)


def run_worker(job: TuneJob, worker: int = 0, log: Callable[[str], None] | None = None) -> None:
    """Run trials until the study holds `job.trials` finished trials (or the timeout).

    A worker with nothing left to start waits for the trials still running elsewhere: when
    one's worker dies (heartbeat on RDB, a dead PID of this host on the journal), the trial is
    failed, its retry queued, and this worker runs it.
    """
    from optuna.storages import fail_stale_trials

    journal = not is_rdb(job.storage_url)
    storage = open_storage(job.storage_url, job.heartbeat_seconds)
    study = open_study(job, worker, storage)
    objective = _tabular_objective(job) if job.kind == "tabular" else _forecast_objective(job)
    started = time.monotonic()

    def reap() -> None:
        if journal:
            fail_trials_of_dead_workers(storage, job.study_name)
        else:
            fail_stale_trials(study)

    def guarded(trial: optuna.Trial) -> float:
        try:  # the surplus check reads the storage: a signal may land there too
            if _is_surplus(study, trial, job.trials):
                trial.set_user_attr(SURPLUS, True)
                raise SurplusTrialError
            return objective(trial)
        except (KeyboardInterrupt, TerminatedError):
            trial.set_user_attr(INTERRUPTED, True)  # Optuna fails the trial; it costs no budget
            raise

    def after_trial(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if log is not None and not trial.user_attrs.get(SURPLUS):
            log(_trial_line(study, trial, worker))
        reap()  # a retry queued here is run before this worker stops
        counts = budget_state(study)
        if counts["finished"] + counts["running"] >= job.trials and not counts["waiting"]:
            study.stop()

    while True:
        counts = budget_state(study)
        remaining_time = None if job.timeout is None else job.timeout - (time.monotonic() - started)
        if remaining_time is not None and remaining_time <= 0:
            return
        if counts["finished"] + counts["running"] < job.trials or counts["waiting"]:
            try:
                study.optimize(
                    guarded,
                    timeout=remaining_time,
                    callbacks=[after_trial],
                    catch=(SurplusTrialError,),
                    gc_after_trial=True,
                )
            except (KeyboardInterrupt, TerminatedError):
                # Best effort: the signal's exit code must win; a trial left RUNNING is
                # failed (and retried) by the next process that opens the journal.
                with contextlib.suppress(Exception):
                    if journal:
                        fail_interrupted_trials(storage, job.study_name)
                raise
            continue_after = budget_state(study)
            if continue_after["finished"] >= job.trials and not continue_after["waiting"]:
                return
        if not _running_elsewhere(study, journal):
            return
        time.sleep(JOURNAL_POLL_SECONDS if journal else job.heartbeat_seconds)
        reap()


def _trial_line(study: optuna.Study, trial: optuna.trial.FrozenTrial, worker: int) -> str:
    """The progress line of a finished trial."""
    value = f"validation loss {trial.value:.5g}" if trial.value is not None else ""
    try:
        best = f"(best {study.best_value:.5g}, trial {study.best_trial.number})"
    except ValueError:
        best = ""
    return (
        f"worker {worker}: trial {trial.number} {trial.state.name.lower()} {value} {best}".strip()
    )


def _worker_process(job: TuneJob, worker: int, threads: int, errors: Any) -> None:
    """Entry point of a `--workers` child process: an error goes to the parent (which prints
    it as the run's one line) with its exit code."""
    import sys

    import torch

    # K workers with torch's default thread count each would oversubscribe the cores.
    torch.set_num_threads(threads)
    try:
        run_worker(job, worker, None if job.quiet else _stderr_line)
    except NncliError as exc:
        errors.put((worker, int(exc.exit_code), exc.message, exc.hint))
        sys.exit(int(exc.exit_code))
    except KeyboardInterrupt:
        sys.exit(130)


def _stderr_line(message: str) -> None:
    import sys

    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def run_search(job: TuneJob, workers: int = 1, log: Say = None, warn: Say = None) -> TuneReport:
    """Run the search (see `run_study`) and summarise the study it leaves."""
    run_study(job, workers, log, warn)
    return summarize(open_study(job), job.storage_url, job.space())


def run_study(job: TuneJob, workers: int = 1, log: Say = None, warn: Say = None) -> None:
    """Run the search here (one worker) or in `workers` local processes sharing the study.

    The space and the data are checked before the study is created (a failed check leaves no
    empty study behind). `warn` receives one line per worker that died (its trial was failed
    and retried by the others); if every worker died first, a TerminatedError says so.
    """
    import multiprocessing
    import os

    job.validate()
    if workers < 1:
        raise UsageError(f"--workers must be at least 1, not {workers}")
    job.fingerprint = study_fingerprint(job)
    open_study(job, warn=warn)  # create it once, up front, and fail early on a bad storage
    if workers == 1:
        run_worker(job, 0, log)
        return
    context = multiprocessing.get_context("spawn")
    errors = context.SimpleQueue()
    threads = max(1, (os.cpu_count() or 1) // workers)
    processes = [
        context.Process(target=_worker_process, args=(job, index, threads, errors), daemon=False)
        for index in range(workers)
    ]
    try:
        for process in processes:
            process.start()
        for process in processes:
            process.join()
    except BaseException:
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=10)
        raise
    _check_workers(job, processes, errors, warn)


def _check_workers(job: TuneJob, processes: list[Any], errors: Any, warn: Say) -> None:
    """Turn the workers' ends into the run's outcome: Ctrl-C, a worker's error (with its own
    exit code), or workers killed by a signal (a warning if the others finished the study)."""
    codes = [p.exitcode for p in processes]
    if 130 in codes or -signal.SIGINT in codes:
        raise KeyboardInterrupt
    if not errors.empty():
        index, code, message, hint = errors.get()
        error = NncliError(f"worker {index}: {message}", hint)
        error.exit_code = ExitCode(code)
        raise error
    failed = [(i, code) for i, code in enumerate(codes) if code and code > 0]
    if failed:
        index, code = failed[0]
        raise NncliError(
            f"tuning worker {index} exited with code {code}", hint="see its error line above"
        )
    killed = [(i, p.pid, -p.exitcode) for i, p in enumerate(processes) if p.exitcode < 0]
    if killed:
        report_killed_workers(job, killed, warn)


def report_killed_workers(job: TuneJob, killed: list[tuple[int, int, int]], warn: Say) -> None:
    """One line per killed worker naming its trial and the retry; an error if the study is
    short of its budget (every worker died before the others could retry)."""
    study = open_study(job)  # opening the journal fails the trials of dead workers
    trials = study.get_trials(deepcopy=False)
    retry_of = {t.system_attrs.get("failed_trial"): t.number for t in trials}
    lines = []
    for index, pid, signum in killed:
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = f"signal {signum}"
        owned = [
            t.number for t in trials if (t.system_attrs.get(WORKER_ATTR) or {}).get("pid") == pid
        ]
        what = f"tuning worker {index} (PID {pid}) was killed by {name}"
        if owned and owned[-1] in retry_of:
            what += f" during trial {owned[-1]}; the trial was failed and retried as trial "
            what += str(retry_of[owned[-1]])
        lines.append(what)
    counts = budget_state(study)
    if counts["finished"] < job.trials:
        raise TerminatedError(
            f"{'; '.join(lines)}; the study holds {counts['finished']} of {job.trials} trials",
            hint="rerun the command to resume (a failed trial is retried first)",
        )
    for line in lines:
        if warn is not None:
            warn(line)


@dataclass
class TuneReport:
    """The study after the search: counts, best trial, top trials, importances."""

    study: str
    storage: str
    kind: str
    counts: dict[str, int]
    best: dict[str, Any] | None
    top_trials: list[dict[str, Any]]
    importances: dict[str, float]
    space: dict[str, str]
    # The first trial queued with nncli's defaults (`enqueue_defaults`), whatever its state;
    # None in a study that never queued one.
    defaults: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(
    study: optuna.Study, storage_url: str, space: dict[str, ParamSpec] | None = None, top: int = 10
) -> TuneReport:
    """Best trial, top trials, parameter importances and counts of a study."""
    import optuna
    from optuna.trial import TrialState

    complete = sorted(
        study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)),
        key=lambda t: t.value or 0.0,
    )
    rows = [_trial_row(t) for t in complete[:top]]
    # Optuna's `enqueue_trial` records the queued values as the "fixed_params" system attribute.
    queued = (t for t in study.get_trials(deepcopy=False) if "fixed_params" in t.system_attrs)
    defaults = next(queued, None)
    importances: dict[str, float] = {}
    if len(complete) >= 2:
        try:
            importances = {
                k: float(v)
                for k, v in optuna.importance.get_param_importances(
                    study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0)
                ).items()
            }
        except (ValueError, RuntimeError):
            importances = {}  # e.g. every trial drew the same values
    return TuneReport(
        study=study.study_name,
        storage=redact(storage_url),
        kind=str(study.user_attrs.get("nncli_kind", "")),
        counts=budget_state(study),
        best=rows[0] if rows else None,
        top_trials=rows,
        importances=importances,
        space={name: spec.describe() for name, spec in (space or {}).items()},
        defaults=None if defaults is None else _trial_row(defaults),
    )


def _trial_row(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    return {
        "number": trial.number,
        "value": trial.value,
        "params": trial.params,
        "user_attrs": trial.user_attrs,
        "duration_s": trial.duration.total_seconds() if trial.duration else None,
    }


@dataclass
class RefitPlan:
    """What the refit of a study's best trial trains, and the provenance it records."""

    params: dict[str, Any]  # the whole point of the space: fixed parameters and drawn ones
    epochs: int  # the best trial's best epoch: a refit on all rows has no validation to stop on
    provenance: dict[str, Any]
    on_all: bool  # --refit all: train+validation for `epochs`; else as the trial trained

    def options_for(self, options: Any) -> Any:
        """The trial's training options, for `epochs` epochs when refitting on all rows."""
        if not self.on_all:
            return options
        return replace(options, training=replace(options.training, epochs=self.epochs))


def plan_refit(job: TuneJob, trial: dict[str, Any] | None, mode: str = "trial") -> RefitPlan:
    """A trial's full configuration (`TuneReport.best` or `.defaults`), its epoch count and
    its provenance, for a refit as `mode` ("trial" or "all", `--refit`) says."""
    if trial is None:
        raise NncliError(
            f"study {job.study_name!r} has no complete trial to refit",
            hint="run more trials (all were pruned or failed)",
        )
    space = job.space()
    fixed = {name: spec.value for name, spec in space.items() if spec.kind == "fixed"}
    params = fixed | trial["params"]
    provenance = {
        "study": job.study_name,
        "trial": trial["number"],
        "value": trial["value"],
        "params": params,
        "storage": redact(job.storage_url),
        "refit": mode,
    }
    epochs = max(1, int(trial["user_attrs"].get("best_epoch", 1)))
    return RefitPlan(params, epochs, provenance, on_all=mode == "all")


def refit_best(
    job: TuneJob,
    report: TuneReport,
    path: Path,
    reporter: Any,
    *,
    mode: str,
    pick: str,
) -> dict[str, Any]:
    """Retrain the best configuration through the domain's training path and save it with its
    provenance; returns what the refit scored.

    `mode` "trial": exactly as its trial trained (the training rows, early stopping on the
    validation rows; same seed, so the same network). "all": on train+validation for the
    trial's best epoch count (no validation left to stop on).
    `pick` "beats-defaults" (tables): the best trial only where it beats the study's defaults
    trial on the validation rows beyond noise (`nncli.tuning.pick`), else the defaults.
    """
    plan = plan_refit(job, report.best, mode)
    if job.kind == "forecast":
        return _refit_forecast(job, plan, path, reporter)
    defaults = report.defaults if pick == "beats-defaults" else None
    if defaults is None or report.best is None or defaults["number"] == report.best["number"]:
        return _refit_tabular(job, plan, path, reporter)
    return _refit_tabular_against_defaults(
        job, plan, plan_refit(job, defaults, mode), path, reporter
    )


def _refit_tabular(job: TuneJob, plan: RefitPlan, path: Path, reporter: Any) -> dict[str, Any]:
    from nncli.tabular.train import train_tabular

    assert job.tabular is not None
    options = plan.options_for(tabular_options(job.tabular, plan.params))
    trained = train_tabular(
        job.data, options, reporter=reporter, refit_on_train_and_valid=plan.on_all
    )
    return _save_refit(trained, plan.provenance, path)


def _refit_tabular_against_defaults(
    job: TuneJob, best: RefitPlan, defaults: RefitPlan, path: Path, reporter: Any
) -> dict[str, Any]:
    """Both trials as they trained, compared row by row on the validation rows; the winner
    is saved as trained, or (`--refit all`) refitted on train+validation."""
    from nncli.reporting import CollectingReporter
    from nncli.tabular.train import train_tabular
    from nncli.tuning.pick import compare_rows

    assert job.tabular is not None
    # With --refit all neither fit is the saved model: no test rows, no baselines.
    fits = [
        train_tabular(
            job.data,
            tabular_options(job.tabular, plan.params),
            reporter=CollectingReporter(),
            score_test=not plan.on_all,
        )
        for plan in (best, defaults)
    ]
    metric = fits[0].history.metric_name
    comparison = compare_rows(fits[0].valid_errors, fits[1].valid_errors, metric)
    reporter.info(comparison.sentence(best.provenance["trial"], defaults.provenance["trial"]))
    plan, trained = (best, fits[0]) if comparison.best_wins else (defaults, fits[1])
    provenance = plan.provenance | {
        "best_trial": best.provenance["trial"],
        "pick": "beats-defaults",
        "versus_defaults": comparison.to_dict(),
    }
    picked = {"pick": comparison.to_dict()}
    if plan.on_all:  # the epoch count as retrained here (a pruned trial recorded none)
        plan = replace(plan, epochs=max(1, trained.history.best_epoch), provenance=provenance)
        return _refit_tabular(job, plan, path, reporter) | picked
    for warning in trained.warnings:
        reporter.warn(warning)
    return _save_refit(trained, provenance, path) | picked


def _save_refit(trained: Any, provenance: dict[str, Any], path: Path) -> dict[str, Any]:
    from nncli.tabular.model import save_tabular_model

    trained.model.metadata["tuning"] = provenance
    save_tabular_model(path, trained.model)
    return {
        "model_path": str(path),
        "model_id": trained.model.metadata["model_id"],
        "test_metrics": trained.test_metrics,
        "baselines": trained.baselines,
        "verdict": trained.verdict,
    }


def _refit_forecast(job: TuneJob, plan: RefitPlan, path: Path, reporter: Any) -> dict[str, Any]:
    from nncli.forecasting.model import save_forecast_model
    from nncli.forecasting.series import load_panel
    from nncli.forecasting.train import train_forecast

    assert job.forecast is not None
    options = plan.options_for(forecast_options(job.forecast, plan.params))
    panel = load_panel(job.data, options.panel, job.csv, reporter=reporter)
    trained = train_forecast(
        panel, options, reporter=reporter, refit_on_all=plan.on_all, data_path=job.data
    )
    save_forecast_model(path, trained.model, {"tuning": plan.provenance})
    return {
        "model_path": str(path),
        "model_id": trained.model.metadata["model_id"],
        "verdict": trained.verdict,  # with "all", it says the scores come from seen windows
    }
