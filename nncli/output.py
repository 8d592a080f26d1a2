"""Everything the user sees: the stdout/stderr consoles, JSON, tables and messages.

stdout carries data (tables a user asked for, CSV, one JSON document with --json);
stderr carries everything for people (progress, notes, warnings, errors).
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from nncli.errors import printable, shorten, shorten_words

if TYPE_CHECKING:
    from nncli.training.loop import EpochRecord, History


def for_terminal(message: str) -> str:
    """A one-line message as it may reach a terminal: control characters from the data (a
    column named with ESC sequences or a CR) escaped, overlong words cut in the middle."""
    return shorten_words(printable(message, keep="\t"))


def _jsonable(value: Any) -> Any:
    """Turn numpy scalars, NaN and paths into plain JSON values (NaN becomes null)."""
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if hasattr(value, "item") and callable(value.item):  # numpy / torch scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def to_json(document: Any) -> str:
    """One JSON document as nncli prints it."""
    return json.dumps(_jsonable(document), indent=2, allow_nan=False)


@dataclass
class Ui:
    """The streams of one command run, its output mode and the warnings it raised."""

    json_mode: bool = False
    quiet: bool = False
    debug: bool = False
    # emoji=False: messages quote data, and a column named 'a:b:c' must not print as 'a🅱c'.
    out: Console = field(
        default_factory=lambda: Console(file=sys.stdout, soft_wrap=False, emoji=False)
    )
    err: Console = field(
        default_factory=lambda: Console(file=sys.stderr, soft_wrap=True, emoji=False)
    )
    warnings: list[str] = field(default_factory=list)
    document: dict[str, Any] | None = None  # the --json document, printed by `finish_json`
    timestamps: bool = False  # prefix stderr lines with the time (scheduled jobs' logs)

    def _stamp(self, text: str) -> str:
        if not self.timestamps:
            return text
        from datetime import datetime

        return f"{datetime.now().astimezone().isoformat(timespec='seconds')} {text}"

    @property
    def interactive(self) -> bool:
        """True when a person watches stderr: progress may animate."""
        return self.err.is_terminal and not self.quiet

    def info(self, message: str) -> None:
        """A note for people on stderr (silenced by --quiet)."""
        if not self.quiet:
            self.err.print(
                self._stamp(for_terminal(message)), markup=False, highlight=False, soft_wrap=True
            )

    def warn(self, message: str) -> None:
        """A warning on stderr; also kept for the JSON document."""
        self.warnings.append(message)
        if not self.quiet:
            self.err.print(
                self._stamp(f"warning: {for_terminal(message)}"),
                style="yellow",
                markup=False,
                highlight=False,
            )

    def error(self, message: str) -> None:
        """The one error line; printed even with --quiet."""
        self.err.print(
            self._stamp(f"error: {for_terminal(message)}"),
            style="bold red",
            markup=False,
            highlight=False,
        )

    def emit_json(self, document: Mapping[str, Any]) -> None:
        """Set the run's JSON document; `finish_json` prints it when the command ends."""
        self.document = dict(document)

    def finish_json(self, error: str | None = None, exit_code: int = 0) -> None:
        """With --json, print exactly one document on stdout, with the run's warnings in it.

        Success documents carry `"ok": true`. A failure (`error`) after the report was ready
        (a quality gate) marks that report failed instead of printing a second document.
        """
        if not self.json_mode or (self.document is None and error is None):
            return
        body = {"ok": True, **(self.document or {})}
        if error is not None:
            body.update(ok=False, error=error, exit_code=exit_code)
        body.setdefault("warnings", list(self.warnings))
        self.document = None
        sys.stdout.write(to_json(body) + "\n")
        sys.stdout.flush()

    def print(self, renderable: Any) -> None:
        """A table or text the user asked for, on stdout (text: control characters escaped)."""
        if isinstance(renderable, str):
            renderable = printable(renderable, keep="\n\t")
        if isinstance(renderable, Table):
            self.print_table(renderable)
        else:
            self.out.print(renderable, soft_wrap=isinstance(renderable, str))

    def print_table(self, table: Table) -> None:
        """A table on stdout, its title and caption as lines of their own.

        Rich wraps a title or caption to the table's width (a 30-column table would fold a
        one-line note into four lines); here they are free text, never wrapped. Off a
        terminal (a pipe, a file) the table keeps its natural width: a reader such as grep
        must see every column name in full, not cut to fit 80 columns.
        """
        from copy import copy

        from rich.measure import Measurement

        body = copy(table)
        body.title = body.caption = None
        if table.title is not None:
            self.out.print(table.title, soft_wrap=True)
        width = self.out.width
        if not self.out.is_terminal:
            unbounded = self.out.options.update_width(1 << 16)
            self.out.width = max(width, Measurement.get(self.out, unbounded, body).maximum)
        try:
            self.out.print(body)
        finally:
            self.out.width = width
        if table.caption is not None:
            self.out.print(table.caption, soft_wrap=True)

    @contextmanager
    def status(self, message: str) -> Iterator[None]:
        """A spinner on a TTY; a single note otherwise."""
        if self.interactive:
            with self.err.status(Text(for_terminal(message))):
                yield
        else:
            self.info(message)
            yield


