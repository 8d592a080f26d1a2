"""The tabular search domain (`nncli tune`): a table's networks (TabM, MLP, RBF) drawn from
TABULAR_SPACE, `nncli train`'s defaults as the first trial, and a refit that keeps the best
trial only where it beats those defaults beyond noise (`nncli.tuning.pick`).

Each architecture's own knobs and options come from its registry entry
(`nncli.tabular.architectures`), never from a branch on its name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar

from nncli.tuning.domain import PruningCallback, RefitPlan, SilentReporter
from nncli.tuning.options import TABLE_PICK
from nncli.tuning.space import (
    TABULAR_SEARCHED_OPTIONS,
    TABULAR_SPACE,
    ParamSpec,
    defaults_within,
    sample,
)

if TYPE_CHECKING:
    from pathlib import Path

    import optuna

    from nncli.tabular.options import TabularOptions
    from nncli.tuning.options import SearchOptions


def tabular_options(base: TabularOptions, params: dict[str, Any]) -> TabularOptions:
    """Training options for one point of the tabular search space."""
    from nncli.tabular.architectures import (
        ARCHITECTURE_OPTIONS,
        architecture_named,
        foreign_options_reset,
    )

    layers, width = int(params["layers"]), int(params["width"])
    arch = str(params.get("arch", base.arch))
    entry = architecture_named(arch)
    shaped: dict[str, Any] = {
        "dropout": float(params["dropout"]),
        "activation": str(params["activation"]),
    }
    return replace(
        base,
        arch=arch,
        **foreign_options_reset(base, arch),
        **entry.search_options(base, params),
        # What this architecture does not use stays at its default (an RBF has no dropout).
        **{k: v for k, v in shaped.items() if k not in ARCHITECTURE_OPTIONS or k in entry.takes},
        # A trial, and a refit "as the trial trained", is the early-stopped network itself;
        # --refit all is tune's own train+validation refit.
        final_refit="never",
        epoch_folds=1,
        hidden_sizes=[max(4, width // 2**i) for i in range(layers)],
        training=replace(
            base.training,
            learning_rate=float(params["lr"]),
            weight_decay=float(params["weight_decay"]),
            batch_size=int(params["batch_size"]),
        ),
    )


def architecture_knobs() -> dict[str, frozenset[str]]:
    """Each architecture's own search parameters (drawn only in its trials)."""
    from nncli.tabular.architectures import ARCHITECTURES

    return {name: entry.tunable for name, entry in ARCHITECTURES.items()}


