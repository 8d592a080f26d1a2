"""The TabM network, its robust scaling, schedules and fit loop: shapes, round trips, learning."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
import torch

from nncli.data.robust_scaling import (
    RobustScaler,
    apply_robust_scaler,
    fit_robust_scaler,
    smooth_clip,
)
from nncli.models.tabm import (
    TabM,
    TabMConfig,
    ensemble_loss,
    ensemble_mean,
    parameter_groups,
)
from nncli.training.schedule import epoch_budget, lr_multiplier
from nncli.training.tabm_fit import TabMFitConfig, fit_tabm, fit_temperature, predict_values


@pytest.fixture(autouse=True)
def one_thread():
    """Small networks train fastest on one thread; a busy machine makes more threads thrash."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


SMALL = {"hidden_sizes": [64, 64], "k": 4}
FAST_FIT = {
    "max_epochs": 60,
    "min_epochs": 60,
    "row_epochs": 1,
    "lr": 4e-3,
    "patience_fraction": 1.0,
}


def inputs(rows: int = 5, n_numeric: int = 3, cardinalities: tuple[int, ...] = (3, 20)):
    generator = torch.Generator().manual_seed(0)
    numeric = torch.randn(rows, n_numeric, generator=generator)
    categorical = torch.stack(
        [torch.randint(0, c, (rows,), generator=generator) for c in cardinalities], dim=1
    )
    return numeric, categorical


@pytest.mark.parametrize("embedding", ["none", "ple", "pbld", "plr"])
@pytest.mark.parametrize("ensemble", ["mini", "batch"])
def test_shapes_in_training_and_eval(embedding: str, ensemble: str) -> None:
    torch.manual_seed(0)
    config = TabMConfig(
        n_numeric=3,
        n_outputs=4,
        categorical_cardinalities=[3, 20],
        numeric_embedding=embedding,
        ensemble=ensemble,
        parametric_activation=True,
        **SMALL,
    )
    model = TabM(config)
    numeric, categorical = inputs()
    assert model.train()(numeric, categorical).shape == (5, 4, 4)
    assert model.eval()(numeric, categorical).shape == (5, 4)


def test_numeric_only_and_categorical_only() -> None:
    numeric, categorical = inputs()
    only_numeric = TabM(TabMConfig(n_numeric=3, n_outputs=1, output_kind="values", **SMALL))
    assert only_numeric.eval()(numeric).shape == (5, 1)
    only_categorical = TabM(TabMConfig(n_numeric=0, n_outputs=2, categorical_cardinalities=[3, 20]))
    assert only_categorical.eval()(numeric[:, :0], categorical).shape == (5, 2)


def test_eval_output_is_the_log_of_the_mean_member_probability() -> None:
    torch.manual_seed(0)
    model = TabM(TabMConfig(n_numeric=3, n_outputs=3, categorical_cardinalities=[3, 20], **SMALL))
    numeric, categorical = inputs()
    model.eval()
    members = model.member_outputs(numeric, categorical)  # [B, k, o]
    expected = torch.softmax(members, dim=-1).mean(dim=1)
    assert torch.allclose(torch.softmax(model(numeric, categorical), dim=-1), expected, atol=1e-6)
    values = torch.randn(5, 4, 1)
    assert torch.allclose(ensemble_mean(values, "values"), values.mean(dim=1))


def test_loss_is_the_mean_of_the_members_losses() -> None:
    outputs = torch.randn(6, 4, 3)
    target = torch.randint(0, 3, (6,))
    each = [torch.nn.functional.cross_entropy(outputs[:, i], target) for i in range(4)]
    assert torch.allclose(ensemble_loss(outputs, target, "logits"), torch.stack(each).mean())


def test_members_differ_at_initialisation() -> None:
    torch.manual_seed(0)
    model = TabM(TabMConfig(n_numeric=3, n_outputs=2, **SMALL)).eval()
    members = model.member_outputs(*inputs())
    assert (members[:, 0] - members[:, 1]).abs().max() > 1e-3


