"""`nncli tune`, `nncli forecast tune` and `nncli study list|show|best|export`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from nncli.cli.common import default_model_path
from nncli.cli.forecast import forecast_app
from nncli.cli.options import ConfigOpt, DataArg, HelpGroup, command
from nncli.data.loading import CsvOptions
from nncli.output import Ui, make_table
from nncli.tuning.options import (
    ForecastSearchOptions,
    ForecastTrialOptions,
    SearchOptions,
    StudyStorage,
    TabularTrialOptions,
)

if TYPE_CHECKING:
    from nncli.tuning.domain import SearchDomain
    from nncli.tuning.report import TuneReport

STUDY_FORMATS = ("table", "json", "csv")

study_app = typer.Typer(
    name="study",
    cls=HelpGroup,
    help="List, show and export stored Optuna studies.",
    no_args_is_help=True,
)
FormatOpt = Annotated[
    str, typer.Option("--format", "-f", envvar="NNCLI_FORMAT", help="table, json or csv.")
]
StudyArg = Annotated[str, typer.Argument(help="Study name.")]


def tune(
    ui: Ui,
    data: DataArg,
    options: TabularTrialOptions,
    search: SearchOptions,
    config: ConfigOpt = None,
) -> None:
    """Search TabM, MLP and RBF networks with Optuna, from train's defaults (pruning, resumable).

    Each trial draws the architecture (TabM, the default, MLP or RBF), layers and width,
    dropout, activation, learning rate, weight decay and batch size, and for TabM its
    members, numeric embedding and learning-rate schedule. The first trial is nncli train's
    defaults. Any parameter can be narrowed or fixed in the config's tune.space table;
    --workers processes (or machines sharing --storage) fill one study.

    Examples:
      nncli tune sample_data/penguins.csv -t species --trials 3 --study penguins
    """
    from nncli.tuning.tabular import TabularSearch

    _search_and_report(ui, data, search, config, TabularSearch(options))


@command(forecast_app, "tune")
def forecast_tune(
    ui: Ui,
    data: DataArg,
    options: ForecastTrialOptions,
    search: ForecastSearchOptions,
    csv: CsvOptions,
    config: ConfigOpt = None,
) -> None:
    """Search LSTM, GRU, TCN and MLP forecasters with Optuna (pruning, resumable, many workers).

    Each trial draws the architecture, lookback, hidden size, layers, dropout and learning
    rate, scored on the validation windows (or --folds walk-forward folds). Any parameter can
    be narrowed or fixed in the config's forecast.tune.space table.

    Examples:
      nncli forecast tune sample_data/stocks.csv --time-col date \\
          -t adj_close --group-col ticker --trials 2
    """
    from nncli.tuning.forecast import ForecastSearch

    _search_and_report(ui, data, search, config, ForecastSearch(options, csv, search.folds))


def _search_and_report(
    ui: Ui, data: Path, search: SearchOptions, config: Path | None, domain: SearchDomain
) -> None:
    """Run the search, refit the best trial with --save-best, and print the study's report."""
    from nncli.tuning.job import TuneJob, options_the_search_replaces
    from nncli.tuning.refit import refit_best
    from nncli.tuning.runner import run_search
    from nncli.tuning.storage import redact

    name = search.study or f"{default_model_path(data).stem}-{domain.name}"
    job = TuneJob.for_search(data, search, name, domain, config=config, quiet=ui.quiet)
    ignored = options_the_search_replaces(job)
    if ignored:
        ui.warn(
            f"{', '.join(ignored)}: drawn by the search in every trial, so ignored here; "
            f"fix a value in the config's {job.space_table()} table instead"
        )
    ui.info(
        f"study {job.study_name!r} in {redact(job.storage_url)}: {job.trials} trial(s) in total, "
        f"{search.workers} worker(s)"
    )
    report = run_search(job, search.workers, None if ui.quiet else ui.info, ui.warn)
    refit = None
    if search.save_best is not None:
        trial = report.best["number"] if report.best else "?"
        mode, pick = search.refit_mode(), search.pick_mode(domain.default_pick)
        defaults = report.defaults["number"] if report.defaults else trial
        if pick == "beats-defaults" and defaults != trial:
            ui.info(
                f"retraining trial {trial} and the defaults (trial {defaults}) as they trained, "
                "to compare them on the validation rows"
            )
        else:
            rows = "as it trained" if mode == "trial" else "on train+validation"
            ui.info(f"retraining trial {trial} {rows}")
        refit = refit_best(job, report, search.save_best, ui, mode=mode, pick=pick)
        ui.info(f"saved {search.save_best} (model id {refit['model_id']})")
    if ui.json_mode:
        ui.emit_json({"ok": True, **report.to_dict(), "saved": refit})
    else:
        render_report(ui, report)
        if refit and "verdict" in refit:
            ui.print(refit["verdict"])


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
    defaults = report.defaults
    if defaults is not None and defaults["number"] != best["number"]:
        value = defaults["value"]
        scored = "not complete" if value is None else f"validation loss {value:.5g}"
        ui.print(f"defaults: trial {defaults['number']}, {scored}")
    ui.print(
        make_table(
            "best parameters", ["parameter", "value"], [[k, v] for k, v in best["params"].items()]
        )
    )
    names = list(best["params"])
    rows = [
        [t["number"], t["value"], *(t["params"].get(n) for n in names)] for t in report.top_trials
    ]
    ui.print(make_table("top trials", ["trial", "value", *names], rows))
    if report.importances:
        rows = [
            [name, value, "█" * round(value * 30)] for name, value in report.importances.items()
        ]
        ui.print(
            make_table("parameter importances (fANOVA)", ["parameter", "importance", ""], rows)
        )


