"""`nncli tune`, `nncli forecast tune` and `nncli study list|show|best|export`."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from nncli.cli.forecast import (
    EpochsOpt,
    GroupColOpt,
    HorizonOpt,
    TimeColOpt,
    TransformOpt,
    forecast_app,
)
from nncli.cli.forecast import (
    TargetOpt as SeriesTargetOpt,
)
from nncli.cli.options import (
    ConfigOpt,
    DataArg,
    DebugOpt,
    JsonOpt,
    QuietOpt,
    SeedOpt,
    csv_options,
)
from nncli.cli.runtime import command_session
from nncli.output import Ui, make_table

if TYPE_CHECKING:
    from nncli.tuning.runner import TuneJob, TuneReport

SEARCH = "Search"

TrialsOpt = Annotated[
    int,
    typer.Option(
        "--trials",
        "-n",
        envvar="NNCLI_TRIALS",
        help="Finished trials the study should hold in total (shared by all workers); rerun with more to add trials.",
        rich_help_panel=SEARCH,
    ),
]
StudyOpt = Annotated[
    str | None,
    typer.Option(
        "--study",
        envvar="NNCLI_STUDY",
        help="Study name; an existing study is resumed (default: derived from the data file).",
        show_default=False,
        rich_help_panel=SEARCH,
    ),
]
StorageOpt = Annotated[
    str | None,
    typer.Option(
        "--storage",
        help="Optuna storage URL (postgresql://…, mysql://…, sqlite:///…, journal:/path) (default: NNCLI_STORAGE, OPTUNA_STORAGE, or the local journal file).",
        show_default=False,
        rich_help_panel=SEARCH,
    ),
]
PrunerOpt = Annotated[
    str,
    typer.Option(
        "--pruner", envvar="NNCLI_PRUNER", help="median, hyperband or none.", rich_help_panel=SEARCH
    ),
]
WorkersOpt = Annotated[
    int,
    typer.Option(
        "--workers",
        envvar="NNCLI_WORKERS",
        help="Local worker processes sharing the study.",
        rich_help_panel=SEARCH,
    ),
]
TimeoutOpt = Annotated[
    float | None,
    typer.Option(
        "--timeout",
        envvar="NNCLI_TIMEOUT",
        help="Stop starting trials after this many seconds.",
        show_default=False,
        rich_help_panel=SEARCH,
    ),
]
SaveBestOpt = Annotated[
    Path | None,
    typer.Option(
        "--save-best",
        envvar="NNCLI_SAVE_BEST",
        help="Retrain the best configuration on train+validation and write this model file.",
        show_default=False,
        rich_help_panel=SEARCH,
    ),
]
HeartbeatOpt = Annotated[
    int,
    typer.Option(
        "--heartbeat",
        envvar="NNCLI_HEARTBEAT",
        help="Seconds between RDB heartbeats; a trial silent for 3 heartbeats is failed and retried.",
        rich_help_panel=SEARCH,
    ),
]


def _space_overrides(config: Path | None, *section: str) -> tuple[dict[str, Any], str]:
    """The [<command>.space] table of the config file (the search-space overrides)."""
    if config is None:
        return {}, "config"
    data: Any = tomllib.loads(config.read_text(encoding="utf-8"))
    for part in section:
        data = data.get(part, {}) if isinstance(data, dict) else {}
    space = data.get("space", {}) if isinstance(data, dict) else {}
    return dict(space), f"{config} [{'.'.join((*section, 'space'))}]"


def _study_name(study: str | None, data: Path, kind: str) -> str:
    from nncli.cli.tabular import default_model_path

    return study or f"{default_model_path(data).stem}-{kind}"


def _log(ui: Ui) -> Any:
    return None if ui.quiet else ui.info


def _run(ui: Ui, job: TuneJob, workers: int, save_best: Path | None, json: bool) -> None:
    from nncli.tuning.runner import open_study, refit_best, run_study, summarize

    ui.info(
        f"study {job.study_name!r} in {_redacted(job.storage_url)}: {job.trials} trial(s) in total, {workers} worker(s)"
    )
    run_study(job, workers, _log(ui))
    report = summarize(open_study(job), job.storage_url, job.space())
    refit = None
    if save_best is not None:
        ui.info(
            f"retraining trial {report.best['number'] if report.best else '?'} on train+validation"
        )
        refit = refit_best(job, report, save_best, ui)
        ui.info(f"saved {save_best} (model id {refit['model_id']})")
    if json:
        ui.emit_json({"ok": True, **report.to_dict(), "saved": refit})
    else:
        render_report(ui, report)
        if refit and "verdict" in refit:
            ui.print(refit["verdict"])


def _redacted(url: str) -> str:
    from nncli.tuning.storage import redact

    return redact(url)


def render_report(ui: Ui, report: TuneReport) -> None:
    """Counts, best trial, top trials and importances as tables."""
    counts = report.counts
    ui.print(
        f"study {report.study!r}: {counts['complete']} complete, {counts['pruned']} pruned, "
        f"{counts['failed']} failed"
        + (f", {counts['running']} running" if counts["running"] else "")
    )
    if report.best is None:
        ui.print("no complete trial yet")
        return
    best = report.best
    ui.print(f"best: trial {best['number']}, validation loss {best['value']:.5g}")
    ui.print(
        make_table(
            "best parameters", ["parameter", "value"], [[k, v] for k, v in best["params"].items()]
        )
    )
    names = list(best["params"])
    rows = [[t["number"], t["value"], *(t["params"].get(n) for n in names)] for t in report.top]
    ui.print(make_table("top trials", ["trial", "value", *names], rows))
    if report.importances:
        rows = [
            [name, value, "█" * round(value * 30)] for name, value in report.importances.items()
        ]
        ui.print(
            make_table("parameter importances (fANOVA)", ["parameter", "importance", ""], rows)
        )


def tune(
    data: DataArg,
    target: Annotated[
        str, typer.Option("--target", "-t", envvar="NNCLI_TARGET", help="Column to predict.")
    ],
    trials: TrialsOpt = 20,
    study: StudyOpt = None,
    storage: StorageOpt = None,
    pruner: PrunerOpt = "median",
    workers: WorkersOpt = 1,
    timeout: TimeoutOpt = None,
    save_best: SaveBestOpt = None,
    heartbeat: HeartbeatOpt = 10,
    task: Annotated[
        str | None,
        typer.Option(
            "--task",
            envvar="NNCLI_TASK",
            help="classification or regression (default: inferred).",
            show_default=False,
        ),
    ] = None,
    drop: Annotated[
        list[str] | None, typer.Option("--drop", help="Column to leave out (repeatable).")
    ] = None,
    id_col: Annotated[
        list[str] | None, typer.Option("--id-col", help="ID column (repeatable).")
    ] = None,
    split: Annotated[
        str,
        typer.Option(
            "--split", envvar="NNCLI_SPLIT", help="auto, stratified, random, time or column."
        ),
    ] = "auto",
    epochs: Annotated[
        int, typer.Option("--epochs", envvar="NNCLI_EPOCHS", help="Maximum epochs per trial.")
    ] = 100,
    patience: Annotated[
        int,
        typer.Option(
            "--patience", envvar="NNCLI_PATIENCE", help="Early-stopping patience per trial."
        ),
    ] = 10,
    seed: SeedOpt = 0,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Search MLP hyperparameters with Optuna (per-epoch pruning, resumable, many workers)."""
    with command_session(json, quiet, debug) as ui:
        from nncli.files import check_input_file, check_output_path
        from nncli.tabular.options import TabularOptions
        from nncli.training.loop import TrainingConfig
        from nncli.tuning.runner import TuneJob
        from nncli.tuning.storage import resolve_storage_url

        check_input_file(data)
        if save_best is not None:
            check_output_path(save_best, data)
        overrides, source = _space_overrides(config, "tune")
        options = TabularOptions(
            target=target,
            task=task,
            drop=list(drop or []),
            id_columns=list(id_col or []),
            split=split,
            training=TrainingConfig(epochs=epochs, patience=patience, seed=seed),
            csv=csv_options(None, "utf-8"),
        )
        options.validate()
        job = TuneJob(
            kind="tabular",
            data=data,
            study_name=_study_name(study, data, "tabular"),
            storage_url=resolve_storage_url(storage),
            trials=trials,
            pruner=pruner,
            seed=seed,
            space_overrides=overrides,
            space_source=source,
            tabular=options,
            timeout=timeout,
            heartbeat_seconds=heartbeat,
            quiet=quiet,
        )
        _run(ui, job, workers, save_best, json)


