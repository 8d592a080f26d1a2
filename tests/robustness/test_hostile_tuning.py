"""Hostile tuning: damaged journals, reused study names, changed search spaces, searches that
fail their checks, bad storages and odd names. Each ends with its documented exit code and
one line, and leaves the studies as they were."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import optuna
import pytest

from nncli.errors import ExitCode
from tests.conftest import Cli
from tests.robustness.conftest import table_lines, write_lines

# Tiny, fixed networks: these tests are about studies, not about learning.
SPACE = '[tune.space]\narch = "mlp"\nlayers = 1\nwidth = 8\nbatch_size = 32\n'
SEEDED_SPACE = (
    SPACE + 'activation = ["relu", "tanh"]\nlr = {low = 0.001, high = 0.01, log = true}\n'
)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A table, its config and a journal whose study 'base' holds 2 complete trials."""
    folder = tmp_path_factory.mktemp("seeded")
    table = write_lines(folder / "table.csv", table_lines())
    config = folder / "tune.toml"
    config.write_text(SEEDED_SPACE)
    journal = folder / "studies.journal"
    Cli()(*_tune_args(table, config, journal, "base", 2))
    return table, config, journal


@pytest.fixture
def journal(seeded: tuple[Path, Path, Path], tmp_path: Path) -> Path:
    """A copy of the seeded journal, for a test to damage or extend."""
    copy = tmp_path / "studies.journal"
    shutil.copyfile(seeded[2], copy)
    return copy


def _tune_args(table: Path, config: Path, journal: Path, study: str, trials: int) -> list[Any]:
    return [
        "tune",
        table,
        "-t",
        "y",
        "--trials",
        trials,
        "--epochs",
        "2",
        "--study",
        study,
        "--storage",
        f"journal:{journal}",
        "--config",
        config,
    ]


def _states(journal: Path, study: str) -> list[str]:
    """The study's trial states, read by plain Optuna (no clean-up on open)."""
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    storage = JournalStorage(JournalFileBackend(str(journal)))
    loaded = optuna.load_study(study_name=study, storage=storage)
    return [t.state.name for t in loaded.get_trials(deepcopy=False)]


def _studies(cli: Cli, journal: Path) -> list[str]:
    listed = cli.json("study", "list", "--storage", f"journal:{journal}")
    return [row["study"] for row in listed["studies"]]


def _one_error_line(stderr: str) -> str:
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in stderr, stderr
    return errors[0]


def _garbage_in_the_middle(journal: Path) -> int:
    lines = journal.read_bytes().splitlines(keepends=True)
    lines[2] = b'{"op_code": 4, "trial_id\x00 garbage\n'
    journal.write_bytes(b"".join(lines))
    return 3


def _json_that_is_not_a_record(journal: Path) -> int:
    lines = journal.read_bytes().splitlines(keepends=True)
    lines[2] = b"[1, 2]\n"
    journal.write_bytes(b"".join(lines))
    return 3


def _garbage_at_the_end(journal: Path) -> int:
    journal.write_bytes(journal.read_bytes() + b"#@!\n")
    return len(journal.read_bytes().splitlines())


# Each damages the journal and returns the damaged line's number; then what the message says.
DAMAGES: dict[str, tuple[Callable[[Path], int], str]] = {
    "garbage in the middle": (_garbage_in_the_middle, "it is not JSON"),
    "JSON that is not a record": (
        _json_that_is_not_a_record,
        "it is JSON but not an Optuna journal record",
    ),
    "garbage at the end": (_garbage_at_the_end, "it is not JSON"),
}
STUDY_COMMANDS = {
    "list": ["study", "list"],
    "show": ["study", "show", "base"],
    "best": ["study", "best", "base"],
    "export": ["study", "export", "base"],
}


