"""A search as every worker process runs it: the domain, the data, the study and its budget."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nncli.errors import UsageError
from nncli.tuning.space import ParamSpec, build_space, read_space_overrides

if TYPE_CHECKING:
    from nncli.tuning.domain import SearchDomain
    from nncli.tuning.options import SearchOptions


@dataclass
class TuneJob:
    """Everything a worker process needs (plain data, so it crosses process boundaries)."""

    domain: SearchDomain  # what is searched: `TabularSearch` or `ForecastSearch`, with options
    data: Path
    study_name: str
    storage_url: str
    trials: int
    pruner: str = "median"
    seed: int = 0
    space_overrides: dict[str, Any] = field(default_factory=dict)
    space_source: str = "config"
    timeout: float | None = None
    heartbeat_seconds: int = 10
    quiet: bool = False
    # What the study's trials are comparable on; set by `run_study` once the data is checked.
    fingerprint: dict[str, Any] | None = None

    @classmethod
    def for_search(
        cls,
        data: Path,
        search: SearchOptions,
        study_name: str,
        domain: SearchDomain,
        *,
        config: Path | None = None,
        quiet: bool = False,
    ) -> TuneJob:
        """The job `search` describes over `data` (after checking the data and output files).

        `domain` holds the options every trial starts from. The search space is the domain's
        default one with the ``[<command>.space]`` table of the TOML file `config` applied.
        """
        from nncli.files import check_input_file, check_output_path
        from nncli.tuning.storage import storage_files

        check_input_file(data)
        if search.save_best is not None:  # never over the data or the studies' own file
            check_output_path(search.save_best, data, *storage_files(search.url()))
        else:
            for flag, value, says in (
                ("--refit", search.refit, "how --save-best retrains"),
                ("--pick", search.pick, "which trial --save-best keeps"),
            ):
                if value is not None:
                    raise UsageError(
                        f"{flag} {value}: says {says}, and no --save-best was given",
                        hint=f"add --save-best PATH, or leave out {flag}",
                    )
        domain.check_search(search)
        overrides, source = read_space_overrides(config, *domain.command)
        return cls(
            domain=domain,
            data=data,
            study_name=study_name,
            storage_url=search.url(),
            trials=search.trials,
            pruner=search.pruner,
            seed=domain.options.training.seed,
            space_overrides=overrides,
            space_source=source,
            timeout=search.timeout,
            heartbeat_seconds=search.heartbeat,
            quiet=quiet,
        )

    def validate(self) -> None:
        """Check the settings against the option declarations, and the search space."""
        from nncli.options import check_options
        from nncli.tuning.options import SearchOptions

        check_options(
            SearchOptions(trials=self.trials, pruner=self.pruner, heartbeat=self.heartbeat_seconds)
        )
        self.domain.validate()
        self.space()

    def space(self) -> dict[str, ParamSpec]:
        return build_space(self.domain.default_space, self.space_overrides, self.space_source)

    def space_table(self) -> str:
        """The config file's table that fixes or narrows this search's parameters."""
        return f"[{'.'.join((*self.domain.command, 'space'))}]"


def _declared_default(options: Any, path: str) -> Any:
    """The default of the (possibly nested, 'training.learning_rate') option at `path`."""
    import dataclasses

    first, *rest = path.split(".")
    declared = {f.name: f for f in dataclasses.fields(options)}[first]
    if declared.default_factory is not dataclasses.MISSING:
        value = declared.default_factory()
    else:
        value = declared.default
    for name in rest:
        value = getattr(value, name)
    return value


def options_the_search_replaces(job: TuneJob) -> list[str]:
    """Flags set away from their defaults that the search draws anyway (so they are ignored)."""
    base = job.domain.options
    changed = []
    for flag, path in job.domain.searched_options.items():
        value: Any = base
        for name in path.split("."):
            value = getattr(value, name)
        if value != _declared_default(base, path):
            changed.append(flag)
    return changed