@forecast_app.command("tune")
def forecast_tune(
    data: DataArg,
    time_col: TimeColOpt,
    target: SeriesTargetOpt,
    group_col: GroupColOpt = None,
    covariate: Annotated[
        list[str] | None,
        typer.Option("--covariate", help="Past-observed covariate column (repeatable)."),
    ] = None,
    horizon: HorizonOpt = 5,
    transform: TransformOpt = "log-return",
    folds: Annotated[
        int,
        typer.Option(
            "--folds",
            envvar="NNCLI_FOLDS",
            help="Walk-forward folds per trial (pruning across folds when > 1).",
            rich_help_panel=SEARCH,
        ),
    ] = 1,
    trials: TrialsOpt = 20,
    study: StudyOpt = None,
    storage: StorageOpt = None,
    pruner: PrunerOpt = "median",
    workers: WorkersOpt = 1,
    timeout: TimeoutOpt = None,
    save_best: SaveBestOpt = None,
    heartbeat: HeartbeatOpt = 10,
    epochs: EpochsOpt = 20,
    patience: Annotated[
        int,
        typer.Option(
            "--patience", envvar="NNCLI_PATIENCE", help="Early-stopping patience per trial."
        ),
    ] = 5,
    seed: SeedOpt = 0,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Search forecaster hyperparameters (arch, lookback, size, learning rate) with Optuna."""
    with command_session(json, quiet, debug) as ui:
        from nncli.files import check_input_file, check_output_path
        from nncli.forecasting.model import ForecastOptions
        from nncli.forecasting.series import PanelSpec
        from nncli.training.loop import TrainingConfig
        from nncli.tuning.runner import TuneJob
        from nncli.tuning.storage import resolve_storage_url

        check_input_file(data)
        if save_best is not None:
            check_output_path(save_best, data)
        overrides, source = _space_overrides(config, "forecast", "tune")
        options = ForecastOptions(
            panel=PanelSpec(time_col, target, group_col, list(covariate or [])),
            horizon=horizon,
            transform=transform,
            training=TrainingConfig(epochs=epochs, patience=patience, seed=seed),
        )
        options.validate()
        job = TuneJob(
            kind="forecast",
            data=data,
            study_name=_study_name(study, data, "forecast"),
            storage_url=resolve_storage_url(storage),
            trials=trials,
            pruner=pruner,
            seed=seed,
            space_overrides=overrides,
            space_source=source,
            forecast=options,
            folds=folds,
            timeout=timeout,
            heartbeat_seconds=heartbeat,
            quiet=quiet,
        )
        _run(ui, job, workers, save_best, json)


study_app = typer.Typer(
    name="study", help="List, show and export stored Optuna studies.", no_args_is_help=True
)
FormatOpt = Annotated[
    str, typer.Option("--format", "-f", envvar="NNCLI_FORMAT", help="table, json or csv.")
]


def _open(storage: str | None) -> tuple[Any, str]:
    from nncli.tuning.storage import open_storage, resolve_storage_url

    url = resolve_storage_url(storage)
    return open_storage(url), url


def _load(name: str, storage: str | None) -> tuple[Any, str]:
    import optuna

    from nncli.errors import UsageError

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    handle, url = _open(storage)
    try:
        return optuna.load_study(study_name=name, storage=handle), url
    except KeyError as exc:
        names = [s.study_name for s in optuna.get_all_study_summaries(handle)]
        raise UsageError(
            f"no study named {name!r} in {_redacted(url)}",
            hint=f"studies there: {', '.join(names) or 'none'}",
        ) from exc


def _check_format(fmt: str) -> None:
    from nncli.errors import UsageError

    if fmt not in ("table", "json", "csv"):
        raise UsageError(f"--format must be table, json or csv, not {fmt!r}")


@study_app.command("list")
def study_list(
    storage: StorageOpt = None,
    fmt: FormatOpt = "table",
    json: JsonOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """List the studies in a storage."""
    with command_session(json, quiet, debug) as ui:
        import optuna

        from nncli.tuning.runner import budget_state

        _check_format(fmt)
        optuna.logging.set_verbosity(optuna.logging.ERROR)
        handle, url = _open(storage)
        rows = []
        for summary in optuna.get_all_study_summaries(handle, include_best_trial=True):
            counts = budget_state(optuna.load_study(study_name=summary.study_name, storage=handle))
            rows.append(
                {
                    "study": summary.study_name,
                    "kind": summary.user_attrs.get("nncli_kind", ""),
                    "complete": counts["complete"],
                    "pruned": counts["pruned"],
                    "failed": counts["failed"],
                    "best_value": summary.best_trial.value if summary.best_trial else None,
                    "created": summary.datetime_start.isoformat(timespec="seconds")
                    if summary.datetime_start
                    else None,
                }
            )
        _emit_rows(
            ui,
            json or fmt == "json",
            fmt,
            {"storage": _redacted(url), "studies": rows},
            rows,
            f"studies in {_redacted(url)}",
        )


def _emit_rows(
    ui: Ui,
    as_json: bool,
    fmt: str,
    document: dict[str, Any],
    rows: list[dict[str, Any]],
    title: str,
) -> None:
    import csv
    import sys

    if as_json:
        ui.emit_json({"ok": True, **document})
    elif fmt == "csv":
        if rows:
            writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    else:
        columns = list(rows[0]) if rows else ["study"]
        ui.print(make_table(title, columns, [[r[c] for c in columns] for r in rows]))


@study_app.command("show")
def study_show(
    name: Annotated[str, typer.Argument(help="Study name.")],
    storage: StorageOpt = None,
    fmt: FormatOpt = "table",
    json: JsonOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Counts, best trial, top trials and parameter importances of a study."""
    with command_session(json, quiet, debug) as ui:
        from nncli.tuning.runner import summarize

        _check_format(fmt)
        loaded, url = _load(name, storage)
        report = summarize(loaded, url)
        if json or fmt == "json":
            ui.emit_json({"ok": True, **report.to_dict()})
        elif fmt == "csv":
            _emit_rows(
                ui,
                False,
                "csv",
                {},
                [{"trial": t["number"], "value": t["value"], **t["params"]} for t in report.top],
                "",
            )
        else:
            render_report(ui, report)


@study_app.command("best")
def study_best(
    name: Annotated[str, typer.Argument(help="Study name.")],
    storage: StorageOpt = None,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """The best trial's value and parameters."""
    with command_session(json, quiet, debug) as ui:
        from nncli.errors import UsageError
        from nncli.tuning.runner import summarize

        loaded, url = _load(name, storage)
        best = summarize(loaded, url).best
        if best is None:
            raise UsageError(f"study {name!r} has no complete trial yet")
        if json:
            ui.emit_json({"ok": True, "study": name, **best})
        else:
            ui.print(f"trial {best['number']}: value {best['value']:.6g}")
            ui.print(
                make_table(
                    None, ["parameter", "value"], [[k, v] for k, v in best["params"].items()]
                )
            )


@study_app.command("export")
def study_export(
    name: Annotated[str, typer.Argument(help="Study name.")],
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="File to write (atomically) (default: stdout).",
            show_default=False,
        ),
    ] = None,
    storage: StorageOpt = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="csv or json (default: from the file name, else csv).",
            show_default=False,
        ),
    ] = "",
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
) -> None:
    """Every trial of a study (number, state, value, parameters, timings) as CSV or JSON."""
    with command_session(False, quiet, debug) as ui:
        import sys

        from nncli.errors import UsageError
        from nncli.files import atomic_writer, check_output_path

        chosen = fmt or ("json" if output is not None and output.suffix == ".json" else "csv")
        if chosen not in ("csv", "json"):
            raise UsageError(f"--format must be csv or json, not {chosen!r}")
        loaded, _ = _load(name, storage)
        frame = loaded.trials_dataframe(
            attrs=(
                "number",
                "state",
                "value",
                "params",
                "user_attrs",
                "datetime_start",
                "datetime_complete",
                "duration",
            )
        )
        if chosen == "csv":
            text = frame.to_csv(index=False, lineterminator="\n")
        else:
            text = frame.to_json(orient="records", date_format="iso", indent=2) + "\n"
        if output is None:
            sys.stdout.write(text)
            return
        check_output_path(output)
        with atomic_writer(output) as handle:
            handle.write(text)
        ui.info(f"wrote {len(frame)} trial(s) of {name!r} to {output}")


def register(app: typer.Typer) -> None:
    """Add `tune` and `study`; `forecast tune` is registered on the forecast sub-app above."""
    app.command()(tune)
    app.add_typer(study_app, name="study")