@pytest.mark.slow
@pytest.mark.parametrize("damage", DAMAGES)
def test_a_damaged_journal_line_is_exit_3_naming_the_file_and_line(
    cli: Cli, seeded: tuple[Path, Path, Path], journal: Path, damage: str
) -> None:
    table, config, _ = seeded
    build, problem = DAMAGES[damage]
    line = build(journal)
    damaged = journal.read_bytes()
    commands = [[*args, "--storage", f"journal:{journal}"] for args in STUDY_COMMANDS.values()]
    for args in [*commands, _tune_args(table, config, journal, "base", 3)]:
        result = cli(*args, code=ExitCode.BAD_DATA)
        message = _one_error_line(result.stderr)
        assert f"{journal}: the study journal is damaged at line {line} ({problem})" in message
        assert "delete that line or restore the journal from a backup" in message
        assert result.stdout == ""
    assert journal.read_bytes() == damaged  # nothing was appended after the damage


@pytest.mark.slow
def test_a_last_line_cut_short_is_set_aside_with_a_warning_and_the_study_goes_on(
    cli: Cli, seeded: tuple[Path, Path, Path], journal: Path
) -> None:
    table, config, _ = seeded
    intact = journal.read_bytes()
    torn = b'{"op_code":4,"worker_id":"x","study_id":0,"dat'  # a crash mid-write
    journal.write_bytes(intact + torn)
    result = cli("study", "list", "--storage", f"journal:{journal}", "--json")
    lines = len(intact.splitlines())
    (warning,) = json.loads(result.stdout)["warnings"]
    assert f"{journal}: line {lines + 1} was cut short" in warning
    assert journal.read_bytes() == intact
    (aside,) = journal.parent.glob("studies.journal.torn-*")
    assert aside.read_bytes() == torn and str(aside) in warning
    assert json.loads(result.stdout)["studies"][0]["complete"] == 2
    document = cli.json(*_tune_args(table, config, journal, "base", 3))
    assert document["counts"]["complete"] == 3 and _states(journal, "base").count("FAIL") == 0


@pytest.mark.parametrize(
    ("target", "other_data", "fragments"),
    [
        ("a", False, ["target 'y', not 'a'", "task 'classification', not 'regression'"]),
        ("y", True, ["data table.csv (sha256 ", "not other.csv ("]),
    ],
    ids=["another target and task", "other data"],
)
def test_a_study_reused_for_another_search_is_refused_naming_what_differs(
    cli: Cli,
    seeded: tuple[Path, Path, Path],
    journal: Path,
    tmp_path: Path,
    target: str,
    other_data: bool,
    fragments: list[str],
) -> None:
    table, config, _ = seeded
    if other_data:
        table = write_lines(tmp_path / "other.csv", table_lines(seed=7))
    args = _tune_args(table, config, journal, "base", 3)
    args[args.index("y")] = target
    result = cli(*args, code=ExitCode.USAGE)
    message = _one_error_line(result.stderr)
    assert "study 'base' holds trials of another search" in message
    assert all(fragment in message for fragment in fragments), message
    assert "choose another --study name" in message
    assert _states(journal, "base") == ["COMPLETE", "COMPLETE"]  # no trial was mixed in


@pytest.mark.slow
def test_a_changed_space_optuna_cannot_mix_is_refused_and_a_new_range_is_not(
    cli: Cli, seeded: tuple[Path, Path, Path], journal: Path, tmp_path: Path
) -> None:
    table, _, _ = seeded
    changed = tmp_path / "changed.toml"
    changed.write_text(
        SPACE + 'activation = ["relu", "tanh"]\nlr = {low = 0.001, high = 0.01, log = false}\n'
    )
    result = cli(*_tune_args(table, changed, journal, "base", 3), code=ExitCode.USAGE)
    message = _one_error_line(result.stderr)
    assert "study 'base': search parameter 'lr' was [0.001, 0.01] log (numbers)" in message
    assert "now [0.001, 0.01] (numbers)" in message
    changed.write_text(SPACE + 'activation = ["relu"]\n')
    result = cli(*_tune_args(table, changed, journal, "base", 3), code=ExitCode.USAGE)
    assert "'activation' was {relu, tanh} in its trials, now {relu}" in result.stderr
    assert _states(journal, "base") == ["COMPLETE", "COMPLETE"]  # no failed trial left
    # A narrower range of the same kind is fine: Optuna mixes those.
    changed.write_text(
        SPACE + 'activation = ["relu", "tanh"]\nlr = {low = 0.002, high = 0.01, log = true}\n'
    )
    document = cli.json(*_tune_args(table, changed, journal, "base", 3))
    assert document["counts"]["complete"] == 3


