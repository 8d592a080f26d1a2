"""Help says only what is so: every default on every help page is the value the library uses,
every example pastes as one command at 80 columns, and each page speaks of its own domain.

The values are read from the library's own code paths (the training plans the registries
build, the forecaster options' properties, the search domains), never written down here.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

from nncli.cli import app
from nncli.cli.options import help_notes
from nncli.forecasting.architectures import ARCHITECTURES as SERIES_ARCHITECTURES
from nncli.forecasting.options import ForecastOptions, PanelSpec
from nncli.options import HelpNote, show_rate
from nncli.tabular.architectures import ARCHITECTURES as TABLE_ARCHITECTURES
from nncli.tabular.options import TabularOptions
from nncli.tuning.options import ForecastTrialOptions, TabularTrialOptions
from tests.cli.test_help import LEAVES, PAGES, examples

WIDE = {"COLUMNS": "320", "TERMINAL_WIDTH": "320"}
NARROW = {"COLUMNS": "80", "TERMINAL_WIDTH": "80"}
# Which networks each command trains, and the options its trials or model start from.
TABLE_COMMANDS = {"train": TabularOptions, "tune": TabularTrialOptions}
SERIES_COMMANDS = {
    "forecast train": ForecastOptions,
    "forecast backtest": ForecastOptions,
    "forecast run": ForecastOptions,
    "forecast tune": ForecastTrialOptions,
}
SEARCHES = {"tune": "tabular", "forecast tune": "forecast"}
TASKS = ("classification", "regression")


def page_text(path: tuple[str, ...], env: dict[str, str]) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


ROW = re.compile(r"^│\s+(?:\*\s+)?(--[\w-]+)")


def option_rows(page: str) -> dict[str, str]:
    """Each option's row of a rendered help page, its wrapped lines joined: flag -> text."""
    rows: dict[str, str] = {}
    flag = None
    for line in page.splitlines():
        start = ROW.match(line)
        if start:
            flag = start.group(1)
            rows[flag] = ""
        elif not line.startswith("│"):
            flag = None
        if flag is not None:
            rows[flag] += " " + line.strip("│ ")
    return {flag: " ".join(text.replace("\\[", "[").split()) for flag, text in rows.items()}


# --- what the library uses where an option is left out ------------------------------------


def fake_table(task: str, rows: int) -> Any:
    """Just what a registry entry's `training_plan` reads of a prepared table."""
    import numpy as np

    from nncli.tasks import task_for

    return SimpleNamespace(
        task=task_for(task), target=None, truth={"train": np.zeros(rows, dtype=np.int64)}
    )


def table_plan(
    options: TabularOptions, arch: str, task: str = "regression", rows: int = 500
) -> Any:
    """The training settings `nncli train` runs network `arch` with, as the loop receives them
    (`fit` sizes a missing batch by `auto_batch_size`, as below)."""
    from nncli.training.loop import auto_batch_size

    chosen = replace(options, arch=arch)
    config = TABLE_ARCHITECTURES[arch].training_plan(chosen, fake_table(task, rows)).config
    filled = config.filled()
    return replace(filled, batch_size=min(filled.batch_size or auto_batch_size(rows), rows))


def check_batch_rule(text: str, size: Callable[[int], int]) -> None:
    """`text` ('rows / 16, within 32..1024') gives the batch `size(rows)` for many tables."""
    rule = re.fullmatch(
        r"(?:rows|windows) / (\d+)( as a power of two)?, within (\d+)\.\.(\d+)", text
    )
    assert rule, text
    steps, power, low, high = int(rule[1]), bool(rule[2]), int(rule[3]), int(rule[4])
    for rows in (64, 100, 333, 700, 2_000, 5_000, 12_345, 40_000, 1_000_000):
        guess = 2 ** round(math.log2(rows / steps)) if power else rows // steps
        assert min(high, max(low, guess)) == size(rows), (text, rows)