def _check_format(fmt: str) -> None:
    from nncli.errors import UsageError

    if fmt not in STUDY_FORMATS:
        raise UsageError(f"--format must be table, json or csv, not {fmt!r}")


def _emit_rows(ui: Ui, fmt: str, rows: list[dict[str, Any]], title: str) -> None:
    """Rows as CSV on stdout, or as a table."""
    if fmt == "csv":
        import csv
        import sys

        if rows:
            writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
    else:
        columns = list(rows[0]) if rows else ["study"]
        ui.print(make_table(title, columns, [[r[c] for c in columns] for r in rows]))


@command(study_app, "list")
def study_list(ui: Ui, where: StudyStorage, fmt: FormatOpt = "table") -> None:
    """List the studies in a storage.

    Examples:
      nncli study list
    """
    from nncli.tuning.storage import redact
    from nncli.tuning.studies import list_studies

    _check_format(fmt)
    url = where.url()
    rows = list_studies(url, ui.warn)
    if ui.json_mode or fmt == "json":
        ui.emit_json({"ok": True, "storage": redact(url), "studies": rows})
    else:
        _emit_rows(ui, fmt, rows, f"studies in {redact(url)}")


@command(study_app, "show")
def study_show(ui: Ui, name: StudyArg, where: StudyStorage, fmt: FormatOpt = "table") -> None:
    """Counts, best trial, top trials and parameter importances of a study.

    Examples:
      nncli study show penguins
    """
    from nncli.tuning.report import summarize
    from nncli.tuning.studies import load_study

    _check_format(fmt)
    url = where.url()
    report = summarize(load_study(name, url, ui.warn), url)
    if ui.json_mode or fmt == "json":
        ui.emit_json({"ok": True, **report.to_dict()})
    elif fmt == "csv":
        rows = [
            {"trial": t["number"], "value": t["value"], **t["params"]} for t in report.top_trials
        ]
        _emit_rows(ui, "csv", rows, "")
    else:
        render_report(ui, report)


@command(study_app, "best")
def study_best(ui: Ui, name: StudyArg, where: StudyStorage) -> None:
    """The best trial's value and parameters.

    Examples:
      nncli study best penguins --json
    """
    from nncli.errors import UsageError
    from nncli.tuning.report import summarize
    from nncli.tuning.studies import load_study

    url = where.url()
    best = summarize(load_study(name, url, ui.warn), url).best
    if best is None:
        raise UsageError(f"study {name!r} has no complete trial yet")
    if ui.json_mode:
        ui.emit_json({"ok": True, "study": name, **best})
    else:
        ui.print(f"trial {best['number']}: value {best['value']:.6g}")
        rows = [[k, v] for k, v in best["params"].items()]
        ui.print(make_table(None, ["parameter", "value"], rows))


@command(study_app, "export")
def study_export(
    ui: Ui,
    name: StudyArg,
    where: StudyStorage,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="File to write (atomically) (default: stdout).",
            show_default=False,
        ),
    ] = None,
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="csv or json (default: from the file name, else csv; json with --json).",
            show_default=False,
        ),
    ] = "",
) -> None:
    """Every trial of a study (number, state, value, parameters, timings) as CSV or JSON.

    With --json and no --output, the trials are the "records" of its one JSON document.

    Examples:
      nncli study export penguins -o trials.csv
    """
    import json
    import sys

    from nncli.files import atomic_writer, check_output_path
    from nncli.tuning.storage import storage_files
    from nncli.tuning.studies import export_format, export_trials

    chosen = export_format(output, fmt, ui.json_mode)
    text, count = export_trials(name, where.url(), chosen, ui.warn)
    if output is None and ui.json_mode:  # docs/schemas/study-export.schema.json
        ui.emit_json({"ok": True, "study": name, "trials": count, "records": json.loads(text)})
    if output is None:
        sys.stdout.write("" if ui.json_mode else text)
        return
    check_output_path(output, *storage_files(where.url()))  # never over the studies' own file
    with atomic_writer(output) as handle:
        handle.write(text)
    ui.info(f"wrote {count} trial(s) of {name!r} to {output}")
    if ui.json_mode:
        ui.emit_json({"ok": True, "study": name, "trials": count, "output": str(output)})


def register(app: typer.Typer) -> None:
    """Add `tune` and `study`; `forecast tune` is registered on the forecast sub-app above."""
    command(app)(tune)
    app.add_typer(study_app, name="study")
