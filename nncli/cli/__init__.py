"""The thin command-line layer: parse options, call the library, render. No torch here."""

from typing import Any

from nncli.cli.root import main, register

__all__ = ["app", "main"]


def __getattr__(name: str) -> Any:
    """`nncli.cli.app`: the Typer app with every command registered (tests, the demo)."""
    if name == "app":
        return register()
    raise AttributeError(name)