def check_table_default(flag: str, options: TabularOptions, arch: str, text: str) -> None:
    """`text` is what network `arch` uses for `flag` when `options` leave it out."""
    from nncli.models.tabm import TabMConfig, default_numeric_embedding

    def plan(**kwargs: Any) -> Any:
        return table_plan(options, arch, **kwargs)

    if flag == "--epochs":
        most, least = plan(rows=50).epochs, plan(rows=1_000_000).epochs
        if most == least:
            assert text == str(most), text
            return
        budget = re.fullmatch(
            rf"{least}\.\.{most} by table size \(about ([\d,]+) rows seen\), capped by --epochs",
            text,
        )
        assert budget, text
        seen = int(budget[1].replace(",", ""))
        for rows in (300, 2_000, 9_000, 30_000):
            assert plan(rows=rows).epochs == min(most, max(least, math.ceil(seen / rows))), text
    elif flag == "--batch-size":
        check_batch_rule(text, lambda rows: plan(rows=rows).batch_size)
    elif flag == "--lr":
        rates = {task: show_rate(plan(task=task).learning_rate) for task in TASKS}
        if rates["classification"] == rates["regression"]:
            assert text == rates["regression"], text
        else:
            expected = (
                f"{rates['classification']} for classes, {rates['regression']} for regression"
            )
            assert text == expected, text
    elif flag == "--weight-decay":
        assert {show_rate(plan(task=task).weight_decay) for task in TASKS} == {text}, text
    elif flag == "--patience":
        share = re.fullmatch(r"(\d+)% of its planned epochs, at least (\d+)", text)
        if share is None:
            assert text == str(plan().patience), text
            return
        fraction, least = int(share[1]) / 100, int(share[2])
        for epochs in (3, 10, 64, 200):
            shorter = replace(options, training=replace(options.training, epochs=epochs))
            for rows in (50, 5_000, 1_000_000):
                config = table_plan(shorter, arch, rows=rows)
                assert config.patience == max(least, math.ceil(fraction * config.epochs)), text
    elif flag == "--members":
        assert text == str(TabMConfig.k), text
    elif flag == "--numeric-embedding":
        chosen = {task: default_numeric_embedding(task) for task in TASKS}
        expected = (
            f"{chosen['regression']} for regression, {chosen['classification']} for classification"
        )
        assert text == expected, text
    elif flag == "--lr-schedule":
        assert text.split(",")[0] == TABLE_ARCHITECTURES[arch].settings(options).lr_schedule
    elif flag == "--label-smoothing":
        smoothing = TABLE_ARCHITECTURES[arch].settings(options).label_smoothing
        assert text.split(",")[0] == f"{smoothing:g}", text
    elif flag == "--centres":
        width = options.hidden_sizes[0]
        assert TABLE_ARCHITECTURES[arch].size_flags(options) == f"--centres {width}"
        assert text == "the first --hidden width", text
    else:
        raise AssertionError(f"no check of what the help says {flag} defaults to: add one here")


def series_batch(options: ForecastOptions, windows: int) -> int:
    """The mini-batch a forecaster's member trains with on `windows` windows: `train_member`
    run with the loop's `fit` replaced by one that records what it receives, then sized as
    `fit` sizes it."""
    import torch

    from nncli.forecasting import ensemble
    from nncli.training import loop

    seen: list[tuple[Any, int]] = []

    def record(
        network: Any, loss: Any, train: Any, valid: Any, config: Any, *rest: Any, **named: Any
    ) -> Any:
        seen.append((config, int(train[1].shape[0])))
        return SimpleNamespace()

    lookback, horizon = options.window_length, options.horizon
    data = ensemble.MemberData(
        torch.zeros(windows, lookback, 1),
        torch.zeros(windows, horizon),
        torch.zeros(4, lookback, 1),
        torch.zeros(4, horizon),
    )
    plan = ensemble.MemberPlan(lookback, 0)
    fit, loop.fit = loop.fit, record
    try:
        network = torch.nn.Linear(1, 1)
        ensemble.train_member(network, data, plan, options, options.training.filled())
    finally:
        loop.fit = fit
    config, rows = seen[0]
    return int(min(config.batch_size or loop.auto_batch_size(rows), max(rows, 1)))


def check_series_default(flag: str, options: ForecastOptions, arch: str, text: str) -> None:
    """`text` is what forecaster `arch` uses for `flag` when `options` leave it out."""
    chosen = replace(options, arch=arch)
    filled = chosen.training.filled()
    if flag == "--lookback":
        multiples = re.fullmatch(r"((?:\d+h, )*\d+h) across its members \(h: --horizon\)", text)
        for horizon in (3, 7):
            lookbacks = replace(chosen, horizon=horizon).member_lookbacks()
            if multiples:
                assert [int(m[:-1]) * horizon for m in multiples[1].split(", ")] == lookbacks
            else:
                assert text == ", ".join(map(str, lookbacks)), text
    elif flag == "--hidden-size":
        assert text == str(chosen.width), text
    elif flag == "--layers":
        assert text == str(chosen.depth), text
    elif flag == "--ensemble":
        assert text == str(chosen.member_count()), text
    elif flag == "--batch-size":
        if text.isdigit():
            for windows in (100, 5_000):
                assert series_batch(chosen, windows) == int(text), text
        else:
            check_batch_rule(text, lambda windows: series_batch(chosen, windows))
    elif flag == "--lr":
        assert text == show_rate(filled.learning_rate), text
    elif flag == "--weight-decay":
        assert text == show_rate(filled.weight_decay), text
    elif flag == "--patience":
        assert text == str(filled.patience), text
    else:
        raise AssertionError(f"no check of the default help states for {flag}: add one here")