def make_table(
    title: str | None,
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    numeric_from: int = 1,
    caption: str | None = None,
) -> Table:
    """A plain Rich table; columns from index `numeric_from` on are right-aligned.

    Every string is plain `Text`: titles and cells hold data (column names, paths, labels),
    and a column named '[/b]' or ':smile:' must print as written, not as Rich markup; their
    control characters are escaped and overlong cells cut (`cell_text`). On a narrow
    terminal the first column (what a row is: a column, model, class, feature) folds onto
    more lines rather than end in '…', so two long names with one prefix stay told apart.
    """
    table = Table(
        title=None if title is None else Text(for_terminal(title)),
        caption=None if caption is None else Text(for_terminal(caption)),
        title_justify="left",
        caption_justify="left",
    )
    for index, name in enumerate(columns):
        table.add_column(
            Text(cell_text(name)),
            justify="right" if index >= numeric_from else "left",
            overflow="fold" if index == 0 else "ellipsis",
        )
    for row in rows:
        table.add_row(*(Text(cell_text(format_cell(cell))) for cell in row))
    return table


def cell_text(text: str, limit: int = 120) -> str:
    """A table cell's text: control characters (a newline too) escaped, cut past `limit`."""
    return shorten(printable(text), limit)


def format_cell(value: Any) -> str:
    """Numbers to 4 significant decimals, missing to an em dash."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "—"
        if value != 0 and abs(value) < 1e-3:
            return f"{value:.3g}"
        return f"{value:.4f}" if abs(value) < 1e5 else f"{value:.4g}"
    return str(value)


# Eight heights of block characters, for sparklines of losses and histograms on a terminal.
SPARK_BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(values: Sequence[float], width: int | None = None, floor: float | None = None) -> str:
    """Values as block characters from ▁ (lowest) to █ (highest); NaN and ±inf as a space.

    With `width`, a longer sequence is averaged into that many equal buckets first; `floor`
    is the value drawn as ▁ (default: the smallest value; 0 suits counts).
    """
    points = [float(v) for v in values]
    if width is not None and len(points) > width > 0:
        buckets = []
        for index in range(width):
            chunk = points[index * len(points) // width : (index + 1) * len(points) // width]
            finite = [v for v in chunk if math.isfinite(v)]
            buckets.append(sum(finite) / len(finite) if finite else math.nan)
        points = buckets
    finite = [v for v in points if math.isfinite(v)]
    if not finite:
        return " " * len(points)
    low = min(finite) if floor is None else min(floor, *finite)
    high = max(finite)
    span = high - low
    top = len(SPARK_BLOCKS) - 1
    return "".join(
        " "
        if not math.isfinite(v)
        else SPARK_BLOCKS[0 if span == 0 else min(top, int((v - low) / span * top + 0.5))]
        for v in points
    )


def discard_stdout() -> None:
    """Point stdout at /dev/null, dropping what its buffer still holds: once stdout failed
    (a full disk), the exit-time flush must not fail again (a second message, exit 120)."""
    try:
        descriptor = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # not a real stream (a test runner's)
        sys.stdout = Path(os.devnull).open("w", encoding="utf-8")  # noqa: SIM115
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, descriptor)
    finally:
        os.close(null)


def fail_outside_command(argv: Sequence[str], message: str, code: int) -> int:
    """An error before the command ran (an argument's callback, a usage error): the one
    line, and with --json (or NNCLI_JSON) the error document on stdout; returns `code`."""
    sys.stderr.write(f"error: {message}\n")
    flag = os.environ.get("NNCLI_JSON", "").strip().lower() in ("1", "true", "t", "yes", "y", "on")
    if "--json" in argv or flag:
        try:
            Ui(json_mode=True).finish_json(message, int(code))
        except OSError:  # stdout refuses too (a full disk): the line on stderr said it
            discard_stdout()
    return int(code)


class EpochProgress:
    """A Rich progress bar over epochs on a TTY; silent otherwise. It follows every fit of
    the command (a refit, folds, ensemble members), so it moves until training ends."""

    follows_every_fit = True

    def __init__(self, ui: Ui, epochs: int) -> None:
        self.ui = ui
        self.epochs = epochs
        self.progress: Any = None

    def __enter__(self) -> EpochProgress:
        if self.ui.interactive:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self.progress = Progress(
                TextColumn("epoch"),
                MofNCompleteColumn(),
                BarColumn(),
                TextColumn("{task.description}"),
                TimeElapsedColumn(),
                console=self.ui.err,
                transient=True,
            )
            self.progress.start()
            self.task = self.progress.add_task("", total=self.epochs)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress is not None:
            self.progress.stop()

    def on_epoch_end(self, record: EpochRecord, history: History) -> None:
        if self.progress is not None:
            self.progress.update(
                self.task,
                completed=record.epoch,
                total=history.planned_epochs or self.epochs,
                description=(
                    (f"{history.label}  " if history.label else "")
                    + f"train loss {record.train_loss:.4f}  val loss {record.valid_loss:.4f}  "
                    f"val {history.metric_name} {record.valid_metric:.4f}  (best epoch {history.best_epoch})"
                ),
            )