def test_parameter_groups_cover_every_trainable_parameter() -> None:
    model = TabM(
        TabMConfig(
            n_numeric=3,
            n_outputs=2,
            categorical_cardinalities=[3, 20],
            ensemble="batch",
            parametric_activation=True,
        )
    )
    grouped = [p for group in parameter_groups(model).values() for p in group]
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert len(grouped) == len(trainable)
    assert {id(p) for p in grouped} == {id(p) for p in trainable}


def test_state_dict_and_config_round_trip(tmp_path) -> None:
    from safetensors.torch import load_file, save_file

    torch.manual_seed(0)
    config = TabMConfig(
        n_numeric=3,
        n_outputs=2,
        categorical_cardinalities=[3, 20],
        parametric_activation=True,
        **SMALL,
    )
    model = TabM(config).eval()
    save_file(model.state_dict(), str(tmp_path / "weights.safetensors"))
    stored = json.loads(json.dumps(config.to_dict()))
    torch.manual_seed(1)  # a different initialisation, overwritten by the loaded weights
    rebuilt = TabM(TabMConfig.from_dict(stored))
    rebuilt.load_state_dict(load_file(str(tmp_path / "weights.safetensors")))
    rebuilt.eval()
    numeric, categorical = inputs()
    assert torch.equal(model(numeric, categorical), rebuilt(numeric, categorical))


def test_config_rejects_unknown_settings() -> None:
    with pytest.raises(ValueError):
        TabMConfig.from_dict({"n_numeric": 1, "n_outputs": 1, "surprise": True})
    with pytest.raises(ValueError):
        TabMConfig(n_numeric=1, n_outputs=1, numeric_embedding="fourier")


def test_torchscript_trace_and_onnx_export_match_eager(tmp_path) -> None:
    torch.manual_seed(0)
    model = TabM(
        TabMConfig(
            n_numeric=3,
            n_outputs=3,
            categorical_cardinalities=[3, 20],
            parametric_activation=True,
            **SMALL,
        )
    ).eval()
    numeric, categorical = inputs(rows=7)
    expected = model(numeric, categorical)
    onnxruntime = pytest.importorskip("onnxruntime")
    path = tmp_path / "model.onnx"
    with warnings.catch_warnings():  # torch.jit and the TorchScript exporter are deprecated
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(model, (numeric, categorical))
        _export_onnx(model, (numeric, categorical), path)
    assert torch.allclose(traced(numeric, categorical), expected, atol=1e-5)
    session = onnxruntime.InferenceSession(str(path))
    more_numeric, more_categorical = inputs(rows=11)
    (outputs,) = session.run(
        None, {"numeric": more_numeric.numpy(), "categorical": more_categorical.numpy()}
    )
    assert np.allclose(outputs, model(more_numeric, more_categorical).detach().numpy(), atol=1e-4)


def _export_onnx(model: TabM, example: tuple[torch.Tensor, ...], path) -> None:
    torch.onnx.export(
        model,
        example,
        str(path),
        input_names=["numeric", "categorical"],
        output_names=["outputs"],
        dynamic_axes={"numeric": {0: "rows"}, "categorical": {0: "rows"}},
        opset_version=17,
        dynamo=False,
    )


# ----------------------------------------------------------------------------- learning
def periodic_problem(rows: int, seed: int):
    """Class = sign of sin(2π x) for x in [-2, 2]: four periods, hard for a plain ReLU MLP."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, size=(rows, 2)).astype(np.float32)
    y = (np.sin(2 * np.pi * x[:, 0]) > 0).astype(np.int64)
    return torch.from_numpy(x), torch.zeros(rows, 0, dtype=torch.long), torch.from_numpy(y)


def accuracy_on(model: TabM, result, data) -> float:
    numeric, categorical, target = data
    probabilities = predict_values(model, numeric, categorical, result)
    return float((probabilities.argmax(dim=1) == target).float().mean())


def train_on(problem, config: TabMConfig, **fit):
    torch.manual_seed(0)
    model = TabM(config)
    train, valid, test = problem(800, 1), problem(300, 2), problem(500, 3)
    model.fit_inputs(train[0].numpy(), [])  # as `build_tabm` does
    result = fit_tabm(model, train, valid, TabMFitConfig(**{**FAST_FIT, **fit}))
    return model, result, test


@pytest.mark.slow
def test_periodic_embeddings_learn_a_periodic_feature() -> None:
    config = {"n_numeric": 2, "n_outputs": 2, **SMALL}
    periodic = {"numeric_embedding": "pbld", "numeric_embedding_dim": 4, "frequency_sigma": 0.5}
    embedded = train_on(periodic_problem, TabMConfig(**config, **periodic))
    plain = train_on(periodic_problem, TabMConfig(**config, numeric_embedding="none"))
    embedded_accuracy = accuracy_on(*embedded)
    assert embedded_accuracy >= 0.9
    assert embedded_accuracy >= accuracy_on(*plain) + 0.05


def stripes_problem(rows: int, seed: int):
    """Class = parity of floor(4 x) for x in [-2, 2]: 16 stripes, as thresholds a tree finds."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, size=(rows, 2)).astype(np.float32)
    y = (np.floor(4 * x[:, 0]).astype(np.int64) % 2).astype(np.int64)
    return torch.from_numpy(x), torch.zeros(rows, 0, dtype=torch.long), torch.from_numpy(y)