def _bad_target(table: Path, config: Path, tmp: Path) -> tuple[Path, Path, list[str]]:
    return table, config, ["-t", "nope"]


def _unknown_parameter(table: Path, config: Path, tmp: Path) -> tuple[Path, Path, list[str]]:
    bad = tmp / "bad.toml"
    bad.write_text("[tune.space]\ndepth = 3\n")
    return table, bad, []


def _empty_data(table: Path, config: Path, tmp: Path) -> tuple[Path, Path, list[str]]:
    empty = tmp / "empty.csv"
    empty.write_bytes(b"")
    return empty, config, []


def _header_only(table: Path, config: Path, tmp: Path) -> tuple[Path, Path, list[str]]:
    return write_lines(tmp / "header.csv", table_lines()[:1]), config, []


def _one_class(table: Path, config: Path, tmp: Path) -> tuple[Path, Path, list[str]]:
    lines = table_lines()
    return (
        write_lines(tmp / "one.csv", [lines[0], *(ln[:-1] + "p" for ln in lines[1:])]),
        config,
        [],
    )


@pytest.mark.parametrize(
    ("build", "code", "fragment"),
    [
        (_bad_target, ExitCode.BAD_DATA, "target column 'nope' not found"),
        (_unknown_parameter, ExitCode.USAGE, "unknown search parameter 'depth'"),
        (_empty_data, ExitCode.BAD_DATA, "the file is empty"),
        (_header_only, ExitCode.BAD_DATA, "has a header but no data rows"),
        (_one_class, ExitCode.BAD_DATA, "one.csv"),
    ],
    ids=["bad target", "unknown parameter", "empty data", "header only", "one class"],
)
def test_a_search_that_fails_its_checks_leaves_no_study_behind(
    cli: Cli,
    seeded: tuple[Path, Path, Path],
    journal: Path,
    tmp_path: Path,
    build: Callable[..., tuple[Path, Path, list[str]]],
    code: ExitCode,
    fragment: str,
) -> None:
    table, config, extra = build(*seeded[:2], tmp_path)
    args = _tune_args(table, config, journal, "fresh", 2)
    if extra:
        args[args.index("-t") : args.index("-t") + 2] = extra
    result = cli(*args, code=code)
    assert fragment in _one_error_line(result.stderr)
    assert _studies(cli, journal) == ["base"]