def per_choice_values(text: str, names: list[str]) -> dict[str, str]:
    """'tabm 64; mlp, rbf 200' -> {tabm: 64, mlp: 200, rbf: 200}; one value for all: {'': v}."""
    alternatives = "|".join(names)
    found: dict[str, str] = {}
    for group in text.split("; "):
        named = re.fullmatch(rf"((?:{alternatives})(?:, (?:{alternatives}))*) (.+)", group)
        if named is None:
            assert len(text.split("; ")) == 1, f"a group without architecture names: {text!r}"
            return {"": text}
        for name in named[1].split(", "):
            assert name not in found, f"{name} twice in {text!r}"
            found[name] = named[2]
    return found


def search_domain(command: str) -> Any:
    from nncli.tuning.forecast import ForecastSearch
    from nncli.tuning.tabular import TabularSearch

    return {"tabular": TabularSearch, "forecast": ForecastSearch}[SEARCHES[command]]


def check_statement(command: str, flag: str, statement: str) -> None:
    """A generated "(default: ...)" on `command`'s help is what the library uses."""
    if command in SEARCHES and flag == "--pick":
        from nncli.tuning.options import SearchOptions

        default = search_domain(command).default_pick
        assert statement == SearchOptions().pick_mode(default), statement
        return
    if statement.startswith("drawn by each trial"):
        domain = search_domain(command)
        assert command in SEARCHES and flag in domain.searched_options, (command, flag)
        assert f"[{'.'.join((*domain.command, 'space'))}]" in statement, statement
        return
    if command in TABLE_COMMANDS:
        options, registry, check = (
            TABLE_COMMANDS[command](target="y"),
            TABLE_ARCHITECTURES,
            check_table_default,
        )
    elif command in SERIES_COMMANDS:
        options = SERIES_COMMANDS[command](PanelSpec(time_col="t", target="y"))
        registry, check = SERIES_ARCHITECTURES, check_series_default
    else:
        raise AssertionError(f"{command} {flag}: a default statement of no known domain")
    values = per_choice_values(statement, list(registry))
    if "" in values:  # one value for every network that uses the option
        takers = [name for name in registry if uses(command, name, flag)]
        values = dict.fromkeys(takers, values[""])
    assert set(values) == {name for name in registry if uses(command, name, flag)}, statement
    for name, text in values.items():
        check(flag, options, name, text)


def uses(command: str, arch: str, flag: str) -> bool:
    """Whether network `arch` uses option `flag` (some model options only some networks take)."""
    from nncli.options import flag_name
    from nncli.tabular.architectures import ARCHITECTURE_OPTIONS

    if command not in TABLE_COMMANDS:
        return True
    names = {flag_name(f): f.name for f in dataclasses.fields(TabularOptions)}
    name = names.get(flag)
    return name not in ARCHITECTURE_OPTIONS or name in TABLE_ARCHITECTURES[arch].takes


# --- the tests ---------------------------------------------------------------------------


def command_notes(command: Any) -> dict[str, HelpNote]:
    """The HelpNotes the CLI applied to a command's options, by flag."""
    flags = {opt for param in command.params for opt in getattr(param, "opts", [])}
    notes: dict[str, HelpNote] = {}
    for cls in getattr(command.callback, "options_classes", ()):
        notes.update({flag: note for flag, note in help_notes(cls).items() if flag in flags})
    return notes


def generated_statements() -> Iterator[tuple[str, str, str]]:
    for path, command in LEAVES:
        for flag, note in command_notes(command).items():
            if note.default is not None:
                yield " ".join(path), flag, note.default


STATEMENTS = list(generated_statements())


def test_the_pages_carry_generated_default_statements() -> None:
    commands = {command for command, _, _ in STATEMENTS}
    assert {*TABLE_COMMANDS, *SERIES_COMMANDS} <= commands, commands


@pytest.mark.parametrize(("command", "flag", "statement"), STATEMENTS, ids=lambda v: str(v)[:40])
def test_every_generated_default_is_what_the_library_uses(
    command: str, flag: str, statement: str
) -> None:
    rows = option_rows(page_text(tuple(command.split()), WIDE))
    assert f"(default: {statement})" in rows[flag], rows[flag]
    assert "[default:" not in rows[flag], rows[flag]
    check_statement(command, flag, statement)


ARCH_DEPENDENT = {
    **dict.fromkeys(
        TABLE_COMMANDS, ("--epochs", "--batch-size", "--lr", "--weight-decay", "--patience")
    ),
    **dict.fromkeys(
        SERIES_COMMANDS,
        (
            "--lookback",
            "--hidden-size",
            "--layers",
            "--ensemble",
            "--batch-size",
            "--lr",
            "--weight-decay",
            "--patience",
        ),
    ),
}