@pytest.mark.slow
def test_piecewise_linear_embeddings_learn_many_thresholds() -> None:
    config = {"n_numeric": 2, "n_outputs": 2, **SMALL}
    embedded = train_on(stripes_problem, TabMConfig(**config))  # "ple", the default
    plain = train_on(stripes_problem, TabMConfig(**config, numeric_embedding="none"))
    embedded_accuracy = accuracy_on(*embedded)
    assert embedded_accuracy >= 0.9
    assert embedded_accuracy >= accuracy_on(*plain) + 0.1
    bins = embedded[0].numeric_embeddings
    assert bins is not None and int((bins.edge_weight[0] != 0).sum()) == 48  # fitted, not [0, 1]


@pytest.mark.slow
def test_ensemble_learns_and_members_agree_with_the_mean() -> None:
    model, result, test = train_on(
        periodic_problem, TabMConfig(n_numeric=2, n_outputs=2, frequency_sigma=0.5, **SMALL)
    )
    assert accuracy_on(model, result, test) >= 0.9
    members = model.member_outputs(test[0], test[1]).argmax(dim=-1)  # [B, k]
    assert (members == test[2].unsqueeze(1)).float().mean() >= 0.85


@pytest.mark.slow
def test_batch_ensemble_parametric_activation_and_front_scale_learn() -> None:
    config = TabMConfig(
        n_numeric=2,
        n_outputs=2,
        frequency_sigma=0.5,
        ensemble="batch",
        parametric_activation=True,
        front_scale=True,
        **SMALL,
    )
    model, result, test = train_on(periodic_problem, config)
    assert accuracy_on(model, result, test) >= 0.9
    assert model.scale is not None and not torch.allclose(model.scale, torch.ones_like(model.scale))
    activation = model.blocks[0][1]
    assert not torch.allclose(activation.weight, torch.ones_like(activation.weight))


def categorical_problem(rows: int, seed: int):
    """Class = a fixed random label per category of a 30-category column, plus noise columns."""
    rng = np.random.default_rng(seed)
    labels = np.random.default_rng(99).integers(0, 3, size=31)
    codes = rng.integers(1, 31, size=rows)
    numeric = rng.normal(size=(rows, 2)).astype(np.float32)
    return (
        torch.from_numpy(numeric),
        torch.from_numpy(codes.reshape(-1, 1)),
        torch.from_numpy(labels[codes]),
    )


@pytest.mark.slow
def test_categorical_embeddings_learn_a_lookup() -> None:
    config = TabMConfig(n_numeric=2, n_outputs=3, categorical_cardinalities=[31], **SMALL)
    assert accuracy_on(*train_on(categorical_problem, config)) >= 0.95


@pytest.mark.slow
def test_regression_learns_and_stays_in_the_training_range() -> None:
    def problem(rows: int, seed: int):
        rng = np.random.default_rng(seed)
        x = rng.uniform(-2, 2, size=(rows, 1)).astype(np.float32)
        y = (1000 + 200 * np.sin(2 * np.pi * x[:, 0])).astype(np.float32)
        return torch.from_numpy(x), torch.zeros(rows, 0, dtype=torch.long), torch.from_numpy(y)

    config = TabMConfig(
        n_numeric=1, n_outputs=1, output_kind="values", frequency_sigma=0.5, **SMALL
    )
    model, result, test = train_on(problem, config)
    predictions = predict_values(model, test[0], test[1], result)
    rmse = float((predictions - test[2]).square().mean().sqrt())
    assert rmse < 0.35 * float(test[2].std())  # the std of the target is ~141
    assert predictions.min() >= result.target_min and predictions.max() <= result.target_max


