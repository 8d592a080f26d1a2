"""How library code tells the caller what it noticed, without knowing about terminals."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


class Reporter(Protocol):
    """Receives notes and warnings from library functions (the CLI's `Ui` is one)."""

    def info(self, message: str) -> None: ...

    def warn(self, message: str) -> None: ...


@dataclass
class CollectingReporter:
    """A reporter that keeps everything, for Python callers and tests."""

    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def info(self, message: str) -> None:
        self.notes.append(message)

    def warn(self, message: str) -> None:
        self.warnings.append(message)
