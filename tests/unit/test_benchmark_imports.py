"""benchmarks/check_imports.py: every benchmark script's imports of nncli (and of its sibling
scripts) resolve, so a rename in nncli cannot silently break a measurement."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import REPO


@pytest.fixture(scope="module")
def checker() -> ModuleType:
    path = REPO / "benchmarks" / "check_imports.py"
    spec = importlib.util.spec_from_file_location("benchmarks_check_imports", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


def test_every_benchmark_script_imports_what_exists(checker: ModuleType) -> None:
    problems, checked = checker.check()
    assert problems == []
    assert checked >= 30  # the ~30 nncli internals, and the scripts' imports of each other


def test_a_renamed_name_is_reported_with_its_script_and_line(
    checker: ModuleType, tmp_path: Path
) -> None:
    (tmp_path / "_helper.py").write_text("def log(text):\n    print(text)\n")
    (tmp_path / "measure.py").write_text(
        "import sys\n"
        "import _helper as helper\n"
        "from _helper import log, shout\n"
        "from nncli.training.loop import fit\n"
        "\n"
        "def main():\n"
        "    from nncli.training.loop import no_such_function\n"
        "    import nncli.no_such_module\n"
        "    helper.whisper('x')\n"
        "\n"
        "main()\n"
    )
    problems, _ = checker.check(tmp_path)
    assert problems[0] == 'measure.py: no `if __name__ == "__main__":` guard around its main'
    assert problems[1] == "measure.py:11: a top-level call runs when the script is imported"
    rest = sorted(problems[2:])
    assert rest[0] == "measure.py:3: _helper.py defines no 'shout'"
    assert rest[1].startswith("measure.py:7: nncli.training.loop has no name 'no_such_function'")
    assert rest[2].startswith("measure.py:8: cannot import module nncli.no_such_module")
    assert rest[3] == "measure.py:9: _helper.py defines no 'whisper'"
    assert len(rest) == 4
