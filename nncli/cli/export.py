"""`nncli export MODEL --format onnx|torchscript`: the network for serving, with a parity check."""

from __future__ import annotations

import typer

from nncli.cli.options import ModelArg, command
from nncli.export import ExportOptions, ExportReport
from nncli.output import Ui


def export(ui: Ui, model: ModelArg, options: ExportOptions) -> None:
    """Export the network to ONNX or TorchScript, check it against nncli (to 1e-5 × its largest output, at least 1e-5), write the preprocessing spec.

    Examples:
      nncli export penguins.nncli --format torchscript
    """
    from nncli.api import export_model

    with ui.status(f"exporting to {options.format} and checking parity"):
        report = export_model(model, options, reporter=ui)
    if ui.json_mode:
        ui.emit_json({"ok": True, **report.to_dict()})
    else:
        _render(ui, report)


def _render(ui: Ui, report: ExportReport) -> None:
    from rich.markup import escape

    parity = report.parity
    label = "ONNX" if report.format == "onnx" else "TorchScript"
    detail = f"opset {report.opset}, " if report.opset is not None else ""
    ui.print(
        escape(
            f"wrote {report.path} ({label}, {detail}{report.size_bytes / 1024:.1f} KiB) and "
            f"{report.preprocessing_path}"
        )
    )
    for direction, entries in (("input ", report.inputs), ("output", report.outputs)):
        for entry in entries:
            shape = ", ".join(str(size) for size in entry["shape"])
            ui.print(escape(f"  {direction} {entry['name']}: {entry['dtype']} [{shape}]"))
    ui.print(
        f"✓ parity with nncli on {parity.rows} {parity.source} sample rows "
        f"({parity.runtime}): max abs diff {parity.max_abs_diff:.2g} ≤ {parity.tolerance:.2g}"
    )


def register(app: typer.Typer) -> None:
    """Add `export` to the root app."""
    command(app)(export)