def _case_args(case: str, table: Path, config: Path, journal: Path, tmp: Path) -> list[Any]:
    """The command line of one hostile case (see CASES)."""
    storage = f"journal:{journal}"
    base = _tune_args(table, config, journal, "fresh", 1)
    if case == "trials 0":
        return [*base, "--trials", "0"]
    if case == "workers 0":
        return [*base, "--workers", "0"]
    if case == "timeout 0":
        return [*base, "--timeout", "0"]
    if case == "unknown scheme":
        return [*base, "--storage", "ftp://host/studies"]
    if case == "unreachable postgres":
        return [*base, "--storage", "postgresql://postgres:secret@127.0.0.1:1/test"]
    if case == "journal is a directory":
        return [*base, "--storage", f"journal:{tmp}"]
    if case == "journal where nothing can be written":
        return [*base, "--storage", "journal:/proc/nncli/studies.journal"]
    if case == "log scale with a step":
        bad = tmp / "step.toml"
        bad.write_text("[tune.space]\nwidth = {low = 8, high = 64, log = true, step = 2}\n")
        return [*base, "--config", bad]
    if case == "save-best onto the journal":
        return [*base, "--save-best", journal]
    if case == "refit without save-best":
        return [*base, "--refit", "all"]
    if case in ("train's final refit", "train's epoch folds"):
        flag = "--final-refit" if case == "train's final refit" else "--epoch-folds"
        return [*base, flag, "always" if flag == "--final-refit" else "5"]
    if case == "refit of an unknown kind":
        return [*base, "--refit", "best", "--save-best", tmp / "best.nncli"]
    if case == "pick without save-best":
        return [*base, "--pick", "best"]
    if case == "pick of an unknown kind":
        return [*base, "--pick", "first", "--save-best", tmp / "best.nncli"]
    if case in ("forecast tune of a tabular study", "forecast pick beats-defaults"):
        series = tmp / "series.csv"
        series.write_text("date,value\n" + "".join(f"2024-01-{d:02d},{d}\n" for d in range(1, 29)))
        common = ["--time-col", "date", "-t", "value", "--lookback", "3", "--horizon", "1"]
        if case == "forecast pick beats-defaults":
            common += ["--pick", "beats-defaults", "--save-best", tmp / "f.nncli"]
        return ["forecast", "tune", series, *common, "--study", "base", "--storage", storage]
    if case == "show a missing study":
        return ["study", "show", "nope", "--storage", storage]
    if case == "best of a study without a complete trial":
        from nncli.tuning.storage import open_storage

        optuna.create_study(study_name="empty", storage=open_storage(storage))
        return ["study", "best", "empty", "--storage", storage]
    if case == "export onto the journal":
        return ["study", "export", "base", "--storage", storage, "-o", journal]
    assert case == "export in an unknown format"
    return ["study", "export", "base", "--storage", storage, "--format", "xml"]


