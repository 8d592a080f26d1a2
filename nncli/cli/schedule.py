"""`nncli forecast run` (the scheduled job) and `nncli forecast score` (the live ledger)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from nncli.cli.forecast import (
    ArchOpt,
    DropoutOpt,
    EpochsOpt,
    GroupColOpt,
    HiddenSizeOpt,
    HorizonOpt,
    LayersOpt,
    LookbackOpt,
    LrOpt,
    PatienceOpt,
    QuantilesOpt,
    TargetOpt,
    TimeColOpt,
    TransformOpt,
    _options,
    _scores_table,
    forecast_app,
)
from nncli.cli.options import ConfigOpt, DataArg, DebugOpt, JsonOpt, QuietOpt, SeedOpt
from nncli.cli.runtime import command_session
from nncli.output import Ui, make_table

JOB = "Job"
GATES = "Quality gates"

FailIfWorseOpt = Annotated[
    bool,
    typer.Option(
        "--fail-if-worse-than-naive",
        envvar="NNCLI_FAIL_IF_WORSE_THAN_NAIVE",
        help="Exit 5 when the live MASE is not below the naive forecast's.",
        rich_help_panel=GATES,
    ),
]
MaxMaseOpt = Annotated[
    float | None,
    typer.Option(
        "--max-mase",
        envvar="NNCLI_MAX_MASE",
        help="Exit 5 when the live MASE is above this.",
        show_default=False,
        rich_help_panel=GATES,
    ),
]
WindowOpt = Annotated[
    int,
    typer.Option(
        "--window",
        envvar="NNCLI_SCORE_WINDOW",
        help="Trailing window: the newest N forecast origins.",
    ),
]
PartialOpt = Annotated[
    str,
    typer.Option(
        "--partial-last-row",
        envvar="NNCLI_PARTIAL_LAST_ROW",
        help="A last line without a line ending (a file still being written): error, drop (with a warning) or allow.",
        rich_help_panel=JOB,
    ),
]


@forecast_app.command("run")
def run(
    data: Annotated[
        Path,
        typer.Option(
            "--data", envvar="NNCLI_DATA", help="The price/series CSV to read.", rich_help_panel=JOB
        ),
    ],
    model: Annotated[
        Path,
        typer.Option(
            "--model",
            envvar="NNCLI_MODEL",
            help="The job's model file (created on the first run, replaced on retrains).",
            rich_help_panel=JOB,
        ),
    ],
    ledger: Annotated[
        Path,
        typer.Option(
            "--ledger",
            envvar="NNCLI_LEDGER",
            help="The forecast ledger CSV (append-only).",
            rich_help_panel=JOB,
        ),
    ],
    time_col: TimeColOpt,
    target: TargetOpt,
    group_col: GroupColOpt = None,
    covariate: Annotated[
        list[str] | None,
        typer.Option("--covariate", help="Past-observed covariate column (repeatable)."),
    ] = None,
    lock: Annotated[
        Path | None,
        typer.Option(
            "--lock",
            envvar="NNCLI_LOCK",
            help="Lock file (default: MODEL.lock).",
            show_default=False,
            rich_help_panel=JOB,
        ),
    ] = None,
    wait: Annotated[
        float,
        typer.Option(
            "--wait",
            envvar="NNCLI_WAIT",
            help="Seconds to wait for a running job's lock before giving up (exit 7).",
            rich_help_panel=JOB,
        ),
    ] = 0.0,
    max_age: Annotated[
        str | None,
        typer.Option(
            "--max-age",
            envvar="NNCLI_MAX_AGE",
            help="Refuse (exit 6) data whose newest row is older than this (days, or 36h, 3d, 2w).",
            show_default=False,
            rich_help_panel=JOB,
        ),
    ] = None,
    as_of: Annotated[
        datetime | None,
        typer.Option(
            "--as-of",
            envvar="NNCLI_AS_OF",
            help="The 'now' of this run (default: the current time).",
            show_default=False,
            rich_help_panel=JOB,
        ),
    ] = None,
    partial_last_row: PartialOpt = "error",
    retrain_every_days: Annotated[
        float | None,
        typer.Option(
            "--retrain-every-days",
            envvar="NNCLI_RETRAIN_EVERY_DAYS",
            help="Retrain when the model is this many days old.",
            rich_help_panel=JOB,
        ),
    ] = 7.0,
    retrain_every_runs: Annotated[
        int | None,
        typer.Option(
            "--retrain-every-runs",
            envvar="NNCLI_RETRAIN_EVERY_RUNS",
            help="Retrain after this many runs.",
            show_default=False,
            rich_help_panel=JOB,
        ),
    ] = None,
    retrain_if_mase_above: Annotated[
        float | None,
        typer.Option(
            "--retrain-if-mase-above",
            envvar="NNCLI_RETRAIN_IF_MASE_ABOVE",
            help="Retrain when the trailing live MASE exceeds this.",
            show_default=False,
            rich_help_panel=JOB,
        ),
    ] = None,
    require_beats_naive: Annotated[
        bool,
        typer.Option(
            "--require-beats-naive",
            envvar="NNCLI_REQUIRE_BEATS_NAIVE",
            help="Keep the previous model when a retrained one does not beat naive on validation MASE.",
            rich_help_panel=GATES,
        ),
    ] = False,
    fail_if_worse_than_naive: FailIfWorseOpt = False,
    max_mase: MaxMaseOpt = None,
    window: WindowOpt = 20,
    arch: ArchOpt = "lstm",
    lookback: LookbackOpt = 60,
    horizon: HorizonOpt = 5,
    transform: TransformOpt = "log-return",
    hidden_size: HiddenSizeOpt = 64,
    layers: LayersOpt = 1,
    dropout: DropoutOpt = 0.0,
    quantiles: QuantilesOpt = "0.1,0.5,0.9",
    epochs: EpochsOpt = 30,
    lr: LrOpt = 1e-3,
    patience: PatienceOpt = 5,
    seed: SeedOpt = 0,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
    config: ConfigOpt = None,
) -> None:
    """One scheduled run: lock, read, check freshness, score, retrain when due, forecast, append."""
    with command_session(json, quiet, debug) as ui:
        from nncli.errors import QualityGateError
        from nncli.files import check_output_path
        from nncli.forecasting.job import JobOptions, run_job
        from nncli.forecasting.predict import parse_age

        ui.timestamps = True
        if partial_last_row not in ("error", "drop", "allow"):
            from nncli.errors import UsageError

            raise UsageError(
                f"--partial-last-row must be error, drop or allow, not {partial_last_row!r}"
            )
        for path in (model, ledger):
            check_output_path(path, data)
        options = _options(
            time_col,
            target,
            group_col,
            covariate,
            False,
            arch,
            lookback,
            horizon,
            transform,
            hidden_size,
            layers,
            dropout,
            quantiles,
            epochs,
            None,
            lr,
            1e-4,
            patience,
            0.15,
            "cpu",
            seed,
        )
        job = JobOptions(
            data=data,
            model=model,
            ledger=ledger,
            forecast=options,
            lock=lock,
            max_age_days=parse_age(max_age) if max_age else None,
            retrain_every_days=retrain_every_days,
            retrain_every_runs=retrain_every_runs,
            retrain_if_mase_above=retrain_if_mase_above,
            require_beats_naive=require_beats_naive,
            fail_if_worse_than_naive=fail_if_worse_than_naive,
            max_mase=max_mase,
            score_window=window,
            partial_last_row=partial_last_row,
            wait_seconds=wait,
            now=as_of,
        )
        ui.info(f"start: {data} -> {ledger} (model {model})")
        summary = run_job(job, ui)
        gate_failed = summary.gate != "passed"
        ui.info(("done: " if not gate_failed else "done, gate failed: ") + summary.line())
        if json:
            from dataclasses import asdict

            ui.emit_json({"ok": not gate_failed, **asdict(summary)})
        if gate_failed:
            raise QualityGateError(summary.gate)


@forecast_app.command("score")
def score(
    ledger: Annotated[
        Path,
        typer.Argument(
            help="Forecast ledger CSV (from --append or forecast run).", show_default=False
        ),
    ],
    data: DataArg,
    time_col: Annotated[
        str | None,
        typer.Option(
            "--time-col",
            help="Time column (default: the model's, from --model, else 'date').",
            show_default=False,
        ),
    ] = None,
    target: Annotated[
        str | None,
        typer.Option(
            "--target", "-t", help="Target column (default: from --model).", show_default=False
        ),
    ] = None,
    group_col: Annotated[
        str | None,
        typer.Option(
            "--group-col", help="Series column (default: from --model).", show_default=False
        ),
    ] = None,
    model: Annotated[
        Path | None,
        typer.Option(
            "--model", help="Take the column names from this model file.", show_default=False
        ),
    ] = None,
    window: WindowOpt = 20,
    season: Annotated[
        int, typer.Option("--season", help="Season length of MASE's naive scale.")
    ] = 1,
    fail_if_worse_than_naive: FailIfWorseOpt = False,
    max_mase: MaxMaseOpt = None,
    json: JsonOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
    config: ConfigOpt = None,
) -> None:
    """How good were the forecasts we actually made? Live MAE, MASE vs naive, hits, coverage."""
    with command_session(json, quiet, debug) as ui:
        from nncli.errors import UsageError
        from nncli.forecasting.ledger import apply_gates, read_ledger, score_ledger
        from nncli.forecasting.series import PanelSpec, load_panel

        spec: dict[str, Any] = {}
        if model is not None:
            from nncli.forecasting.model import load_forecast_model

            spec = dict(load_forecast_model(model).metadata["panel"])
        spec["time_col"] = time_col or spec.get("time_col") or "date"
        spec["target"] = target or spec.get("target")
        spec["group_col"] = group_col or spec.get("group_col")
        if not spec["target"]:
            raise UsageError("forecast score needs --target (or --model to read it from)")
        panel_spec = PanelSpec(spec["time_col"], spec["target"], spec["group_col"])
        frame = read_ledger(ledger)
        panel = load_panel(data, panel_spec, reporter=ui)
        report = score_ledger(frame, panel, window, season)
        if report.matured_rows == 0:
            ui.warn(f"none of the {report.pending_rows} forecast row(s) has matured yet")
        if json:
            ui.emit_json({"ok": True, **report.to_dict()})
        else:
            _render_score(ui, report)
        apply_gates(
            report.network_mase,
            report.naive_mase,
            fail_if_worse_than_naive=fail_if_worse_than_naive,
            max_mase=max_mase,
            what="live",
        )


def _render_score(ui: Ui, report: Any) -> None:
    if report.overall:
        ui.print(
            _scores_table(
                f"live: {report.matured_rows} matured forecast points ({report.pending_rows} pending)",
                report.overall,
                "network",
            )
        )
    if report.trailing:
        ui.print(
            _scores_table(
                f"trailing window: the newest {report.window} origins", report.trailing, "network"
            )
        )
    rows = [
        [
            name,
            s.get("network", {}).get("mase"),
            s.get("naive", {}).get("mase"),
            s.get("network", {}).get("directional_accuracy"),
            s.get("network", {}).get("coverage"),
        ]
        for name, s in report.per_series.items()
    ]
    if rows:
        ui.print(
            make_table(
                "per series", ["series", "MASE", "naive MASE", "dir. acc.", "coverage"], rows
            )
        )
    ui.print(report.verdict())


def register(app: typer.Typer) -> None:
    """The commands register themselves on the forecast sub-app when this module is imported."""