@pytest.mark.parametrize("path", [path for path, _ in PAGES], ids=lambda p: " ".join(p) or "nncli")
def test_every_bracketed_default_is_the_value_the_command_uses(path: tuple[str, ...]) -> None:
    """`[default: X]` is the flag's own default, and is shown only where every network the
    command may train uses that value (otherwise the help says what each one uses)."""
    command = dict(PAGES)[path]
    name = " ".join(path)
    params = {opt: param for param in command.params for opt in getattr(param, "opts", [])}
    for flag, text in option_rows(page_text(path, WIDE)).items():
        shown = re.search(r"\[default: ([^\]]*)\]", text)
        if shown is None:
            continue
        default = params[flag].default
        expected = (
            ",".join(map(str, default)) if isinstance(default, list | tuple) else str(default)
        )
        assert shown[1] == expected, (flag, shown[1], default)
        if flag in ARCH_DEPENDENT.get(name, ()):  # the same for every network, else no bracket
            check_statement(name, flag, shown[1])


def rendered_examples(page: str) -> list[list[str]]:
    """The example commands of a rendered page, each as its rendered lines."""
    commands: list[list[str]] = []
    continued = False
    for line in page.partition("Examples:")[2].splitlines()[1:]:
        if not line.strip():  # rendered blank lines hold spaces
            break
        if continued:
            commands[-1].append(line.rstrip())
        else:
            commands.append([line.rstrip()])
        continued = line.rstrip().endswith(" \\")
    return commands


@pytest.mark.parametrize("path", [path for path, _ in LEAVES], ids=" ".join)
def test_every_example_pastes_as_one_command_at_80_columns(path: tuple[str, ...]) -> None:
    """At 80 columns each example either fits on its line or continues with ` \\` on every
    line it wraps onto, so pasting it runs one command, the one the help means."""
    page = page_text(path, NARROW)
    found = rendered_examples(page)
    wanted = examples(dict(LEAVES)[path])
    pasted = [" ".join(" ".join(lines).replace(" \\", " ").split()) for lines in found]
    assert pasted == wanted, "an example wrapped without ' \\': pasting it runs two commands"
    for lines in found:
        assert all(len(line) <= 80 for line in lines), lines
        assert all(line.endswith(" \\") for line in lines[:-1]), lines


def test_the_paste_check_catches_a_wrapped_example() -> None:
    page = " Examples: \n nncli explain a b --metric accuracy\n --repeats 10\n   \n more"
    assert [" ".join(lines) for lines in rendered_examples(page)] == [
        " nncli explain a b --metric accuracy",
        " --repeats 10",
    ]


TABLE_ONLY = ("tabm", "tabular", "rows or windows", "TabM")
SERIES_ONLY = ("nhits", "N-HITS", "windows", "series")


@pytest.mark.parametrize("path", [path for path, _ in LEAVES], ids=" ".join)
def test_each_page_speaks_of_its_own_domain(path: tuple[str, ...]) -> None:
    name = " ".join(path)
    page = " ".join(page_text(path, WIDE).split())
    if name.startswith("forecast"):
        assert not [word for word in TABLE_ONLY if word in page], name
    if name in TABLE_COMMANDS:
        options = page.split("Options")[1]
        assert not [word for word in SERIES_ONLY if word in options], name
    if name == "explain":
        assert "give the same model" not in page.split("--seed")[1].split("[")[0]


def test_the_root_page_names_todays_defaults() -> None:
    from nncli.cli.root import COMMAND_SUMMARIES
    from nncli.export import PARITY_TOLERANCE

    table = TABLE_ARCHITECTURES[TabularOptions(target="y").arch].display
    series = SERIES_ARCHITECTURES[ForecastOptions(PanelSpec("t", "y")).arch].display
    assert COMMAND_SUMMARIES["train"].startswith(f"Train a {table} network"), COMMAND_SUMMARIES
    assert f"an {series} ensemble" in COMMAND_SUMMARIES["forecast"]
    assert f"to {PARITY_TOLERANCE:.0e}".replace("e-0", "e-") in COMMAND_SUMMARIES["export"]
    assert "at least" in COMMAND_SUMMARIES["export"]  # 1e-5 × max(1, largest output)


def test_tabm_help_copies_equal_the_network_they_describe() -> None:
    from nncli.models.tabm import TabMConfig, default_numeric_embedding

    tabm = TABLE_ARCHITECTURES["tabm"]
    assert tabm.default_members == TabMConfig.k  # type: ignore[attr-defined]
    for task, embedding in tabm.default_embeddings.items():  # type: ignore[attr-defined]
        assert default_numeric_embedding(task) == embedding
