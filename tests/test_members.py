"""A committee's members trained together as one stacked model (mnistlab.accel.members), on the CPU.

The stack must train each member as the member would train alone (same start, same shuffles,
same optimizer steps: equal to float rounding), record each as its own run, and refuse what it
cannot do alike.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mnistlab.accel.members import StackedMembers, batch_refusal, fit_members
from mnistlab.config import parse_run_config
from mnistlab.evaluate import predict_probs
from mnistlab.execute import member_groups, run_experiment
from mnistlab.experiments import load_experiment
from mnistlab.models import build_model
from mnistlab.optim import make_optimizer
from mnistlab.run import prepare_data, run_config, run_members
from mnistlab.store import RunStore

SMALL_CNN = [{"type": "Conv2D", "filters": 8, "kernel_size": 3, "activation": "relu"},
             {"type": "MaxPooling2D", "pool_size": 2}, {"type": "Flatten"}, {"type": "Dense", "units": 10}]


def member_cfg(seed: int, **overrides):
    raw = {"dataset": "fashion-mnist", "model": {"layers": SMALL_CNN}, "data": {"subset": 600, "validation": "test"},
           "train": {"epochs": 2, "seed": seed, "precision": "float32", "optimizer": "adam"}}
    for key, value in overrides.items():
        raw[key] = {**raw[key], **value} if isinstance(raw.get(key), dict) and key != "model" else value
    return parse_run_config(raw)


@pytest.mark.parametrize("train", [{}, {"optimizer": "rmsprop", "momentum": 0.9, "centered": True,
                                        "schedule": {"type": "step", "step_size": 1, "gamma": 0.1}}])
def test_stacked_members_train_as_each_would_alone(data_dir, train):
    """Adam, and an optimizer with its own state whose learning rate changes mid-run."""
    cfgs = [member_cfg(s, train=train) for s in (0, 1, 2)]
    together = run_members(cfgs, data_dir=data_dir)
    for cfg, member in zip(cfgs, together):
        alone = run_config(cfg, data_dir=data_dir, progress="none")
        assert member.status == alone.status == "finished" and member.env["batched_members"] == 3
        for a, b in zip(alone.history, member.history):
            for key in ("loss", "val_loss"):
                assert b[key] == pytest.approx(a[key], rel=2e-4)
            assert abs(b["accuracy"] - a["accuracy"]) <= 2 / 600  # one or two images on a rounding edge
        assert member.metrics["test_accuracy"] == pytest.approx(alone.metrics["test_accuracy"], abs=0.01)
        assert member.config["train"]["seed"] == cfg.train.seed
    # each member's recorded model is its own, trained weights: it predicts its recorded outputs
    data = prepare_data(cfgs[0], data_dir)
    for member in together:
        probs = predict_probs(member.model, data.test_x.numpy())
        np.testing.assert_allclose(probs, member.test_probs, atol=1e-5)
    assert not np.allclose(together[0].test_probs, together[1].test_probs)


def test_a_member_that_diverges_leaves_the_others_training(data_dir):
    cfg = member_cfg(0)
    data = prepare_data(cfg, data_dir)
    models = [build_model(cfg.model_spec(), seed=s) for s in (0, 1)]
    with torch.no_grad():
        models[0][-1].weight.fill_(3e37)  # member 0's logits overflow: its loss is NaN from the first batch
    stack = StackedMembers(models)
    outcomes = fit_members(stack, data.train_x, data.train_y, seeds=[0, 1], epochs=2, batch_size=32,
                           optimizer=make_optimizer("sgd", stack.parameters(), lr=0.01), base_lr=0.01)
    assert outcomes[0].status == "diverged" and outcomes[0].history == [] and "too high" in outcomes[0].message
    assert outcomes[1].status == "finished" and len(outcomes[1].history) == 2
    assert outcomes[1].history[1]["loss"] < outcomes[1].history[0]["loss"]


def test_dropout_members_train_with_their_own_masks(data_dir):
    layers = [*SMALL_CNN[:3], {"type": "Dropout", "rate": 0.5}, SMALL_CNN[3]]
    results = run_members([member_cfg(s, model={"layers": layers}) for s in (0, 1)], data_dir=data_dir)
    assert [r.status for r in results] == ["finished", "finished"]
    assert all(r.metrics["test_accuracy"] > 0.3 for r in results)


def test_what_cannot_train_as_one_stack_is_refused_with_the_reason(data_dir):
    assert batch_refusal([member_cfg(0), member_cfg(1)]) is None
    assert "one" in batch_refusal([member_cfg(0)])
    assert "differ" in batch_refusal([member_cfg(0), member_cfg(1, train={"lr": 0.01})])
    stop = [{"type": "EarlyStopping", "monitor": "val_loss"}]
    assert "callbacks" in batch_refusal([member_cfg(s, callbacks=stop) for s in (0, 1)])
    split = {"subset": 600, "validation": 0.1}
    assert "split_seed" in batch_refusal([member_cfg(s, data=split) for s in (0, 1)])
    # an experiment's cells spell each member's split seed out (split_seed = its seed): still refused
    assert "split_seed" in batch_refusal([member_cfg(s, data={**split, "split_seed": s}) for s in (0, 1)])
    assert batch_refusal([member_cfg(s, data={**split, "split_seed": 7}) for s in (0, 1)]) is None
    # a fixed split seed equal to one member's seed: still one setting, one split (it used to read as "differ")
    assert batch_refusal([member_cfg(s, data={**split, "split_seed": 1}) for s in (0, 1, 2)]) is None
    bn = [SMALL_CNN[0], {"type": "BatchNormalization"}, *SMALL_CNN[1:]]
    assert "BatchNormalization" in batch_refusal([member_cfg(s, model={"layers": bn}) for s in (0, 1)])
    with pytest.raises(Exception, match="cannot train as one stack"):
        run_members([member_cfg(0)], data_dir=data_dir)


def test_an_experiment_records_stacked_members_as_separate_runs(data_dir, tmp_path):
    exp_file = tmp_path / "committee.toml"
    exp_file.write_text('name = "stacked"\ncommittee = 3\n[base]\ndataset = "fashion-mnist"\n'
                        'data = { subset = 300 }\n[base.train]\nepochs = 1\nprecision = "float32"\n'
                        '[base.model]\nlayers = [{ type = "Flatten" }, '
                        '{ type = "Dense", units = 10 }]\n[[variants]]\nname = "dense"\n')
    exp = load_experiment(exp_file)
    cells = exp.cells()
    assert [len(g) for g in member_groups(cells, True)] == [3]
    per_seed = exp_file.read_text().replace("data = { subset = 300 }", "data = { subset = 300, validation = 0.2 }")
    exp_file.write_text(per_seed)
    assert [len(g) for g in member_groups(load_experiment(exp_file).cells(), True)] == [1, 1, 1]
    exp_file.write_text(per_seed.replace("validation = 0.2", "validation = 0.2, split_seed = 7"))
    assert [len(g) for g in member_groups(load_experiment(exp_file).cells(), True)] == [3]
    exp_file.write_text(per_seed.replace(", validation = 0.2", ""))
    assert [len(g) for g in member_groups(cells, False)] == [1, 1, 1]
    assert [len(g) for g in member_groups(cells)] == ([3] if torch.cuda.is_available() else [1, 1, 1])
    with RunStore(tmp_path / "runs") as store:
        result = run_experiment(exp, store, batch_members=True, data_dir=data_dir)
        runs = store.runs(experiment="stacked")
        assert len(runs) == 3 and {r.status for r in runs} == {"finished"}
        assert sorted(r.seed for r in runs) == sorted(c.seed for c in cells)
        assert all(r.env["batched_members"] == 3 for r in runs)
        assert len(store.committees("stacked")) == 1
        assert len(result.outcomes) == 3 and not any(o.skipped for o in result.outcomes)
        again = run_experiment(exp, store, batch_members=True, data_dir=data_dir)
        assert all(o.skipped for o in again.outcomes)


def test_stacked_members_blown_up_by_the_learning_rate_say_so(data_dir):
    dense = {"layers": [{"type": "Flatten"}, {"type": "Dense", "units": 64, "activation": "relu"},
                        {"type": "Dense", "units": 10}]}
    results = run_members([member_cfg(s, model=dense, train={"optimizer": "sgd", "lr": 50.0, "epochs": 1})
                           for s in (0, 1)], data_dir=data_dir)
    assert [r.status for r in results] == ["diverged", "diverged"]
    assert all("probably too high" in r.message for r in results)