CASES = {
    "trials 0": (ExitCode.USAGE, "--trials must be at least 1, not 0"),
    "workers 0": (ExitCode.USAGE, "--workers must be at least 1, not 0"),
    "timeout 0": (ExitCode.USAGE, "--timeout must be positive"),
    "unknown scheme": (ExitCode.USAGE, "--storage ftp://host/studies: unknown storage scheme"),
    "unreachable postgres": (
        ExitCode.USAGE,
        "--storage postgresql://postgres:***@127.0.0.1:1/test: ",
    ),
    "journal is a directory": (ExitCode.USAGE, "is a directory, not a study journal"),
    "journal where nothing can be written": (ExitCode.USAGE, "cannot keep the study journal there"),
    "log scale with a step": (ExitCode.USAGE, "[tune.space]: width: "),
    "save-best onto the journal": (ExitCode.USAGE, "refusing to overwrite"),
    "refit without save-best": (ExitCode.USAGE, "--refit all: says how --save-best retrains"),
    "refit of an unknown kind": (ExitCode.USAGE, "--refit must be one of trial, all"),
    # train's own refit is no flag of tune's (a trial is the early-stopped network).
    "train's final refit": (ExitCode.USAGE, "No such option: --final-refit"),
    "train's epoch folds": (ExitCode.USAGE, "No such option: --epoch-folds"),
    "pick without save-best": (ExitCode.USAGE, "--pick best: says which trial --save-best keeps"),
    "pick of an unknown kind": (ExitCode.USAGE, "--pick must be one of beats-defaults, best"),
    "forecast pick beats-defaults": (
        ExitCode.USAGE,
        "--pick beats-defaults compares a table's validation rows row by row",
    ),
    "forecast tune of a tabular study": (
        ExitCode.USAGE,
        "'base' is a tabular search, not a forecast",
    ),
    "show a missing study": (ExitCode.USAGE, "no study named 'nope'"),
    "best of a study without a complete trial": (ExitCode.USAGE, "has no complete trial yet"),
    "export onto the journal": (ExitCode.USAGE, "refusing to overwrite"),
    "export in an unknown format": (ExitCode.USAGE, "--format must be csv or json, not 'xml'"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
def test_hostile_tuning_case(
    cli: Cli, seeded: tuple[Path, Path, Path], journal: Path, tmp_path: Path, case: str
) -> None:
    code, fragment = CASES[case]
    folder = tmp_path / "folder"
    folder.mkdir()
    args = _case_args(case, *seeded[:2], journal, folder)
    before = set(_studies(cli, journal))
    kept = journal.read_bytes()
    result = cli(*args, code=code)
    message = _one_error_line(result.stderr)
    assert fragment in message, message
    assert "secret" not in result.stderr and "Background on this error" not in message
    assert set(_studies(cli, journal)) == before
    if case != "best of a study without a complete trial":
        assert journal.read_bytes() == kept  # the journal is never replaced or extended


def test_an_odd_study_name_is_kept_as_written_and_never_reaches_the_terminal_raw(
    cli: Cli, seeded: tuple[Path, Path, Path], journal: Path
) -> None:
    name = "we/ird name ✓ \x1b[31mred"
    document = cli.json(*_tune_args(*seeded[:2], journal, name, 1))
    assert document["study"] == name and document["counts"]["complete"] == 1
    shown = cli("study", "show", name, "--storage", f"journal:{journal}")
    assert "\x1b" not in shown.stdout + shown.stderr and "we/ird name ✓" in shown.stdout
    assert sorted(_studies(cli, journal)) == ["base", name]


def test_workers_all_killed_before_the_budget_is_exit_143_saying_so(
    seeded: tuple[Path, Path, Path], journal: Path
) -> None:
    from optuna.trial import TrialState

    from nncli.errors import TerminatedError
    from nncli.tabular.options import TabularOptions
    from nncli.tuning.runner import TuneJob, report_killed_workers
    from nncli.tuning.storage import WORKER_ATTR, open_storage, this_worker

    dead = subprocess.Popen(["true"])  # a PID that no longer runs
    dead.wait()
    storage = open_storage(f"journal:{journal}")
    study = optuna.load_study(study_name="base", storage=storage)
    trial = study.ask()  # the dead worker's trial, left RUNNING
    trial_id = storage.get_trial_id_from_study_id_trial_number(
        storage.get_study_id_from_name("base"), trial.number
    )
    storage.set_trial_system_attr(trial_id, WORKER_ATTR, {**this_worker(), "pid": dead.pid})
    job = TuneJob(
        kind="tabular",
        data=seeded[0],
        study_name="base",
        storage_url=f"journal:{journal}",
        trials=4,
        tabular=TabularOptions(target="y"),
    )
    with pytest.raises(TerminatedError) as raised:
        report_killed_workers(job, [(1, dead.pid, 9)], None)
    message = raised.value.one_line()
    assert f"tuning worker 1 (PID {dead.pid}) was killed by SIGKILL during trial 2" in message
    assert "the study holds 2 of 4 trials — rerun the command to resume" in message
    assert raised.value.exit_code == ExitCode.TERMINATED
    states = _states(journal, "base")
    assert states[2] == TrialState.FAIL.name and states[3] == TrialState.WAITING.name


@pytest.mark.slow
def test_a_journal_lock_left_by_a_killed_holder_does_not_stall_the_next_writer_for_30_s(
    journal: Path,
) -> None:
    import threading

    from nncli.tuning.storage import open_storage

    storage = open_storage(f"journal:{journal}")
    Path(f"{journal}.lock").symlink_to(journal)  # as a worker SIGKILLed mid-append leaves it
    written = threading.Event()

    def write() -> None:
        storage.set_study_user_attr(storage.get_study_id_from_name("base"), "note", "kept")
        written.set()

    threading.Thread(target=write, daemon=True).start()
    # Optuna alone breaks a lock only after 30 s without a change; under nncli's flock, 3 s.
    assert written.wait(timeout=20), "the stale lock stalled the write"
    assert optuna.load_study(study_name="base", storage=storage).user_attrs["note"] == "kept"
