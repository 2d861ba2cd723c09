"""Experiment files: expansion, derived names, validation, hostile input (running them: test_execute.py)."""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
import unicodedata
from pathlib import Path

import pytest

from mnistlab.errors import SpecError, SpecWarning
from mnistlab.experiments import cell_key, derive_name, is_quick, load_experiment
from mnistlab.keypaths import set_at

TINY = """
[base]
dataset = "mnist"
model = { dense = [8] }
[base.data]
subset = 120
[base.train]
epochs = 1
batch_size = 60
"""


def write(tmp_path: Path, text: str, name: str = "exp.toml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


# ------------------------------------------------------------------------------- expansion
def test_variants_grid_repeats_committee_expand(tmp_path: Path) -> None:
    p = write(tmp_path, "repeats = 2\n" + TINY + """
[[variants]]
name = "wide"
model.dense = [16]
[[variants]]
"train.lr" = 0.01
committee = 3
[grid]
"model.activation" = ["relu", "tanh"]
""")
    exp = load_experiment(p)
    assert exp.name == "exp"
    assert [v.name for v in exp.variants] == ["wide,act=relu", "wide,act=tanh", "lr=0.01,act=relu", "lr=0.01,act=tanh"]
    cells = exp.cells()
    assert len(cells) == 2 * 2 * 1 + 2 * 2 * 3
    wide = [c for c in cells if c.variant == "wide,act=tanh"]
    assert [c.seed for c in wide] == [0, 1]
    assert all(layer["units"] == 16 for layer in wide[0].config["model"]["layers"][1:2])
    assert wide[0].config["model"]["layers"][1]["activation"] == "tanh"
    comm = [c for c in cells if c.variant == "lr=0.01,act=relu"]
    assert sorted(c.seed for c in comm) == list(range(6)) and {c.member for c in comm} == {0, 1, 2}
    assert len({c.key for c in cells}) == len(cells)  # every cell is distinct
    assert all(c.config["train"]["lr"] == 0.01 for c in comm)
    quick = exp.cells(quick=True)
    assert len(quick) == 2 + 2 * 2  # 1 repeat, at most 2 members
    assert all(c.config["train"]["epochs"] == 1 and c.config["data"]["subset"] <= 300 for c in quick)


def test_derived_names() -> None:
    assert derive_name({"train.lr": 0.01, "model.activation": "tanh"}) == "lr=0.01,act=tanh"
    assert derive_name({"model.conv": [16, 16], "train.nesterov": True}) == "conv=16/16,nesterov=true"
    # the same last component twice: the full dotted keys keep them apart
    assert derive_name({"train.seed": 1, "data.seed": 2}) == "train.seed=1,data.seed=2"
    assert derive_name({"model.layers.2.filters": 16, "model.layers.0.activation": "tanh"}) == (
        "layers[2].filters=16,layers[0].act=tanh")


def test_keys_follow_the_resolved_config(tmp_path: Path) -> None:
    a = load_experiment(write(tmp_path, TINY, "a.toml")).cells()[0]
    # the same run written differently (explicit default) is the same cell
    b = load_experiment(write(tmp_path, TINY.replace("batch_size = 60", "batch_size = 60\noptimizer = \"adam\""),
                              "b.toml")).cells()[0]
    c = load_experiment(write(tmp_path, TINY.replace("batch_size = 60", "batch_size = 30"), "c.toml")).cells()[0]
    assert a.key == b.key != c.key


# ------------------------------------------------------------------------------- validation
@pytest.mark.parametrize("second", ["small\u200d", "cafe\u0301"])
def test_two_variants_whose_names_look_alike_are_refused(tmp_path: Path, second: str) -> None:
    """helper-186: with joiners allowed in names, "small" and "small" + a zero-width joiner were two
    variants whose rows and figures looked the same; so were "café" composed and decomposed."""
    first = unicodedata.normalize("NFC", second.replace("\u200d", ""))
    p = write(tmp_path, TINY + f'[[variants]]\nname = "{first}"\n[[variants]]\nname = "{second}"\n')
    with pytest.raises(SpecError, match="look alike .* give them names that differ to the eye") as err:
        load_experiment(p)
    assert err.value.line == 13 and "\n" not in str(err.value)  # the second's name


def test_a_file_without_a_name_whose_file_name_cannot_be_one_says_so(tmp_path: Path) -> None:
    """helper-184: Größe.toml (no name = ...) said "name: must be ASCII letters ... (got string
    "Größe")", of a name the user never wrote."""
    p = write(tmp_path, TINY.replace('name = "tiny"\n', ""), "Größe.toml")
    with pytest.raises(SpecError, match=r'Größe.toml: the file sets no name, and its file name \(string "Größe"\) '
                                        r'cannot be one: a name is ASCII letters.*; add name = "..." at its top'):
        load_experiment(p)


def test_variant_names_may_hold_the_joiners_and_marks_of_their_script(tmp_path: Path) -> None:
    """helper-184: a Persian name (its zero-width non-joiner is spelling), an emoji family (zero-width
    joiners) and a Hebrew name with a right-to-left mark were refused as "a control character"."""
    names = ["می\u200cخواهم", "family 👨\u200d👩\u200d👧", "שלום\u200f 2"]
    p = write(tmp_path, TINY + "".join(f'[[variants]]\nname = "{n}"\n' for n in names))
    assert [v.name for v in load_experiment(p).variants] == names


@pytest.mark.parametrize("extra, match", [
    ("repeat = 2\n", 'unknown key "repeat" (did you mean "repeats"?)'),
    ('[[variants]]\n"train.lrr" = 0.1\n', 'no key "lrr" (did you mean "lr"?)'),
    ('[[variants]]\n"trian.lr" = 0.1\n', 'unknown key "trian.lr" (did you mean "train"?)'),
    ('[[variants]]\ncomittee = 5\n', 'unknown key "comittee" (did you mean "committee"?)'),
    ('[[variants]]\n"train.lr" = "fast"\n', "train.lr"),
    ('[[variants]]\n"train.epochs" = 0\n', "train.epochs"),
    ('[[variants]]\n"train.optimizer" = "adamm"\n', "adam"),
    ("repeats = \"3\"\n", "repeats: must be a whole number"),
    ("committee = 0\n", "committee: must be between 1"),
    ('[[variants]]\nname = "c"\ncommittee = ["a", "b"]\n',  # helper-114
     'committee: must be a whole number, got array ["a", "b"]; a committee of other variants is a [[committees]] '
     'table: name = "...", variants = [...]'),
    ("repeats = 1000000000\n", "repeats: must be between 1 and 1000"),
    ("variants = 3\n", "variants: must be a list of tables"),
    ("[grid]\n\"train.lr\" = 0.1\n", "must be a non-empty list"),
    ("[grid]\n\"train.lr\" = []\n", "must be a non-empty list"),
    ("[grid]\n\"train.lx\" = [0.1]\n", 'no key "lx"'),
    ('[[variants]]\nname = "a"\n[[variants]]\nname = "a"\n', 'two variants are named "a"'),
    # helper-143: grid values that print alike; said at the grid's key (its line)
    ('[grid]\n"train.lr" = [0.001, 0.0010]\n', ':11: two variants are named "lr=0.001" (a grid gives one value twice'),
    ('[grid]\n"train.lr" = [0.001, 0.0010]\n"train.batch_size" = [16]\n', ':11: two variants are named'),  # the lr's line
    ('[[variants]]\nname = 5\n', "variants[0]: name: must be a non-empty string"),  # no name: its place
    ('name = "bad name!"\n', "name: must be ASCII letters"),
    ('[[variants]]\nname = "a\\u0007b"\n', r'variant "a\x07b": name: has a control or formatting character (got "a\x07b"'),
    # a right-to-left override reorders what a line shows (Trojan Source): still refused, escaped
    ('[[variants]]\nname = "a\\u202eb"\n', r'variant "a\u202eb": name: has a control or formatting character'),
])
def test_validation_errors_name_file_and_key(tmp_path: Path, extra: str, match: str) -> None:
    text = extra + TINY if not extra.startswith(("[[", "[grid")) else TINY + extra
    p = write(tmp_path, text)
    with pytest.raises(SpecError) as err:
        load_experiment(p)
    msg = str(err.value)
    assert match in msg and str(p) in msg and "\n" not in msg


@pytest.mark.parametrize("extra, path", [
    ("repeat = 2\n", ("repeat",)),
    ('[[variants]]\nname = "a"\n[[variants]]\nname = "a"\n', ("variants", 1, "name")),
    ('[[variants]]\nname = "a"\n[[variants]]\n"train.lrr" = 0.1\n', ("variants", 1, "train", "lrr")),
    ('[[variants]]\n"trian.lr" = 0.1\n', ("variants", 0, "trian", "lr")),
    ('[[variants]]\n"train.epochs" = 0\n', ("variants", 0, "train", "epochs")),
    ('[[variants]]\n[variants.grid]\n"train.epochs" = [1, 0]\n', ("variants", 0, "grid", "train", "epochs")),
    ('[[variants]]\n"train.lr" = 0.1\n[grid]\n"train.epochs" = [0]\n', ("grid", "train", "epochs")),
    ('[[variants]]\n"data.validation" = 0.5\n[variants.grid]\n"data" = [{validation = 2.0}]\n',
     ("variants", 0, "data", "validation")),  # its grid's data tables would replace it: refused where it is set
    ('[[variants]]\n"train.lr" = 0.5\n[variants.grid]\n"data" = [{validation = 2.0}]\n',
     ("variants", 0, "grid", "data", "validation")),  # the grid's value reaches the key: the grid set it
    ('[[variants]]\nrepeats = 0\n', ("variants", 0, "repeats")),
    ("[grid]\n\"train.lr\" = []\n", ("grid", "train", "lr")),
    ("[base.augment]\nzoom_range = 3\n", ("base", "augment", "zoom_range")),
    ('[[base.callbacks]]\ntype = "EarlyStopping"\n[[variants]]\n"train.epochs" = 2\n',
     ("variants", 0, "callbacks", 0, "monitor")),  # the base's callback fails only in the variant
    ('[[base.callbacks]]\ntype = "EarlyStopping"\nmonitor = "val_acc"\n[[variants]]\n"data.validation" = 0.1\n',
     ("base", "callbacks", 0, "monitor")),  # a name no run logs fails in the base, whatever the variants add
    ('[[variants]]\n"callbacks" = [{type = "EarlyStopping", monitor = "acc"}]\n',
     ("variants", 0, "callbacks", 0, "monitor")),
])
def test_errors_carry_the_key_path_in_the_file(tmp_path: Path, extra: str, path: tuple) -> None:
    text = extra + TINY if not extra.startswith(("[[", "[grid", "[base")) else TINY + extra
    p = write(tmp_path, text)
    with pytest.raises(SpecError) as err:
        load_experiment(p)
    assert (err.value.path, err.value.source) == (path, str(p))


def test_a_keras_2_monitor_name_fails_at_its_line_before_any_training(tmp_path: Path) -> None:
    # issue 14: "val_acc" was found only after an epoch of training, in every cell
    p = write(tmp_path, TINY + '[[base.callbacks]]\ntype = "EarlyStopping"\nrestore_best_weights = true\n'
                              'monitor = "val_acc"\n[[variants]]\n"data.validation" = 0.1\n')
    with pytest.raises(SpecError) as err:
        load_experiment(p)
    assert str(err.value).startswith(f'{p}:13: [base]: callbacks[0].monitor: "val_acc" is not a value a run logs '
                                     '(did you mean "val_accuracy"?)')
    assert err.value.line == 13  # TINY starts with an empty line


def test_a_cell_key_is_the_run_key(tmp_path: Path) -> None:
    from mnistlab.config import run_key

    cell = load_experiment(write(tmp_path, TINY)).cells()[0]
    assert cell.key == cell_key(cell.config) == run_key(cell.config)


def test_override_of_a_key_the_base_lacks(tmp_path: Path) -> None:
    text = TINY.replace("model = { dense = [8] }", 'model = "seed004-dense"') + '[[variants]]\n"model.conv" = [16]\n'
    with pytest.raises(SpecError, match='has no key "conv": change a layer\'s key, as "model.layers\\[0\\].units", '
                                         'or replace the model whole'):
        load_experiment(write(tmp_path, text))
    # (unquoted `model.conv = [16]` is TOML for `model = { conv = [16] }`: a whole new model, legal)
    replaced = load_experiment(write(tmp_path, text.replace('"model.conv"', "model.conv")))
    assert replaced.variants[0].config["model"] == {"conv": [16]}
    with pytest.raises(SpecError, match='"data.sbset": the base has no key "sbset" \\(did you mean "subset"\\?\\)'):
        load_experiment(write(tmp_path, TINY + '[[variants]]\n"data.sbset" = 5\n'))
    with pytest.raises(SpecError, match='no key "conv_layers"'):
        load_experiment(write(tmp_path, TINY + "[[variants]]\nmodel.conv_layers = [16]\n"))


PRESET = TINY.replace("model = { dense = [8] }", 'model = "seed000-cnn"')


def test_a_key_of_one_layer_changes_that_layer_of_a_preset(tmp_path: Path) -> None:
    exp = load_experiment(write(tmp_path, PRESET + """
[[variants]]
name = "plain"
[[variants]]
name = "f16"
"model.layers[0].filters" = 16
[[variants]]
name = "tanh"
"model.layers[-2].activation" = "tanh"
[[variants]]
name = "drop"
"model.layers.5" = { type = "Dropout", rate = 0.5 }
[[variants]]
name = "merged"
"model.layers[2]" = { filters = 8, kernel_size = 5 }
[[variants]]
[variants.grid]
"model.layers[0].activation" = ["relu", "tanh"]
"""))
    by = {v.name: v.config["model"] for v in exp.variants}
    assert by["plain"] == "seed000-cnn"  # untouched: the preset by name, so its run key is the one it always had
    layers = {name: model["layers"] for name, model in by.items() if name != "plain"}
    assert by["f16"]["name"] == "seed000-cnn" and layers["f16"][0]["filters"] == 16 and layers["f16"][2]["filters"] == 64
    assert layers["tanh"][5]["activation"] == "tanh" and layers["tanh"][6]["activation"] == "softmax"
    assert layers["drop"][5] == {"type": "Dropout", "rate": 0.5} and len(layers["drop"]) == 7  # replaced whole
    assert (layers["merged"][2]["filters"], layers["merged"][2]["kernel_size"], layers["merged"][2]["activation"]) == (
        8, 5, "relu")  # a table without `type` changes the keys it names
    assert list(by)[-2:] == ["layers[0].act=relu", "layers[0].act=tanh"]
    assert exp.variants[1].overrides == {"model.layers.0.filters": 16}
    keys = {c.variant: c.key for c in exp.cells()}
    assert keys["layers[0].act=relu"] == keys["plain"]  # the same model written out: the same run
    assert len(set(keys.values())) == len(keys) - 1


def test_a_layer_key_of_a_short_form_model_writes_it_out_as_layers(tmp_path: Path) -> None:
    exp = load_experiment(write(tmp_path, TINY + """
[[variants]]
"model.layers[1].units" = 4
[[variants]]
"model.dense[0]" = 16
"""))
    first, second = (v.config["model"] for v in exp.variants)
    assert first["layers"][1] == {**first["layers"][1], "type": "Dense", "units": 4}
    assert second == {"dense": [16]}  # a position in the short form's own list
    assert [v.name for v in exp.variants] == ["layers[1].units=4", "dense[0]=16"]


@pytest.mark.parametrize("variant, message, offset", [
    ('"model.layers[7].filters" = 16', '"model.layers[7].filters": model.layers is a list of 7 in the base (positions '
     "0 to 6, or -1 for the last); 7 is past its end", 2),
    ('"model.layers.first.filters" = 16', 'model.layers is a list of 7 in the base (positions 0 to 6, or -1 for the '
     'last); "first" is no position: write model.layers[0]', 2),
    ('"model.layers[x].filters" = 16', '"x" is no position', 2),
    ('"model.layer[0].filters" = 16', 'which has no key "layer" (did you mean "layers"?)', 2),
    ('model = "seed000-ex1"\n"model.filters" = 16', 'sets model whole and "model.filters" inside it: the key would '
     "change what the variant replaces", 3),
    ('model.layers[0].filters = 16', 'invalid TOML: Expected \'=\' after a key in a key/value pair (at line 11, column '
     '13) (a key with a position is quoted: "model.layers[0].filters" = ...)', None),
    ('"model.layers[0].filterz" = 16', 'the base has no key "filterz" (did you mean "filters"?)', 2),
    ('"model.layers[0].filters[0]" = 16', "model.layers[0].filters is integer 64 in the base, not a table", 2),
    ('"train.schedule.type" = "cosine"', 'train.schedule is not set in the base: set it whole instead '
     '("train.schedule" = { ... })', 2),
    ('"train.schedule" = { type = "cosine" }\n"train.schedule.alpha" = 0.1', 'sets train.schedule whole '
     '(train.schedule = { ... }) and "train.schedule.alpha" beside it: write alpha inside that table (train.schedule = '
     '{ type = ..., alpha = ... })', 3),  # (note 53: "not set in the base: set it whole instead", as it was)
    ('model = "seed000-ex1"\n"model.layers[0].filters" = 16',
     'sets model whole and "model.layers[0].filters" inside it', 3),
    ('"model.layers[0].filters" = -2', "layers[0] (Conv2D): filters must be at least 1, got -2", 2),
])
def test_a_bad_layer_key_is_one_line_naming_it(variant: str, message: str, offset: int | None, tmp_path: Path) -> None:
    with pytest.raises(SpecError) as exc:
        load_experiment(write(tmp_path, PRESET + "[[variants]]\n" + variant + "\n"))
    assert message in str(exc.value) and "\n" not in str(exc.value)
    if offset is not None:  # the key's line (a value the layer refuses too: the key that set it, not the table)
        assert exc.value.line == PRESET.count("\n") + offset


@pytest.mark.parametrize("text, message", [
    ('[[variants]]\n"model.layers[0].filters" = 16\n"model.layers[-7].filters" = 8\n',
     '"model.layers[0].filters" is set twice (once by position from the end?)'),
    ('[grid]\n"model.layers[0].filters" = [8]\n"model.layers[-7].filters" = [16]\n',
     '"model.layers[0].filters" is an axis twice'),
    ('[[variants]]\n"model.layers.\u00b2.filters" = 8\n', "model.layers is a list of 7 in the base"),  # a superscript 2
    ('[[variants]]\n"model.layers[0]" = {}\n', "model.layers[0] = {} changes nothing"),
    ('[[variants]]\n"model.layers[0].filters" = 8\n[variants.grid]\n"model.layers[0].filters" = [4]\n',
     '"model.layers[0].filters" is set by it and by its grid'),
    ('[[variants]]\n"model.layers[2:4]" = []\n"model.layers[5].units" = 8\n',
     '"model.layers[2:4]" and "model.layers[5].units" both change model.layers: a slice moves the items after it'),
    ('[grid]\n"model.layers[0].filters" = [8, 16]\n[[variants]]\n"model.layers[2:4]" = []\n',
     "a slice moves the items after it, so a position beside it is ambiguous"),
    ('[[variants]]\n"model.layers[2:4]" = 3\n', "model.layers[2:4] takes a list (of layers: [] removes them), got integer 3"),
    ('[[variants]]\n"model.layers[2:4].units" = 3\n', "a slice ([2:4]) ends the key: it replaces those items whole"),
    ('[[variants]]\n"model.layers[0:7]" = []\n', "model: a model needs at least one layer"),  # none left
    ('[[variants]]\n"model.layers[9:10]" = []\n', '"model.layers[9:10]": model.layers[9:10] reaches past a list of '
     "7 (bounds 0 to 7, or negative from the end)"),
    ('[[variants]]\n"model.layers[2:2]" = []\n', "model.layers[2:2] = [] changes nothing: the slice is empty"),
    ('[[variants]]\n"model.layers[4:2]" = [{ type = "Dropout", rate = 0.1 }]\n', "model.layers[4:2] stops before it "
     "starts"),
    ('[[variants]]\n"model.layers[-:2]" = []\n', '"-:2" is no position: write model.layers[0] (a slice is start:stop, '
     "without a step)"),
    ('[grid]\n"model.layers[5:5]" = [{ type = "Dropout", rate = 0.5 }]\n', "grid: each value of model.layers[5:5]: "
     "model.layers[5:5] takes a list (of layers: [] removes them), got table"),
])
def test_a_layer_key_set_twice_or_to_nothing_or_a_bad_slice_is_refused(text: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(SpecError) as exc:
        load_experiment(write(tmp_path, PRESET + text))
    assert message in str(exc.value) and "\n" not in str(exc.value)


def test_set_at_creates_tables_never_replaces_a_value_and_says_why_it_cannot_set() -> None:
    """The one walk behind a variant's keys and --set: positions made plain, slices replaced."""
    tree = {"train": {"lr": 0.01}, "augment": False, "model": {"layers": [{"units": 1}, {"units": 2}]}}
    assert set_at(tree, ("train", "schedule", "type"), "cosine") == ("train", "schedule", "type")  # created
    assert set_at(tree, ("augment", "rotation_range"), 10) == ("augment", "rotation_range")  # false: none yet
    assert set_at(tree, ("model", "layers", "-1", "units"), 3) == ("model", "layers", "1", "units")
    assert set_at(tree, ("callbacks", "0:0"), [{"type": "EarlyStopping"}]) == ("callbacks", "0:0")  # a list: created
    assert set_at(tree, ("model", "layers", ":1"), []) == ("model", "layers", "0:1")
    assert tree == {"train": {"lr": 0.01, "schedule": {"type": "cosine"}}, "augment": {"rotation_range": 10},
                    "model": {"layers": [{"units": 3}]}, "callbacks": [{"type": "EarlyStopping"}]}
    for parts, value, why in [
            (("train", "lr", "x"), 1, "train.lr is not a table"),  # a value is never replaced by a table
            (("model", "layers", "1", "units"), 1, "model.layers is a list of 1: give a position 0 to 0 (-1: the last)"),
            (("model", "layers", "x"), 1, "model.layers is a list of 1: give a position"),
            (("callbacks", "1", "x"), 1, "callbacks is a list of 1"),
            (("e", "0", "x"), 1, "e is empty: it has no position 0 (e[0:0] puts items in)"),
            (("model", "layers", "0:1"), 3, "a slice takes a list (of layers: [] removes them), got integer 3"),
            (("model", "layers", "0:1"), "ab", "a slice takes a list"),  # a string would be spliced letter by letter
            (("model", "layers", "2:3"), [], "model.layers[2:3] reaches past a list of 1"),
            (("model", "layers", "1:0"), [], "model.layers[1:0] stops before it starts")]:
        before = repr(tree)
        with pytest.raises(ValueError, match=re.escape(why)):
            set_at(tree, parts, value)
        assert repr(tree) == before or parts[0] == "e"  # refused before anything is set (e: created on the way)


def test_a_slice_of_the_layers_removes_or_puts_in_layers(tmp_path: Path) -> None:
    """"Remove a convolution" (and its pooling) from a preset, or put a Dropout in, as Python slices a list."""
    exp = load_experiment(write(tmp_path, PRESET + """
[[variants]]
"model.layers[2:4]" = []
[[variants]]
"model.layers[5:5]" = [{ type = "Dropout", rate = 0.5 }]
[[variants]]
"model.layers[-3:]" = [{ type = "Flatten" }, { type = "Dense", units = 10, activation = "softmax" }]
"""))
    types = {v.name: [layer["type"] for layer in v.config["model"]["layers"]] for v in exp.variants}
    assert types == {"layers[2:4]=none": ["Conv2D", "MaxPooling2D", "Flatten", "Dense", "Dense"],
                     "layers[5:5]=Dropout(0.5)": ["Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "Dropout",
                                             "Dense", "Dense"],
                     "layers[4:7]=Flatten/Dense(10,softmax)": ["Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten",
                                                   "Dense"]}
    assert exp.variants[0].overrides == {"model.layers.2:4": []}
    grid = load_experiment(write(tmp_path, PRESET + '[grid]\n"model.layers[5:5]" = [[{ type = "Dropout", rate = 0.5 }], '
                                 '[{ type = "Dropout", rate = 0.2 }]]\n'))
    assert [v.name for v in grid.variants] == ["layers[5:5]=Dropout(0.5)", "layers[5:5]=Dropout(0.2)"]
    callbacks = load_experiment(write(tmp_path, TINY.replace("subset = 120", "subset = 120\nvalidation = 0.2")
                                      + '[[variants]]\n"callbacks[0:0]" = [{ type = "EarlyStopping" }]\n'))
    assert [c["type"] for c in callbacks.variants[0].config["callbacks"]] == ["EarlyStopping"]  # none in the base


def test_a_derived_name_keeps_the_layer_of_a_nested_key(tmp_path: Path) -> None:
    exp = load_experiment(write(tmp_path, PRESET + '[grid]\n"model.layers[0].kernel_size[0]" = [5]\n'
                                '"model.layers[2].kernel_size[0]" = [5]\n'))
    assert [v.name for v in exp.variants] == ["layers[0].kernel_size[0]=5,layers[2].kernel_size[0]=5"]


def test_a_whole_model_beside_a_key_inside_it_is_refused_not_merged(tmp_path: Path) -> None:
    # it used to train {"filters": 16}: the builder with its defaults, not the preset the variant names
    text = TINY.replace("model = { dense = [8] }", "model = { filters = 32, additional_convolutions = 1 }")
    with pytest.raises(SpecError, match='sets model whole and "model.filters" inside it'):
        load_experiment(write(tmp_path, text + '[[variants]]\nmodel = "seed000-cnn"\n"model.filters" = 16\n'))


def test_missing_base_and_bad_base(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"\[base\] is missing"):
        load_experiment(write(tmp_path, 'name = "x"\n'))
    with pytest.raises(SpecError, match=r"\[base\]: dataset"):
        load_experiment(write(tmp_path, TINY.replace('"mnist"', '"mnsit"')))


@pytest.mark.parametrize("content", [
    bytes(range(256)) * 4,                       # binary garbage
    TINY.encode()[: len(TINY) // 2],              # truncated mid-table
    b'[base]\ndataset = "mnist"\nmodel = { dense = [8',
    b"a = " + b"[" * 5000,                        # nesting bomb
    b"\x00" * 64,
    "[base]\ndataset = \"mnist\"\nmodel = \"seed004-dense\"\n[[variants]]\nname = \"\u202e\"\n\"x\u0000\" = 1\n".encode(),
])
def test_hostile_files(tmp_path: Path, content: bytes) -> None:
    p = tmp_path / "h.toml"
    p.write_bytes(content)
    with pytest.raises(SpecError) as err:
        load_experiment(p)
    assert "\n" not in str(err.value)


def test_hostile_paths_and_sizes(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"missing.toml: no such file$"):
        load_experiment(tmp_path / "missing.toml")
    with pytest.raises(SpecError, match="is a folder, not a file$"):  # no hint about TOML for a folder
        load_experiment(tmp_path)
    big = tmp_path / "big.toml"
    big.write_text("# " + "x" * (2 << 20))
    with pytest.raises(SpecError, match="too large"):
        load_experiment(big)
    grid = "repeats = 1000\n" + TINY + f'[grid]\n"train.epochs" = {list(range(1, 30))}\n'
    with pytest.raises(SpecError, match="runs requested"):
        load_experiment(write(tmp_path, grid))
    bomb = TINY + "[grid]\n" + "".join(f'"model.{k}" = {list(range(1, 11))}\n' for k in ("conv", "dense", "pool"))
    bomb += "".join(f'"train.{k}" = {list(range(1, 11))}\n' for k in ("epochs", "batch_size", "seed", "threads"))
    with pytest.raises(SpecError, match=r"10,000,000 runs requested \(10 x 10 x 10 x 10 x 10 x 10 x 10 grid values, x 1 "
                                        r"run each\)") as err:  # refused before expanding 10^7 combos
        load_experiment(write(tmp_path, bomb))
    assert err.value.line == bomb.splitlines().index("[grid]") + 1  # at the grid that makes them (helper-234: [base])

def test_model_spec_files_are_relative_to_the_experiment_file(tmp_path: Path, monkeypatch) -> None:
    folder = tmp_path / "study"
    folder.mkdir()
    (folder / "tiny.json").write_text('{"layers": [{"type": "Flatten"}, {"type": "Dense", "units": 10}]}')
    (folder / "wide.toml").write_text('[[layers]]\ntype = "Flatten"\n[[layers]]\ntype = "Dense"\nunits = 32\n'
                                      '[[layers]]\ntype = "Dense"\nunits = 10\n')
    exp = folder / "exp.toml"
    exp.write_text('[base]\ndataset = "mnist"\nmodel = "tiny.json"\n\n[[variants]]\nname = "tiny"\n\n'
                   '[[variants]]\nname = "wide"\nmodel = "wide.toml"\n')
    monkeypatch.chdir(tmp_path)  # not the experiment's folder: the names must still resolve beside it
    cells = {c.variant: c for c in load_experiment(exp).cells()}
    assert [layer["type"] for layer in cells["tiny"].config["model"]["layers"]] == ["Flatten", "Dense"]
    assert [layer.get("units") for layer in cells["wide"].config["model"]["layers"]] == [None, 32, 10]
    exp.write_text('[base]\ndataset = "mnist"\nmodel = "missing.toml"\n')
    with pytest.raises(SpecError, match="missing.toml"):
        load_experiment(exp)


def test_a_model_file_found_only_from_the_current_folder_is_warned_of_and_else_said_where_it_was_looked_for(
        tmp_path: Path, monkeypatch) -> None:
    # helper-259: `model = "k/good.json"` in k/exp.toml was read from the current folder unsaid, so the
    # file passed from one folder and failed from another, naming no path it looked at
    from mnistlab.errors import SpecWarning

    folder = tmp_path / "k"
    folder.mkdir()
    (folder / "good.json").write_text('{"layers": [{"type": "Flatten"}, {"type": "Dense", "units": 10}]}')
    exp = folder / "exp.toml"
    exp.write_text('[base]\ndataset = "mnist"\nmodel = "k/good.json"\n')
    monkeypatch.chdir(tmp_path)
    with pytest.warns(SpecWarning, match=r"model = 'k/good.json' is read from the current folder.*write 'good.json'"):
        assert [c.config["model"]["layers"][1]["units"] for c in load_experiment(exp).cells()] == [10]
    monkeypatch.chdir(folder)
    with pytest.raises(SpecError, match=r"k/k/good.json: no such file"):
        load_experiment(exp)
    exp.write_text('[base]\ndataset = "mnist"\nmodel = "good.json"\n')  # as the warning says: from anywhere
    with warnings.catch_warnings():
        warnings.simplefilter("error", SpecWarning)
        for here in (folder, tmp_path):
            monkeypatch.chdir(here)
            assert load_experiment(exp).cells()


def test_variants_may_supply_the_validation_a_base_callback_needs(tmp_path: Path) -> None:
    base = TINY + '[[base.callbacks]]\ntype = "EarlyStopping"\n'
    exp = load_experiment(write(tmp_path, base + '[[variants]]\n"data.validation" = 0.1\n'
                                                 '[[variants]]\n"data.validation" = "test"\n'))
    assert [c.config["data"]["validation"] for c in exp.cells()] == [0.1, "test"]
    with pytest.raises(SpecError, match='"val_loss" needs validation data'):  # one variant without it: refused
        load_experiment(write(tmp_path, base + '[[variants]]\n"data.validation" = 0.1\n[[variants]]\nname = "none"\n'))


def test_an_optimizer_grid_over_a_base_with_momentum_loads_with_a_warning(tmp_path: Path) -> None:
    from mnistlab.errors import SpecWarning

    text = TINY + 'momentum = 0.9\n[grid]\n"train.optimizer" = ["sgd", "adam"]\n'
    with pytest.warns(SpecWarning, match="adam ignores it"):
        exp = load_experiment(write(tmp_path, text))
    assert len(exp.variants) == 2


def test_a_warning_the_grid_cells_give_alike_is_said_once(tmp_path: Path) -> None:
    """A [base] min_lr that never acts was said again by each of the grid's cells (helper-169: 13 lines
    for 6 cells): one line per distinct text, at its first run, with how many more gave it."""
    import warnings

    from mnistlab.errors import SpecWarning

    text = (TINY + 'lr = 0.001\n[[base.callbacks]]\ntype = "ReduceLROnPlateau"\nmonitor = "loss"\nmin_lr = 0.01\n'
            '[grid]\n"train.batch_size" = [32, 64, 128]\n"train.lr" = [0.001, 0.0005]\n')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exp = load_experiment(write(tmp_path, text))
    said = [str(w.message) for w in caught if issubclass(w.category, SpecWarning)]
    assert len(exp.variants) == 6 and len(said) == 2, said
    with warnings.catch_warnings(record=True) as caught:  # helper-174: the cells said each again (8 lines in `run`)
        warnings.simplefilter("always")
        assert len(exp.cells()) == 6
    assert not [w for w in caught if issubclass(w.category, SpecWarning)]
    assert re.search(r": \[base\]: callbacks\[0\]: .*min_lr = 0.01 .* learning rate 0.001: .* never acts "
                     r"\(the same for 3 more of the file's variants\)$", said[0]), said
    assert 'as "batch=32,lr=0.0005": callbacks[0]' in said[1] and said[1].endswith("(the same for 2 more of the "
                                                                                 "file's variants)")
    with warnings.catch_warnings(record=True) as caught:  # said where the file is wrong as well
        warnings.simplefilter("always")
        with pytest.raises(SpecError, match="lrr"):
            load_experiment(write(tmp_path, text + '[[variants]]\n"train.lrr" = 1\n'))
    assert sum("never acts" in str(w.message) for w in caught) == 2
    with warnings.catch_warnings(record=True) as caught:  # [base] alone: its one variant is [base] (helper-175:
        warnings.simplefilter("always")  # "the same for 1 more of the file's variants")
        load_experiment(write(tmp_path, text.split("[grid]")[0]))
    [said] = [str(w.message) for w in caught if issubclass(w.category, SpecWarning)]
    assert said.endswith("never acts"), said


def test_an_experiment_key_under_base_says_to_move_it_above(tmp_path) -> None:
    from mnistlab.experiments import load_experiment

    path = tmp_path / "e.toml"
    path.write_text('name = "e"\n[base]\ndataset = "mnist"\nmodel = "seed000-dense"\nrepeats = 2\n'
                    '[[variants]]\nname = "a"\n')
    with pytest.raises(SpecError, match=r"e.toml:5: \[base\]: repeats is an experiment setting, not a run setting: "
                                        r"write it above \[base\]"):
        load_experiment(path)


def test_a_long_variant_name_is_refused_for_its_length_and_not_quoted_whole(tmp_path) -> None:
    from mnistlab.experiments import load_experiment

    path = tmp_path / "e.toml"
    path.write_text(f'[base]\ndataset = "mnist"\nmodel = "seed000-dense"\n[[variants]]\nname = "{"x" * 300}"\n')
    with pytest.raises(SpecError) as info:
        load_experiment(path)
    assert "name: at most 120 characters, got 300" in str(info.value) and "x" * 60 not in str(info.value)


# ------------------------------------------------------------------ committees across variants
TWO = TINY + '[[variants]]\nname = "a"\nrepeats = 2\n[[variants]]\nname = "b"\n"model.dense" = [16]\n'


def test_committees_across_variants_are_parsed_with_the_variants_they_gather(tmp_path: Path) -> None:
    exp = load_experiment(write(tmp_path, TWO + '[[committees]]\nname = "ab"\nvariants = ["a", "b"]\n'
                                '[[committees]]\nname = "a-only"\nvariants = ["a"]\ndescription = "two seeds"\n'))
    assert [(c.name, c.variants, c.description) for c in exp.committees] == [
        ("ab", ("a", "b"), ""), ("a-only", ("a",), "two seeds")]
    assert len(exp.cells()) == 3  # a committee trains nothing of its own
    grid = load_experiment(write(tmp_path, TINY + '[grid]\n"train.lr" = [0.1, 0.01]\n'
                                 '[[committees]]\nname = "both"\nvariants = ["lr=0.1", "lr=0.01"]\n', "g.toml"))
    assert grid.committees[0].variants == ("lr=0.1", "lr=0.01")  # grid variants by their derived names
    with pytest.warns(SpecWarning, match=r'committees\[0\]: variants: "rates" is a grid of 2 variants \(rates,lr=0.1, '
                                         r'rates,lr=0.01\): the committee gathers the runs of all of them'):  # (helper-234:
        entry = load_experiment(write(tmp_path, TWO + '[[variants]]\nname = "rates"\n'  # unsaid, a [grid] added later
                                      'grid = { "train.lr" = [0.1, 0.01] }\n'  # made one variant's committee span both)
                                      '[[committees]]\nname = "all"\nvariants = ["rates", "b"]\n', "e.toml"))
    # helper-143: a [[variants]] entry with a grid of its own stands for its variants, as in `compare --variant`
    assert entry.committees[0].variants == ("rates,lr=0.1", "rates,lr=0.01", "b")
    with pytest.raises(SpecError) as err:  # a mistake after it is said at its own place in the file's list (helper-144)
        load_experiment(write(tmp_path, TWO + '[[variants]]\nname = "rates"\ngrid = { "train.lr" = [0.1, 0.01] }\n'
                              '[[committees]]\nname = "all"\nvariants = ["rates", "b", "b"]\n', "e2.toml"))
    assert err.value.path == ("committees", 0, "variants", 2) and '"b" is listed twice' in str(err.value)


@pytest.mark.parametrize("table, match, path", [
    ('committees = 3\n', "committees: must be a list of tables", ("committees",)),
    ('[[committees]]\nvariants = ["a", "b"]\n', "name is missing", ("committees", 0)),
    ('[[committees]]\nname = "x"\nvariants = ["a", "b"]\n[[committees]]\nname = "y"\nvariants = ["x", "b"]\n',
     '"x" is a committee: a committee gathers variants', ("committees", 1, "variants", 0)),
    ('[[committees]]\nname = "a+b"\nvariants = ["a", "b"]\n', "name: must be ASCII letters",
     ("committees", 0, "name")),
    ('[[committees]]\nname = "a"\nvariants = ["a", "b"]\n', "already a variant's name", ("committees", 0, "name")),
    ('[[committees]]\nname = "x"\nvariants = ["a", "b"]\n[[committees]]\nname = "x"\nvariants = ["a"]\n',
     "already another committee's name", ("committees", 1, "name")),
    ('[[committees]]\nname = "x"\n', "variants: must be a list of variant names", ("committees", 0, "variants")),
    ('[[committees]]\nname = "x"\nvariants = []\n', "variants: must be a list", ("committees", 0, "variants")),
    ('[[committees]]\nname = "x"\nvariants = "a"\n', "variants: must be a list", ("committees", 0, "variants")),
    ('[[committees]]\nname = "x"\nvariants = ["a", 2]\n', "variants: must be a list", ("committees", 0, "variants")),
    ('[[committees]]\nname = "x"\nvariants = ["a", "bx"]\n', 'no variant is named "bx" (did you mean "b"?)',
     ("committees", 0, "variants", 1)),
    ('[[committees]]\nname = "x"\nvariants = ["a", "zzz"]\n', 'no variant is named "zzz"; the variants: a, b',
     ("committees", 0, "variants", 1)),
    ('[[committees]]\nname = "x"\nvariants = ["a", "b", "a"]\n', '"a" is listed twice',
     ("committees", 0, "variants", 2)),
    ('[[committees]]\nname = "x"\nvariants = ["b"]\n', "needs at least 2 runs", ("committees", 0, "variants")),
    ('[[committees]]\nname = "x"\nvariants = ["a", "b"]\nvariant = ["a"]\n',
     'unknown key "variant" (did you mean "variants"?)', ("committees", 0, "variant")),
    ('[[committees]]\nname = "x"\nvariants = ["a", "b"]\ndescription = 5\n', "description: must be a string",
     ("committees", 0, "description")),
    ('[[variants]]\nname = "c"\n"data.subset" = 60\n[[committees]]\nname = "x"\nvariants = ["a", "c"]\n',
     '"a" and "c" are scored on different test sets', ("committees", 0, "variants")),
    ('[[variants]]\nname = "c"\ndataset = "fashion-mnist"\n[[committees]]\nname = "x"\nvariants = ["a", "c"]\n',
     "different test sets", ("committees", 0, "variants")),
])
def test_a_bad_committee_table_is_one_line_at_its_key(tmp_path: Path, table: str, match: str, path: tuple) -> None:
    text = TWO + table if table.startswith("[[") else table + TWO
    p = write(tmp_path, text)
    with pytest.raises(SpecError) as err:
        load_experiment(p)
    msg = str(err.value)
    assert match in msg and str(p) in msg and "\n" not in msg
    assert err.value.path == path


def test_a_search_has_no_committees_to_gather(tmp_path: Path) -> None:
    p = write(tmp_path, TINY.replace("subset = 120\n", "subset = 120\nvalidation = 20\n", 1)
              + '[search]\n"train.lr" = { log_uniform = [1e-4, 0.3] }\n[[committees]]\nname = "x"\nvariants = ["a"]\n')
    with pytest.raises(SpecError, match="a \\[search\\] has no variants to gather") as err:
        load_experiment(p)
    assert err.value.path == ("committees", 0) and err.value.line == 13  # the [[committees]] line


def test_at_most_max_committees_tables(tmp_path: Path) -> None:
    from mnistlab.experiments import MAX_COMMITTEES

    tables = "".join(f'[[committees]]\nname = "c{i}"\nvariants = ["a", "b"]\n' for i in range(MAX_COMMITTEES + 1))
    with pytest.raises(SpecError, match=f"committees: at most {MAX_COMMITTEES}, got {MAX_COMMITTEES + 1}"):
        load_experiment(write(tmp_path, TWO + tables))
    assert len(load_experiment(write(tmp_path, TWO + tables.rsplit("[[committees]]", 1)[0], "ok.toml")).committees) == 100


def test_a_base_without_a_dataset_says_why_it_needs_one(tmp_path: Path) -> None:
    """helper-121: "[base]: dataset: required key is missing" where every variant set its own dataset."""
    p = write(tmp_path, TINY.replace('dataset = "mnist"\n', "") + '[[variants]]\nname = "a"\ndataset = "mnist"\n')
    with pytest.raises(SpecError, match=r"\[base\]: dataset: required key is missing: \[base\] is a whole run config, "
                                        r"so it names a dataset even where every variant sets its own"):
        load_experiment(p)


def test_is_quick_tells_a_smoke_cell_from_a_full_one(tmp_path: Path) -> None:
    exp = load_experiment(write(tmp_path, TINY.replace("subset = 120", "subset = 1000").replace("epochs = 1", "epochs = 3")
                                + '[[variants]]\nname = "a"\n'))
    full, smoke = exp.cells()[0].config, exp.cells(quick=True)[0].config
    assert not is_quick(full) and is_quick(smoke)
    assert is_quick(load_experiment(write(tmp_path, TINY + '[[variants]]\nname = "a"\n', "tiny.toml")).cells()[0].config)


def test_an_unknown_override_key_lists_every_key_of_its_table(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as err:
        load_experiment(write(tmp_path, TINY + '[[variants]]\nname = "a"\n"train.swaa" = 1\n'))
    known = str(err.value).split("known here: ")[1].split(", ")
    assert known == sorted(known) and {"swa", "use_ema", "ema_momentum", "ema_overwrite_frequency", "lr"} <= set(known)


def test_a_file_that_is_no_experiment_file_says_what_it_probably_was(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "recipes").mkdir()
    write(tmp_path / "recipes", TINY + '[[variants]]\nname = "a"\n')  # recipes/exp.toml
    for given, hint in (("exp", "recipes/exp.toml"), ("recipes/exp", "recipes/exp.toml")):  # the name without .toml
        with pytest.raises(SpecError, match=rf"^{given}: no such file \(did you mean {hint}\?\)$"):
            load_experiment(given)
    with pytest.raises(SpecError, match=r"^nothing: no such file \(an experiment file ends in .toml\)$"):
        load_experiment("nothing")
    (tmp_path / "exp.json").write_text('{"name": "x"}')  # another format
    with pytest.raises(SpecError, match=r"^exp.json: invalid TOML: .* \(an experiment file is TOML; a run config in JSON "
                                        r"trains with `mnistlab train --config exp.json`\)$"):
        load_experiment("exp.json")
    for exported in ("cnn.onnx", "cnn.pt", "cnn.safetensors"):  # what `mnistlab export` writes, given to predict
        (tmp_path / exported).write_bytes(b"\x08\x07\x12\x07pytorch\xff\xfe")
        with pytest.raises(SpecError, match=rf"^{exported}: an exported model, not an experiment: `predict`, "  # first
                                            r"`export` and `card` take a run id, an experiment or a .safetensors file "
                                            r"mnistlab wrote; an .onnx file runs in onnxruntime, as its .md file beside "
                                            r"it shows$"):  # (helper-150)
            load_experiment(exported)
    from mnistlab.cli import main

    for file, said in (("cnn.onnx", "cnn.onnx: an exported model, not an experiment"),
                       ("exp.json", "(an experiment file is TOML;")):  # `run` says what load_experiment says
        assert main(["run", file]) == 2  # (helper-175: its check before torch said "not a text file")
        assert said in capsys.readouterr().err


def test_an_inline_models_bad_layer_gives_the_layers_own_line(tmp_path):
    """An inline model's error pointed at its `model =` line, not at the layer written lines below it."""
    p = write(tmp_path, 'name = "g"\n[base]\ndataset = "mnist"\nmodel = { layers = [\n'
                        '  { type = "Conv2D", filters = 8, kernel_size = 3 },\n  { type = "Flatten" },\n'
                        '  { type = "Dense", units = 10, activation = "softmaxx" },\n] }\n')
    with pytest.raises(SpecError, match=r"exp.toml:7: \[base\]: model: layers\[2\] \(Dense\): unknown activation"):
        load_experiment(p)


def test_a_bad_value_of_a_top_level_grid_into_a_layer_gives_the_grids_line(tmp_path):
    """Hostile-input review: an error about the model, caused by a [grid] key into one of its layers,
    had no line at all."""
    p = write(tmp_path, 'name = "g"\n[base]\ndataset = "mnist"\nmodel = "seed000-dense"\n[grid]\n'
                        '"model.layers[-2].kernel_regularizer.l2" = [0.001, -1]\n')
    with pytest.raises(SpecError, match=r"exp.toml:6: \[base\] as \"layers\[1\].kernel_regularizer.l2=-1\": model: "
                                        r"layers\[1\] \(Dense\): kernel_regularizer.l2 must be in \[0, inf\)"):
        load_experiment(p)


@pytest.mark.parametrize("variants, line, says", [
    ('[[variants]]\nname = "a"\n"train.lr" = 0.5\n', 8, '"train.lr" is set by it and by the top-level [grid]'),
    ('[[variants]]\nname = "b"\ngrid = { "train.lr" = [0.1] }\n', 8, '"train.lr" is set by its grid and by the top-level'),
    ('[[variants]]\nname = "c"\n[variants.train]\nlr = 0.5\n', 9, '"train.lr" is set by it and by the top-level [grid]'),
])
def test_a_key_set_by_a_variant_and_a_grid_is_refused_not_silently_replaced(tmp_path, variants, line, says):
    p = tmp_path / "both.toml"
    p.write_text('[base]\nmodel = "seed000-dense"\ndataset = "mnist"\n[grid]\n"train.lr" = [0.01, 0.001]\n' + variants)
    with pytest.raises(SpecError, match=re.escape(says)) as err:
        load_experiment(p)
    assert err.value.line == line, str(err.value)
    p.write_text('[base]\nmodel = "seed000-dense"\ndataset = "mnist"\n[[variants]]\n"train.epochs" = 2\n'
                 'grid = { "train.epochs" = [1, 3] }\n')
    with pytest.raises(SpecError, match='"train.epochs" is set by it and by its grid'):
        load_experiment(p)


def test_a_grid_inside_a_key_a_variant_sets_whole_is_refused_and_an_implicit_variant_is_named_base(tmp_path):
    p = tmp_path / "inside.toml"
    p.write_text('[base]\ndataset = "mnist"\nmodel = { dense = [8] }\n[grid]\n"model.dense" = [[8], [16]]\n'
                 '[[variants]]\nname = "p"\nmodel = "seed000-cnn"\n')
    with pytest.raises(SpecError, match=re.escape('"model" is set by it and "model.dense" by the top-level [grid]')):
        load_experiment(p)  # the grid's tables would replace the preset the variant names, silently
    p.write_text('[base]\nmodel = "seed000-dense"\ndataset = "mnist"\n[grid]\n"train.lr" = [0.1, -1]\n')
    with pytest.raises(SpecError, match=re.escape(f'{p}:5: [base] as "lr=-1": train.lr: must be greater than 0')):
        load_experiment(p)  # no [[variants]]: not named variants[0]


def test_a_variants_model_error_names_the_key_it_kept_from_the_base(tmp_path: Path) -> None:
    """`model = { conv = [8] }` in a variant changes conv and keeps the base's two pool flags (TOML
    reads `model.conv = [8]` as the same table): the error says that pool is the base's, and how to fix it."""
    base = '[base]\ndataset = "mnist"\nmodel = { conv = [16, 16], pool = [true, true], dense = [32] }\n'
    p = write(tmp_path, base + '[[variants]]\nname = "small"\nmodel = { conv = [8], dense = [16] }\n')
    with pytest.raises(SpecError) as exc:
        load_experiment(p)
    assert exc.value.line == 6 and "'pool' has 2 flags but 'conv' has 1 layers" in str(exc.value)
    assert str(exc.value).endswith('("model.pool" is [base]\'s: model keys a variant or a grid sets change those of '
                                   'the base model and leave the others; set "model.pool" where they are set)')
    fixed = load_experiment(write(tmp_path, base + '[[variants]]\nname = "small"\n'
                                  'model = { conv = [8], pool = [true], dense = [16] }\n', "ok.toml"))
    assert [layer["type"] for layer in fixed.cells()[0].config["model"]["layers"]][:3] == ["Conv2D", "MaxPooling2D",
                                                                                            "Flatten"]
    with pytest.raises(SpecError) as exc:  # the variant's own mistake: no word of the base
        load_experiment(write(tmp_path, base + '[[variants]]\nmodel = { conv = [8], pool = [true, false] }\n', "b.toml"))
    assert "'pool' has 2 flags but 'conv' has 1 layers" in str(exc.value) and "[base]'s" not in str(exc.value)


@pytest.mark.parametrize("text, where, path", [
    ('description = ["a", "list"]\n' + TINY, "exp.toml:1: description: must be a string, got", ("description",)),
    (TINY + '[[variants]]\nname = "a"\ndescription = 5\n', 'variant "a"', ("variants", 0, "description")),
    (TINY + '[[variants]]\nname = "a"\n[[variants]]\nname = "b"\ndescription = { a = 1 }\n', 'variant "b"',
     ("variants", 1, "description")),
])
def test_a_description_that_is_no_string_is_one_line_at_its_key(tmp_path: Path, text: str, where: str, path: tuple) -> None:
    p = write(tmp_path, text)
    with pytest.raises(SpecError) as err:
        load_experiment(p)
    msg = str(err.value)
    assert where in msg and "description: must be a string" in msg and "\n" not in msg and err.value.path == path


def test_descriptions_are_kept_for_the_report(tmp_path: Path) -> None:
    exp = load_experiment(write(tmp_path, 'description = "whole"\n' + TINY + '[[variants]]\nname = "a"\n'
                                'description = "one"\n[[variants]]\nname = "b"\ngrid = { "train.lr" = [0.1, 0.2] }\n'
                                'description = "two"\n'))
    assert exp.description == "whole"
    assert [(v.name, v.description) for v in exp.variants] == [("a", "one"), ("b,lr=0.1", "two"), ("b,lr=0.2", "two")]


def test_a_variant_without_the_bases_augmentation_says_augment_false(tmp_path: Path) -> None:
    """The Keras ablation "no augmentation": `augment = false` in a variant; `augment = {}` (merged
    into the base's table, it changes nothing) is a mistake said before anything trains."""
    from mnistlab.config import build_run_config

    text = TINY + '[base.augment]\nrotation_range = 10.0\n[[variants]]\nname = "aug"\n[[variants]]\nname = "none"\n'
    exp = load_experiment(write(tmp_path, text + "augment = false\n"))
    aug, none = ({c.variant: c for c in exp.cells()}[v] for v in ("aug", "none"))
    assert aug.config["augment"]["rotation_range"] == 10.0 and none.config["augment"] is None
    plain = load_experiment(write(tmp_path, TINY, "plain.toml")).cells()[0]
    assert none.key == plain.key != aug.key  # the same cell as a base that never had augmentation
    assert build_run_config(None, ["augment=false"], {}).augment is None
    assert load_experiment(write(tmp_path, text + "train = {}\n")).cells()  # other empty tables: harmless, as always
    for written, says in (("augment = {}", "augment = {} changes nothing: a table merges into the base's (augment = "
                                           "false trains without augmentation)"),
                          ('augment = false\n"augment.zoom_range" = 0.1', "augment = false and augment.zoom_range "
                                                                          "contradict each other: give one of them"),
                          ("augment = [1]", "augment: must be a table of settings ([augment]) or false for no "
                                            "augmentation, got array [1]")):
        with pytest.raises(SpecError) as err:
            load_experiment(write(tmp_path, text + written + "\n"))
        assert says in str(err.value) and "\n" not in str(err.value) and ":16:" in str(err.value)


def test_a_grid_of_a_shifts_int_and_float_forms_names_them_apart(tmp_path: Path) -> None:
    """Keras reads width_shift_range = 2 (whole pixels -1 .. 1) and 2.0 (uniform in [-2, 2]) differently."""
    exp = load_experiment(write(tmp_path, TINY + '[grid]\n"augment.width_shift_range" = [2, 2.0, 0.1]\n'))
    assert [v.name for v in exp.variants] == ["width_shift_range=2", "width_shift_range=2.0", "width_shift_range=0.1"]


def test_a_file_saved_with_a_byte_order_mark_reads_and_utf_16_says_so(tmp_path: Path) -> None:
    """Windows Notepad's UTF-8 starts with a byte-order mark: read past it (it used to be 'invalid
    TOML: Invalid statement (at line 1, column 1)' on a line that looks right)."""
    text = 'name = "bom"\n' + TINY + '[[variants]]\nname = "a"\n'
    (tmp_path / "bom.toml").write_bytes(b"\xef\xbb\xbf" + text.encode())
    assert [c.variant for c in load_experiment(tmp_path / "bom.toml").cells()] == ["a"]
    (tmp_path / "wide.toml").write_bytes(text.encode("utf-16"))
    with pytest.raises(SpecError, match=r"wide.toml: a UTF-16 text file: save it as UTF-8$"):
        load_experiment(tmp_path / "wide.toml")


@pytest.mark.parametrize("text, fragment", [
    ('[base]\ndataset = "mnist"\nmodel = { dense = [8] }\n[base.train]\nvalidation_split = 0.1\n[[variants]]\nname = "a"\n',
     'train: unknown key "validation_split" (Keras\'s validation_split is data.validation here'),
    (TINY + '[[variants]]\nname = "a"\n"train.loss" = "categorical_crossentropy"\n',
     '"train.loss": the base has no key "loss" (the loss is always Keras\'s sparse_categorical_crossentropy'),
    ('[base]\ndataset = "mnist"\nmodel = { layers = [{ type = "Flatten", input_shape = [28, 28, 1] }, '
     '{ type = "Dense", units = 10 }] }\n[[variants]]\nname = "a"\n',
     "unknown key 'input_shape' (the input's shape is the model's: input_shape = [28, 28, 1] at its top level"),
    (TINY + '[[variants]]\nname = "a"\n"train.sample_weight" = [2.0]\n',
     '"train.sample_weight": the base has no key "sample_weight" (every image counts once in the loss: mnistlab has no '
     'per-image weights'),
    ('[base]\ndataset = "mnist"\nmodel = { dense = [8] }\n[base.train]\nsteps_per_epoch = 10\n[[variants]]\nname = "a"\n',
     'train: unknown key "steps_per_epoch" (an epoch is one pass over the training images: data.subset'),
    # new-user finding (helper-102): a variant's own Keras word got the known keys only
    (TINY + '[[variants]]\nname = "a"\nvalidation_split = 0.1\n',
     'variant "a": unknown key "validation_split" (Keras\'s validation_split is data.validation here'),
    # ... and verbose pointed at a --progress that `run` has not
    (TINY + '[[variants]]\nname = "a"\n"train.verbose" = 0\n',
     '(progress is `mnistlab train --progress lines|bar|none`; `mnistlab run` shows each cell as it ends'),
])
def test_keras_words_for_what_mnistlab_keeps_elsewhere_say_where(tmp_path: Path, text: str, fragment: str) -> None:
    with pytest.raises(SpecError) as exc:
        load_experiment(write(tmp_path, text)).cells()
    assert fragment in str(exc.value) and "\n" not in str(exc.value), str(exc.value)


@pytest.mark.parametrize("text", ["", "\n\n# only a comment\n"])
def test_an_empty_experiment_file_says_so(tmp_path: Path, text: str) -> None:
    with pytest.raises(SpecError, match=r"exp.toml: the file holds no settings \(empty, or comments only\): an "
                                        r"experiment is a \[base\] run config"):
        load_experiment(write(tmp_path, text))


def test_a_variant_named_as_a_grid_cell_is_refused_at_its_name(tmp_path: Path) -> None:
    """helper-161: a variant named "rates,lr=0.1" beside the grid "rates" (cells "rates,lr=...") was
    taken among the grid's cells by `--variant rates`; named as one of them exactly, it was said
    to be "a grid gives one value twice"."""
    text = ('name = "g"\n[base]\ndataset = "mnist"\nmodel = { dense = [8] }\n'
            '[[variants]]\nname = "rates"\n[variants.grid]\n"train.lr" = [0.001, 0.01]\n'
            '[[variants]]\nname = "rates,lr=0.1"\n"train.lr" = 0.1\n'
            '[[variants]]\nname = "rates,lr=0.01"\n"train.lr" = 0.02\n'
            '[[variants]]\nname = "rates2,x"\n')  # another name with a comma: fine
    with pytest.raises(SpecError) as exc:
        load_experiment(write(tmp_path, text))
    said = [str(exc.value), *map(str, exc.value.more)]
    assert [s.split(": ")[0] for s in said] == [f"{tmp_path / 'exp.toml'}:10", f"{tmp_path / 'exp.toml'}:13"], said
    assert said[0].endswith('variant "rates,lr=0.1": a name of the form of the grid "rates"\'s cells ("rates,KEY=VALUE"), '
                            "so `--variant rates` would take it among them: name it otherwise")
    load_experiment(write(tmp_path, text.replace('name = "rates,', 'name = "rate-')))  # distinct names: fine
    for other in ('[[variants]]\nname = "rates,big"\n[variants.grid]\n"train.batch_size" = [16, 32]\n',  # a grid too
                  '[grid]\n"train.batch_size" = [16, 32]\n[[variants]]\nname = "lr"\n[[variants]]\nname = "lr,x"\n'):
        head = 'name = "g"\n[base]\ndataset = "mnist"\nmodel = { dense = [8] }\n'  # (review: a top-level grid
        grid = '[[variants]]\nname = "rates"\n[variants.grid]\n"train.lr" = [0.001, 0.01]\n'  # makes each a grid)
        with pytest.raises(SpecError, match=r'variant "(rates,big|lr,x)": a name of the form of the grid'):
            load_experiment(write(tmp_path, head + (grid + other if "rates" in other else other)))


def test_a_name_given_twice_is_said_with_the_file_s_other_mistakes_in_its_order(tmp_path: Path) -> None:
    """New-user finding (helper-102): a variant name given twice was said only once the file's other
    mistakes were mended."""
    text = (TINY + '[[variants]]\nname = "e"\n[[variants]]\nname = "x"\n"train.lrr" = 1\n'
            '[[variants]]\nname = "e"\n"train.lr" = 0.1\n[[variants]]\nname = "y"\n"train.optimizer" = "adamm"\n')
    p = write(tmp_path, text)
    lines = text.splitlines()
    with pytest.raises(SpecError) as exc:
        load_experiment(p)
    said = [str(exc.value), *map(str, exc.value.more)]
    wanted = [lines.index('"train.lrr" = 1') + 1, len(lines) - lines[::-1].index('name = "e"'),
              lines.index('"train.optimizer" = "adamm"') + 1]
    assert [s.split(": ")[0] for s in said] == [f"{p}:{n}" for n in wanted], said
    assert said[1].endswith('two variants are named "e"; give them distinct names')
    assert all(m.more == () for m in exc.value.more)  # each said once: no list inside the list (helper-104)
    unnamed = write(tmp_path, TINY + '[[variants]]\n"train.lr" = 0.1\n[[variants]]\n"train.lr" = 0.1\n'
                    '[[variants]]\nname = "x"\n"train.lrr" = 1\n', "unnamed.toml")
    with pytest.raises(SpecError) as exc:
        load_experiment(unnamed)
    assert len([str(exc.value), *exc.value.more]) == 2 and all(m.more == () for m in exc.value.more)


def test_several_mistakes_of_base_are_each_at_their_line(tmp_path: Path) -> None:
    """New-user finding (helper-99): [base]'s mistakes came on one line, "...; and 1 more: ...", the
    later ones without their line; a file's are each on their own, as its variants' are."""
    text = TINY.replace("epochs = 1", 'epochs = 1\nlr = "fast"\nbatch_sise = 32') + '[[variants]]\nname = "a"\n'
    p = write(tmp_path, text)
    lines = text.splitlines()
    with pytest.raises(SpecError) as exc:
        load_experiment(p)
    said = [str(exc.value), *map(str, exc.value.more)]
    assert [s.split(": ")[0] for s in said] == [f"{p}:{lines.index(k) + 1}" for k in ('lr = "fast"', "batch_sise = 32")]
    assert said[0].endswith('[base]: train.lr: must be a valid number (got "fast")')
    assert 'train: unknown key "batch_sise" (did you mean "batch_size"?)' in said[1] and "more:" not in said[0]


def test_a_wrong_model_or_dataset_is_said_beside_the_other_mistakes_of_its_table(tmp_path: Path) -> None:
    """A misspelt preset or dataset name waited until the table's other mistakes were mended (the
    model and dataset were checked only once the rest of the config was right): a round each."""
    text = (TINY.replace('dataset = "mnist"', 'dataset = "mnistt"').replace("epochs = 1", 'epochs = "one"')
            + '[[variants]]\nname = "a"\nmodel = "dense"\n"train.lr" = "fast"\n')
    said = _said_at(tmp_path, text, ('dataset = "mnistt"', 'epochs = "one"'))  # [base]'s first: a variant's wait
    assert 'dataset: unknown dataset \'mnistt\' (did you mean "mnist"?)' in said[0]
    mended = text.replace('"mnistt"', '"mnist"').replace('"one"', "1")
    said = _said_at(tmp_path, mended, ('model = "dense"', '"train.lr" = "fast"'))
    assert 'variant "a": model: unknown model "dense"' in said[0] and "train.lr" in said[1]


def test_every_mistake_of_one_variant_is_said_at_once_each_at_its_line(tmp_path: Path) -> None:
    """New-user finding (helper-105): a variant's unknown key hid its other mistakes until it was
    mended (a round a mistake), and its several wrong values came as one line, the later ones
    without their line; each is said in one pass at the key that sets it."""
    text = (TINY + '[[variants]]\nname = "sgd"\n"train.learning_rate" = 0.1\n"train.optimizer" = "sgdd"\n'
            '"train.epochs" = "three"\n"train.bogus" = 1\n[[variants]]\nname = "ok"\n"train.optimizer" = "adamm"\n')
    said = _said_at(tmp_path, text, ('"train.learning_rate" = 0.1', '"train.optimizer" = "sgdd"',
                                     '"train.epochs" = "three"', '"train.bogus" = 1', '"train.optimizer" = "adamm"'))
    assert ('variant "sgd": "train.learning_rate": the base has no key "learning_rate" (Keras 3\'s learning_rate is lr '
            'here') in said[0]
    assert 'variant "sgd": train.optimizer: got "sgdd"' in said[1] and "more:" not in said[1]
    assert 'variant "sgd": train.epochs: must be a valid integer (got "three")' in said[2]
    assert 'variant "ok": train.optimizer: got "adamm"' in said[4]


def test_every_mistake_inside_a_variants_table_is_said_at_once(tmp_path: Path) -> None:
    """helper-235: `augment = { interpolation_order = 1, horizontal_flip = "yes" }` said the first
    key alone; the second came once the first was mended."""
    p = write(tmp_path, TINY + '[[variants]]\nname = "b"\naugment = { interpolation_order = 1, horizontal_flip = "yes", '
                               'rotation_range = -3, rotaton_range = 2 }\n')
    with pytest.raises(SpecError) as exc:
        load_experiment(p)
    said = [str(exc.value), *map(str, exc.value.more)]
    assert len(said) == 4, said
    assert '"augment.interpolation_order": Keras\'s ImageDataGenerator takes it' in said[0]
    assert any('"augment.rotaton_range": the base has no key "rotaton_range" (did you mean "rotation_range"?)' in m
               for m in said), said
    assert any("augment.horizontal_flip: must be a valid boolean" in m for m in said), said
    assert any("augment.rotation_range: must be greater than or equal to 0" in m for m in said), said


def _said_at(tmp_path: Path, text: str, keys: Sequence[str]) -> list[str]:
    """The lines `load_experiment` says of experiment ``text``, checked to be one a key of ``keys``
    (a line of the file each), in that order, each said once (no list inside the list)."""
    p, lines = write(tmp_path, text), text.splitlines()
    with pytest.raises(SpecError) as exc:
        load_experiment(p)
    said = [str(exc.value), *map(str, exc.value.more)]
    assert [s.split(": ")[0] for s in said] == [f"{p}:{lines.index(k) + 1}" for k in keys], said
    assert all(m.more == () for m in exc.value.more)
    return said


@pytest.mark.parametrize("later", ['[variants.grid]\n"train.batch_sizz" = [1, 2]\n',
                                   '"model.dense[0]" = 4\n"model.dense[-1]" = 5\n'])
def test_a_variants_unknown_key_is_said_beside_a_later_mistake_of_the_table(tmp_path: Path, later: str) -> None:
    """Review finding (helper-106): a variant's unknown keys were kept for the end, and a mistake found
    after them (its grid's, a key set twice) was said alone."""
    text = TINY + '[[variants]]\nname = "b"\n"train.lrr" = 1\n' + later
    p, lines = write(tmp_path, text), text.splitlines()
    with pytest.raises(SpecError) as exc:
        load_experiment(p)
    said = [str(exc.value), *map(str, exc.value.more)]
    at = lines.index('"train.lrr" = 1') + 1
    assert len(said) == 2 and said[0].startswith(f'{p}:{at}: variant "b": "train.lrr"'), said
    assert "batch_sizz" in said[1] or "set twice" in said[1]


def test_a_variants_grid_mistakes_do_not_hide_its_own_values_mistakes(tmp_path: Path) -> None:
    """New-user finding (helper-107): a misspelt key in a variant's own grid hid the variant's wrong
    values, and a wrong value at one point of its grid hid one at another (a second pass each)."""
    text = (TINY + '[[variants]]\nname = "bad"\n"train.optimizer" = "sgdd"\n"train.epochs" = "three"\n'
            '[variants.grid]\n"train.lrr" = [0.01, 0.1]\n'
            '[[variants]]\nname = "pts"\n"train.lr" = "fast"\n[variants.grid]\n"train.optimizer" = ["adam", "sgdd"]\n')
    said = _said_at(tmp_path, text, ('"train.optimizer" = "sgdd"', '"train.epochs" = "three"', '"train.lrr" = [0.01, 0.1]',
                                     '"train.lr" = "fast"', '"train.optimizer" = ["adam", "sgdd"]'))
    assert 'train.lr: must be a valid number (got "fast")' in said[3]  # once, though both points of the grid have it
    assert 'train.optimizer: got "sgdd"' in said[4]


def test_one_mistake_in_two_tables_of_one_name_is_said_at_both(tmp_path: Path) -> None:
    """Review finding (helper-106): mistakes were told apart by their words alone, which no longer
    hold the table's place: the second table named "a" with the same typo went unsaid."""
    text = TINY + '[[variants]]\nname = "a"\n"train.lrr" = 1\n[[variants]]\nname = "a"\n"train.lrr" = 1\n'
    p = write(tmp_path, text)
    with pytest.raises(SpecError) as exc:
        load_experiment(p)
    said = [str(exc.value), *map(str, exc.value.more)]
    rows = [n + 1 for n, line in enumerate(text.splitlines()) if line == '"train.lrr" = 1']
    assert [s.split(": ")[0] for s in said] == [f"{p}:{n}" for n in rows], said


def test_a_variant_s_keras_generator_argument_gets_the_hint_base_gets(tmp_path: Path) -> None:
    """New-user finding (helper-109): `rescale` or `featurewise_center` in a variant's augment said
    only "the base has no key"; in [base] they say what to write instead."""
    text = (TINY + '[base.augment]\nrotation_range = 5\n[[variants]]\nname = "a"\n"augment.rescale" = 0.0039\n'
            '[[variants]]\nname = "b"\naugment = { featurewise_center = true }\n')
    said = _said_at(tmp_path, text, ('"augment.rescale" = 0.0039', "augment = { featurewise_center = true }"))
    assert said[0].endswith('variant "a": "augment.rescale": Keras\'s ImageDataGenerator takes it; mnistlab gives the '
                            "model pixels / 255 (in [0, 1]) already, what rescale = 1/255 does in Keras: leave it out")
    assert 'variant "b": "augment.featurewise_center": Keras\'s ImageDataGenerator takes it; put a Normalization' in said[1]


def test_quick_keeps_a_cosine_warm_up_s_share_of_the_one_epoch(tmp_path: Path) -> None:
    """A recipe's warm-up of 1 epoch of 60 was refused under --quick (one epoch: the warm-up never
    ended); it takes the same share of the quick run's one epoch."""
    p = write(tmp_path, TINY.replace("epochs = 1", "epochs = 4") + 'schedule = { type = "cosine", warmup_epochs = 1 }\n'
                                                                  '[[variants]]\nname = "a"\n')
    [cell] = load_experiment(p).cells(quick=True)
    assert cell.config["train"]["epochs"] == 1 and cell.config["train"]["schedule"]["warmup_epochs"] == 0.25


def test_is_quick_reads_the_setting_as_its_key_does() -> None:
    """helper-196: is_quick hashed the whole config twice (8,500 asks, 4 s, for a table of 4,000 runs);
    it now compares the values quick_config writes. Over every recipe's cells, full and --quick, and
    forms that differ only in a type (a warm-up of 1 and 1.0): the same answer as comparing the keys."""
    from mnistlab.experiments import quick_config, variant_setting

    configs = []
    for recipe in sorted((Path(__file__).resolve().parents[1] / "recipes").glob("*.toml")):
        if "[search]" in recipe.read_text():
            continue
        exp = load_experiment(recipe)
        configs += [c.config for c in exp.cells()[:6]] + [c.config for c in exp.cells(quick=True)[:6]]
    base = configs[0]
    configs += [{**base, "train": {**base["train"], "epochs": 1.0}},
                {**base, "train": {**base["train"], "epochs": 1, "schedule": {"type": "cosine", "warmup_epochs": 1}}},
                {**base, "data": {**base["data"], "subset": 300, "validation": 50}, "train": {**base["train"], "epochs": 1}},
                {**base, "data": {**base["data"], "subset": None}}]
    for config in configs:
        assert is_quick(config) == (variant_setting(quick_config(config)) == variant_setting(config)), config
    assert any(is_quick(c) for c in configs) and not all(is_quick(c) for c in configs)


@pytest.mark.parametrize(("written", "said"), [
    ('optimizer = "sgd"', 'unknown key "optimizer": a variant sets the train section\'s key by its dotted name, '
                          '"train.optimizer" = "sgd"'),
    ("lr = 0.01", 'unknown key "lr": a variant sets the train section\'s key by its dotted name, "train.lr" = 0.01'),
    ("subset = 600", '"data.subset" = 600'),
])
def test_a_variants_section_key_written_alone_is_said_with_its_dotted_name(tmp_path: Path, written: str, said: str) -> None:
    # helper-259: `lr = 0.01` in a variant was "unknown key", with no pointer to "train.lr" (train() takes lr=)
    with pytest.raises(SpecError, match=re.escape(said)) as err:
        load_experiment(write(tmp_path, TINY + f'[[variants]]\nname = "v"\n{written}\n'))
    assert err.value.line == TINY.count("\n") + 3 and "\n" not in str(err.value)


@pytest.mark.parametrize(("written", "said"), [
    ('dataset = "mnist"\nmodel = "seed000-dense"\n', '"dataset" is a setting of every run, so it goes in the [base] '
                                                      "table: a [base] line above dataset = ..."),
    ("[train]\nepochs = 2\n", '"train" is a setting of every run, so it goes in a [base.train] table (or train = { ... }'),
    ("epochs = 2\n", '"epochs" is a setting of every run, so it goes in the [base.train] table'),
])
def test_a_runs_setting_at_the_top_level_says_it_goes_in_base(tmp_path: Path, written: str, said: str) -> None:
    # helper-262: `dataset = "mnist"` above any [base] line was "unknown key", with the file's keys listed
    with pytest.raises(SpecError, match=re.escape(said)) as err:
        load_experiment(write(tmp_path, 'name = "x"\n' + written))
    assert err.value.line == 2 and "\n" not in str(err.value)
