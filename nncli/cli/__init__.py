"""The thin command-line layer: parse options, call the library, render. No torch here."""

from nncli.cli.app import app, main

__all__ = ["app", "main"]
