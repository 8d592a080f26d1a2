"""ARCHITECTURE.md names every module of nncli, so a newcomer's map stays complete."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_module_is_named_in_the_architecture_page() -> None:
    page = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
    modules = sorted(
        path.stem
        for path in (ROOT / "nncli").rglob("*.py")
        if path.stem not in ("__init__", "__main__")
    )
    missing = [name for name in modules if name not in page]
    assert not missing, f"ARCHITECTURE.md does not name: {', '.join(missing)}"
