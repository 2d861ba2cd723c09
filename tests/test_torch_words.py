"""A PyTorch or Lightning user's objects and words given to ``mnistlab.train`` (helper-251): each said
in one line in their words (not pydantic's "must be a valid string"), before anything trains."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import mnistlab
from mnistlab.errors import SpecError
from mnistlab.specs import Dense, Flatten, ModelSpec


class Net(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(784, 10)


LOADER = DataLoader(TensorDataset(torch.zeros(10, 28, 28, dtype=torch.uint8), torch.zeros(10, dtype=torch.long)))


@pytest.mark.parametrize("given, said", [
    ({"model": Net()}, "model: a torch nn.Module (Net) is not taken: mnistlab builds its models from layers in Keras's"),
    ({"dataset": LOADER}, "dataset: a DataLoader is not taken (mnistlab batches the images itself): give its dataset"),
    ({"optimizer": torch.optim.SGD}, 'optimizer: give its name, optimizer="sgd"'),
    ({"optimizer": torch.optim.AdamW([torch.zeros(1, requires_grad=True)])}, 'optimizer="adamw"'),
    ({"max_epochs": 3}, "Lightning's max_epochs is epochs= here"),
    ({"accelerator": "gpu"}, "Lightning's accelerator is device= here"),
    ({"device": "gpu"}, 'a GPU is "cuda" here, as torch names it'),
    ({"num_workers": 4}, "no loader workers to give"),
    ({"gradient_clip_val": 1.0}, "gradient clipping is not offered"),
])
def test_torch_and_lightning_words_are_said_in_theirs(given, said, data_dir, tmp_path):
    args = {"dataset": "mnist", "model": "seed000-dense", **given}
    with pytest.raises(SpecError) as info:
        mnistlab.train(args.pop("dataset"), args.pop("model"), epochs=1, subset=600, data_dir=data_dir,
                       store=tmp_path, **args)
    assert said in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())  # nothing trained


@pytest.mark.parametrize("base, said", [
    ({"model": torch.nn.Linear(2, 2)}, "[base]: model: a torch nn.Module (Linear) is not taken"),
    ({"train": {"optimizer": torch.optim.SGD}}, '[base]: train.optimizer: give its name, optimizer="sgd"'),
    ({"accelerator": "gpu"}, "Lightning's accelerator is device= here"),
])
def test_an_experiment_given_in_python_says_torch_objects_and_lightning_words_too(base, said, tmp_path):
    with pytest.raises(SpecError) as info:
        mnistlab.run_experiment({"name": "x", "base": {"dataset": "mnist", "model": "seed000-dense", **base},
                                 "variants": [{"name": "a"}]}, store=tmp_path)
    assert said in str(info.value) and "\n" not in str(info.value)


def test_validation_data_as_a_data_loader_is_one_line(data_dir):
    with pytest.raises(SpecError, match=r"validation_data: a DataLoader is not taken .* validation_data=\(x_val, y_val\)"):
        mnistlab.train("mnist", "seed000-dense", epochs=1, subset=600, data_dir=data_dir, validation_data=LOADER)


def test_an_experiment_given_in_python_takes_a_model_spec_as_train_does(data_dir, tmp_path):
    spec = ModelSpec(layers=[Flatten(), Dense(10, activation="softmax")])
    result = mnistlab.run_experiment({"name": "x", "base": {"dataset": "mnist", "model": spec, "train": {"epochs": 1},
                                                            "data": {"subset": 600}}, "variants": [{"name": "a"}]},
                                     store=tmp_path, data_dir=data_dir, progress="none")
    assert result.ended() == (1, 0) and result.rows[0]["params"] == 7850


def test_lightning_precision_names_read_as_mnistlabs_and_float16_is_said():
    from mnistlab.config import parse_run_config

    def precision(value):
        return parse_run_config({"dataset": "mnist", "model": "seed000-dense", "train": {"precision": value}}).train.precision

    assert precision("bf16-mixed") == "bf16" and precision(32) == "float32" and precision("32-true") == "float32"
    with pytest.raises(SpecError, match=r'float16 \("16-mixed"\) is not offered: "bf16"'):
        precision("16-mixed")


@pytest.mark.parametrize("word, said", [("max_steps", "whole epochs"), ("fast_dev_run", "--quick"),
                                        ("strategy", "--backend ray"), ("ckpt_path", "checkpoint_dir=")])
def test_more_lightning_trainer_words_say_mnistlabs(word, said, data_dir):
    with pytest.raises(SpecError, match=f'unknown setting "{word}": .*{said}'):
        mnistlab.train("mnist", "seed000-dense", epochs=1, subset=600, data_dir=data_dir, **{word: 1})
