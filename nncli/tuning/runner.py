"""Running a study: its opening (the checks that it belongs to this search), the pruner,
the trial budget shared by any number of worker processes, and their outcome.

`--trials N` is the number of finished trials the *study* ends with, however many workers
(on however many machines) share it (`nncli.tuning.budget`). A trial whose worker died is
failed (by the heartbeat on RDB storages, by a surviving worker on the journal) and retried,
and the retry takes its place in the budget. A study records what its trials are comparable
on (the data's digest, the target, the loss) and refuses a search of anything else.

Nothing here knows which domain it searches: the job's `SearchDomain` supplies the space,
the objective, the first trial and the refit (`nncli.tuning.domain`).
"""

from __future__ import annotations

import contextlib
import signal
import socket
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nncli.errors import ExitCode, NncliError, TerminatedError, UsageError, shown
from nncli.tuning.budget import SURPLUS, SurplusTrialError, budget_state, is_surplus
from nncli.tuning.report import TuneReport, summarize
from nncli.tuning.space import check_space_fits
from nncli.tuning.storage import (
    INTERRUPTED,
    WORKER_ATTR,
    fail_interrupted_trials,
    fail_trials_of_dead_workers,
    is_rdb,
    open_storage,
)

if TYPE_CHECKING:
    import optuna

    from nncli.tuning.job import TuneJob

Say = Callable[[str], None] | None  # receives one line for people (progress or a warning)
FINGERPRINT = "nncli_fingerprint"  # a study's user attribute: what its trials are comparable on
JOURNAL_POLL_SECONDS = 1.0  # how often a journal worker with nothing to start looks for dead ones


def make_pruner(name: str, max_epochs: int) -> optuna.pruners.BasePruner:
    import optuna

    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=max_epochs, reduction_factor=3
        )
    return optuna.pruners.NopPruner()


def study_fingerprint(job: TuneJob) -> dict[str, Any]:
    """What the study's trials are comparable on: the data's digest and what the domain says
    (the target, the loss).

    The data is read and checked as a trial would (a missing target, too few rows, a lookback
    no series can hold are errors here), so a search that cannot train fails before its
    study exists.
    """
    from nncli.files import file_sha256

    objective = job.domain.fingerprint(job.data, job.space())
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
    if kind is not None and kind != job.domain.name:
        raise UsageError(
            f"study {job.study_name!r} is a {kind} search, not a {job.domain.name} one",
            hint="choose another --study name",
        )
    if kind is None:
        study.set_user_attr("nncli_kind", job.domain.name)
        study.set_user_attr("nncli_data", job.data.name)
        study.set_user_attr("nncli_objective", "validation loss (lower is better)")
        job.domain.queue_defaults(study, job.space(), job.fingerprint)
    if job.fingerprint is None:
        return
    if FINGERPRINT in attrs:
        check_fingerprint(job.study_name, attrs[FINGERPRINT], job.fingerprint)
    else:  # a new study, or one made before studies had fingerprints
        study.set_user_attr(FINGERPRINT, job.fingerprint)
    check_space_fits(job.study_name, job.space(), study.get_trials(deepcopy=False))


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
    max_epochs = job.domain.options.training.epochs
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
    objective = job.domain.objective(job.data, job.space())
    started = time.monotonic()

    def reap() -> None:
        if journal:
            fail_trials_of_dead_workers(storage, job.study_name)
        else:
            fail_stale_trials(study)

    def guarded(trial: optuna.Trial) -> float:
        try:  # the surplus check reads the storage: a signal may land there too
            if is_surplus(study, trial, job.trials):
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