@dataclass
class TabularSearch:
    """A search over a table's networks, every trial starting from `options`."""

    options: TabularOptions
    name: ClassVar[str] = "tabular"
    command: ClassVar[tuple[str, ...]] = ("tune",)
    default_space: ClassVar[dict[str, ParamSpec]] = TABULAR_SPACE
    searched_options: ClassVar[dict[str, str]] = TABULAR_SEARCHED_OPTIONS
    # Tables: "beats-defaults", since the best of many trials, chosen on the validation rows,
    # lost to the defaults on new rows where its lead was within noise (benchmarks/RESULTS.md).
    default_pick: ClassVar[str] = TABLE_PICK

    def check_search(self, search: SearchOptions) -> None:
        """Every search option applies to a table."""

    def validate(self) -> None:
        """A table's search has no settings beyond its training options."""

    def fingerprint(self, data: Path, space: dict[str, ParamSpec]) -> dict[str, Any]:
        """The target, the task and the training rows (the table is read and split)."""
        from nncli.data.loading import read_csv
        from nncli.tabular.train import prepare_table

        frame = read_csv(data, self.options.csv)
        table = prepare_table(data, frame, self.options, SilentReporter())
        return {
            "target": self.options.target,
            "task": table.task.name,
            "train_rows": table.split_sizes["train"],
        }

    def queue_defaults(
        self, study: optuna.Study, space: dict[str, ParamSpec], fingerprint: dict[str, Any] | None
    ) -> None:
        """Queue `nncli train`'s defaults as the study's first trial, read from the option and
        network declarations, as far as the space holds them: TabM's learning rate and numeric
        embedding for the task, its batch size for the table's training rows, the space's
        lowest weight decay for TabM's 0 (the first three are drawn when the data is unknown)."""
        from nncli.tabular.architectures import architecture_named
        from nncli.tabular.options import TabularOptions

        options = TabularOptions(target=self.options.target)
        hidden = options.hidden_sizes
        known = fingerprint or {}
        task = str(known["task"]) if known.get("task") else None
        train_rows = int(known["train_rows"]) if known.get("train_rows") else None
        defaults: dict[str, Any] = {
            "arch": options.arch,
            "layers": len(hidden),
            "width": hidden[0],  # tabular_options halves it per layer: 128 -> 128, 64
            "dropout": options.dropout,
            "activation": options.activation,
            **architecture_named(options.arch).default_trial(task, train_rows),
        }
        if "weight_decay" in space and space["weight_decay"].low is not None:
            defaults["weight_decay"] = space["weight_decay"].low
        study.enqueue_trial(defaults_within(space, defaults), skip_if_exists=True)

    def trial_options(self, params: dict[str, Any]) -> TabularOptions:
        return tabular_options(self.options, params)

    def objective(self, data: Path, space: dict[str, ParamSpec]) -> Callable[[optuna.Trial], float]:
        from nncli.data.loading import read_csv
        from nncli.tabular.train import train_tabular

        frame = read_csv(data, self.options.csv)  # once per worker, not once per trial
        knobs = architecture_knobs()

        def objective(trial: optuna.Trial) -> float:
            options = self.trial_options(sample(space, trial, knobs))
            report = train_tabular(
                data,
                options,
                reporter=SilentReporter(),
                callbacks=(PruningCallback(trial),),
                frame=frame,
                score_test=False,
            )
            best = report.history.best
            trial.set_user_attr("best_epoch", report.history.best_epoch)
            trial.set_user_attr(f"valid_{report.history.metric_name}", best.valid_metric)
            return best.valid_loss

        return objective

    def refit(
        self, data: Path, best: RefitPlan, defaults: RefitPlan | None, path: Path, reporter: Any
    ) -> dict[str, Any]:
        """`best` retrained; given `defaults` (`--pick beats-defaults`), the best trial only
        where it beats the defaults trial on the validation rows beyond noise, else them."""
        if defaults is None:
            return self._refit(data, best, path, reporter)
        return self._refit_against_defaults(data, best, defaults, path, reporter)

    def _refit(self, data: Path, plan: RefitPlan, path: Path, reporter: Any) -> dict[str, Any]:
        from nncli.tabular.train import train_tabular

        options = plan.options_for(self.trial_options(plan.params))
        trained = train_tabular(
            data, options, reporter=reporter, refit_on_train_and_valid=plan.on_all
        )
        return _save_refit(trained, plan.provenance, path)

    def _refit_against_defaults(
        self, data: Path, best: RefitPlan, defaults: RefitPlan, path: Path, reporter: Any
    ) -> dict[str, Any]:
        """Both trials as they trained, compared row by row on the validation rows; the winner
        is saved as trained, or (`--refit all`) refitted on train+validation."""
        from nncli.reporting import CollectingReporter
        from nncli.tabular.train import train_tabular
        from nncli.tuning.pick import compare_rows

        # With --refit all neither fit is the saved model: no test rows, no baselines.
        fits = [
            train_tabular(
                data,
                self.trial_options(plan.params),
                reporter=CollectingReporter(),
                score_test=not plan.on_all,
            )
            for plan in (best, defaults)
        ]
        metric = fits[0].history.metric_name
        comparison = compare_rows(fits[0].valid_errors, fits[1].valid_errors, metric)
        reporter.info(comparison.sentence(best.provenance["trial"], defaults.provenance["trial"]))
        plan, trained = (best, fits[0]) if comparison.best_wins else (defaults, fits[1])
        provenance = plan.provenance | {
            "best_trial": best.provenance["trial"],
            "pick": "beats-defaults",
            "versus_defaults": comparison.to_dict(),
        }
        picked = {"pick": comparison.to_dict()}
        if plan.on_all:  # the epoch count as retrained here (a pruned trial recorded none)
            plan = replace(plan, epochs=max(1, trained.history.best_epoch), provenance=provenance)
            return self._refit(data, plan, path, reporter) | picked
        for warning in trained.warnings:
            reporter.warn(warning)
        return _save_refit(trained, provenance, path) | picked


def _save_refit(trained: Any, provenance: dict[str, Any], path: Path) -> dict[str, Any]:
    from nncli.tabular.model import save_tabular_model

    trained.model.metadata["tuning"] = provenance
    save_tabular_model(path, trained.model)
    return {
        "model_path": str(path),
        "model_id": trained.model.metadata["model_id"],
        "test_metrics": trained.test_metrics,
        "baselines": trained.baselines,
        "verdict": trained.verdict,
    }
