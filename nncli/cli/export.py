"""`nncli export MODEL --format onnx|torchscript`: the network for serving, with a parity check."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nncli.cli.options import (
    ConfigOpt,
    DebugOpt,
    EncodingOpt,
    JsonOpt,
    ModelArg,
    QuietOpt,
    SepOpt,
    csv_options,
)
from nncli.cli.runtime import command_session


def export(
    model: ModelArg,
    format: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            envvar="NNCLI_FORMAT",
            help="onnx (needs the onnx extra) or torchscript.",
        ),
    ] = "onnx",
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            envvar="NNCLI_OUTPUT",
            help="File to write (default: the model's name with .onnx or .pt); the "
            "preprocessing spec goes to <file>.preprocessing.json.",
            show_default=False,
        ),
    ] = None,
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            envvar="NNCLI_DATA",
            help="CSV whose first 256 rows (or windows) make the parity sample (default: "
            "random valid inputs).",
            show_default=False,
        ),
    ] = None,
    opset: Annotated[
        int, typer.Option("--opset", envvar="NNCLI_OPSET", help="ONNX opset (at least 17).")
    ] = 17,
    sep: SepOpt = None,
    encoding: EncodingOpt = "utf-8",
    json: JsonOpt = False,
    quiet: QuietOpt = False,
    debug: DebugOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Export the network to ONNX or TorchScript, check it against nncli (1e-5), write the preprocessing spec."""
    with command_session(json, quiet, debug) as ui:
        from rich.markup import escape

        from nncli.export import ExportOptions, export_model

        options = ExportOptions(
            format=format.lower(),
            output=output,
            data=data,
            opset=opset,
            csv=csv_options(sep, encoding),
        )
        options.validate()
        with ui.status(f"exporting to {options.format} and checking parity"):
            report = export_model(model, options, reporter=ui)
        if json:
            ui.emit_json({"ok": True, **report.to_dict()})
            return
        parity = report.parity
        label = "ONNX" if report.format == "onnx" else "TorchScript"
        detail = f"opset {report.opset}, " if report.opset is not None else ""
        ui.print(
            escape(
                f"wrote {report.path} ({label}, {detail}{report.size_bytes / 1024:.1f} KiB) and "
                f"{report.preprocessing_path}"
            )
        )
        for entry in report.inputs:
            shape = ", ".join(str(size) for size in entry["shape"])
            ui.print(escape(f"  input  {entry['name']}: {entry['dtype']} [{shape}]"))
        for entry in report.outputs:
            shape = ", ".join(str(size) for size in entry["shape"])
            ui.print(escape(f"  output {entry['name']}: {entry['dtype']} [{shape}]"))
        ui.print(
            f"✓ parity with nncli on {parity.rows} {parity.source} sample rows "
            f"({parity.runtime}): max abs diff {parity.max_abs_diff:.2g} ≤ {parity.tolerance:.2g}"
        )


def register(app: typer.Typer) -> None:
    """Add `export` to the root app."""
    app.command()(export)