@pytest.mark.slow
def test_best_epoch_is_restored() -> None:
    _, result, _ = train_on(
        periodic_problem, TabMConfig(n_numeric=2, n_outputs=2, frequency_sigma=0.5, **SMALL)
    )
    best_metric = max(metric for _, metric in result.history)
    assert result.history[result.best_epoch - 1][1] == best_metric
    assert result.best_metric == best_metric


# ----------------------------------------------------------------------------- pieces
def test_temperature_scaling_recovers_a_known_temperature() -> None:
    generator = torch.Generator().manual_seed(0)
    logits = 3 * torch.randn(4000, 4, generator=generator)
    target = torch.multinomial(torch.softmax(logits / 2.0, dim=1), 1, generator=generator)
    assert fit_temperature(logits, target.squeeze(1)) == pytest.approx(2.0, rel=0.1)


def test_robust_scaler_centres_scales_clips_and_round_trips() -> None:
    rng = np.random.default_rng(0)
    values = np.stack(
        [
            rng.lognormal(size=1000) * 1000,  # heavy tail
            np.where(rng.random(1000) < 0.9, 5.0, rng.normal(size=1000)),  # IQR = 0
            np.full(1000, 7.0),  # constant
            np.where(rng.random(1000) < 0.2, np.nan, rng.normal(size=1000)),  # missing
        ],
        axis=1,
    )
    scaler = fit_robust_scaler(values, ["tail", "spiky", "constant", "holes"])
    scaled = apply_robust_scaler(scaler, values)
    assert scaled.dtype == np.float32 and np.isfinite(scaled).all()
    assert np.abs(scaled).max() < 3.0
    assert abs(np.median(scaled[:, 0])) < 1e-6
    assert scaler.columns[1].scale > 0  # (max - min) / 2 fallback
    assert (scaled[:, 2] == 0).all()
    assert (scaled[np.isnan(values[:, 3]), 3] == 0).all()
    rebuilt = RobustScaler.from_dict(json.loads(json.dumps(scaler.to_dict())))
    assert np.array_equal(apply_robust_scaler(rebuilt, values), scaled)
    assert smooth_clip(np.array([0.5]))[0] == pytest.approx(0.5 / math.sqrt(1 + (0.5 / 3) ** 2))


def test_schedules() -> None:
    assert lr_multiplier("coslog4", 0.0) == pytest.approx(0.0)
    assert lr_multiplier("coslog4", 1.0) == pytest.approx(0.0, abs=1e-9)
    assert max(lr_multiplier("coslog4", t / 1000) for t in range(1001)) == pytest.approx(
        1, abs=1e-3
    )
    assert lr_multiplier("flat_cos", 0.3) == 1.0
    assert lr_multiplier("flat_cos", 0.75) == pytest.approx(0.5)
    assert lr_multiplier("warmup_cos", 0.0) < 0.1
    assert lr_multiplier("warmup_cos", 1.0) == pytest.approx(0.0)
    assert lr_multiplier("constant", 0.7) == 1.0
    with pytest.raises(ValueError):
        lr_multiplier("sawtooth", 0.5)
    assert epoch_budget(100) == 64
    assert epoch_budget(100, max_epochs=256, row_epochs=400_000) == 256
    assert epoch_budget(1_000_000) == 16


def test_the_options_offer_the_numeric_embeddings_tabm_has() -> None:
    """`--numeric-embedding`'s choices (kept in the light options module) are TabM's."""
    from nncli.models.tabm import NUMERIC_EMBEDDINGS
    from nncli.tabular.options import NUMERIC_EMBEDDINGS as OFFERED

    assert set(OFFERED) == set(NUMERIC_EMBEDDINGS) and len(OFFERED) == len(NUMERIC_EMBEDDINGS)
