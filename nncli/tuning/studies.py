"""Stored studies: load one by name, list a storage's studies, export a study's trials."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nncli.errors import UsageError
from nncli.tuning.budget import budget_state
from nncli.tuning.storage import open_storage, redact

if TYPE_CHECKING:
    from pathlib import Path

    import optuna

EXPORT_FORMATS = ("csv", "json")
TRIAL_COLUMNS = (
    "number",
    "state",
    "value",
    "params",
    "user_attrs",
    "datetime_start",
    "datetime_complete",
    "duration",
)


Warn = Callable[[str], None] | None  # receives a one-line warning about the storage


def load_study(name: str, url: str, warn: Warn = None) -> optuna.Study:
    """The study called `name` in the storage at `url`; a UsageError naming the others if none."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    handle = open_storage(url, warn=warn)
    try:
        return optuna.load_study(study_name=name, storage=handle)
    except KeyError as exc:
        names = [s.study_name for s in optuna.get_all_study_summaries(handle)]
        raise UsageError(
            f"no study named {name!r} in {redact(url)}",
            hint=f"studies there: {', '.join(names) or 'none'}",
        ) from exc


def list_studies(url: str, warn: Warn = None) -> list[dict[str, Any]]:
    """One row per study in the storage: name, kind, trial counts, best value, creation time."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    handle = open_storage(url, warn=warn)
    rows = []
    for summary in optuna.get_all_study_summaries(handle, include_best_trial=True):
        counts = budget_state(optuna.load_study(study_name=summary.study_name, storage=handle))
        started = summary.datetime_start
        rows.append(
            {
                "study": summary.study_name,
                "kind": summary.user_attrs.get("nncli_kind", ""),
                "complete": counts["complete"],
                "pruned": counts["pruned"],
                "failed": counts["failed"],
                "best_value": summary.best_trial.value if summary.best_trial else None,
                "created": started.isoformat(timespec="seconds") if started else None,
            }
        )
    return rows


def export_trials(name: str, url: str, fmt: str, warn: Warn = None) -> tuple[str, int]:
    """Every trial of study `name` (number, state, value, parameters, timings) as CSV or JSON
    text, and the number of trials."""
    if fmt not in EXPORT_FORMATS:
        raise UsageError(f"--format must be csv or json, not {fmt!r}")
    frame = load_study(name, url, warn).trials_dataframe(attrs=TRIAL_COLUMNS)
    if fmt == "csv":
        text = frame.to_csv(index=False, lineterminator="\n")
    else:
        text = frame.to_json(orient="records", date_format="iso", indent=2) + "\n"
    return text, len(frame)


def export_format(output: Path | None, fmt: str, json_mode: bool) -> str:
    """`study export`'s format: --format, else by the file name (json for .json, else csv);
    on stdout with --json the trials go inside its one JSON document, so json or nothing."""
    if output is not None:
        return fmt or ("json" if output.suffix == ".json" else "csv")
    chosen = fmt or ("json" if json_mode else "csv")
    if json_mode and chosen != "json":
        raise UsageError(
            "--json prints the trials inside its JSON document: drop --format or pass --output"
        )
    return chosen
