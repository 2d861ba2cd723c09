"""mnistlab._toml's line finding: errors in experiment and run-config files point at the line to fix
("exp.toml:12: ...").

``key_line`` and ``with_line`` directly, then end to end through ``load_experiment`` and, in one
test, ``mnistlab train`` (it stays here: it checks the same line finding, and that an error names
the flag, not the file, when a flag set the value)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mnistlab._toml import key_line, loads_toml, read_text_file, with_line
from mnistlab.cli import main
from mnistlab.errors import SpecError
from mnistlab.experiments import load_experiment

EXPERIMENT = """\
name = "lines"          # 1
repeats = 1

[base]
dataset = "fashion-mnist"
model = "seed000-dense"  # 6

[base.train]
epochs = 2
"lr" = 0.01             # 10

[[variants]]
name = "a"              # 13

[[variants]]            # 15
name = "b"
"train.seed" = 3        # 17
[variants.train]
optimizer = "sgd"       # 19

[grid]                  # 21
"train.batch_size" = [32, 64]
"""


@pytest.mark.parametrize(("path", "line"), [
    (["name"], 1),
    (["base", "model"], 6),
    (["base", "train", "lr"], 10),
    (["base", "train", "epochs"], 9),
    (["base", "train", "momentum"], 8),      # not written: the enclosing [base.train]
    (["variants", 0, "name"], 13),
    (["variants", 1], 15),
    (["variants", 1, "train", "seed"], 17),  # a quoted dotted override key
    (["variants", 1, "train", "optimizer"], 19),  # [variants.train] belongs to the latest variant
    (["grid", "train", "batch_size"], 22),
    (["grid", "train"], 22),  # not written itself: the key inside it ("train.batch_size"), not [grid]
    (["variants", 1, "train"], 18),  # written itself, as a table
    (["variants", 2, "name"], None),         # no third variant, no enclosing table written
    (["nothing"], None),
])
def test_key_line_follows_tables_arrays_and_dotted_keys(path, line) -> None:
    assert key_line(EXPERIMENT, path) == line


INLINE = """\
name = "inline"
[base]
model = { name = "m", layers = [   # 3
  { type = "Conv2D", filters = 8, kernel_size = 3, padding = "same" },
  { type = 'Flatten' },  # "a quote", ] and } in a comment
  { type = "Dense", units = 10, activation = "softmax" },   # 6
] }
text = \"\"\"
layers = [ { units = 1 } ]
\"\"\"
[[variants]]
name = "a"          # 12
"model.layers[1].pool_size" = 2
"""


@pytest.mark.parametrize(("path", "line"), [
    (["base", "model"], 3),
    (["base", "model", "layers"], 3),
    (["base", "model", "layers", 0, "filters"], 4),
    (["base", "model", "layers", 1], 5),
    (["base", "model", "layers", 2, "activation"], 6),
    (["base", "model", "layers", 2, "kernel_size"], 6),  # not written: its layer
    (["base", "model", "layers", 3, "units"], 3),  # no fourth layer: the array's key
    (["variants", 0, "model", "layers", 2, "units"], 13),  # the variant's key beside the layer at fault
    (["variants", 0, "model"], 13),
    (["variants", 0, "model.layers[1].pool_size"], 13),  # a quoted dotted key, one part of an error's path
])
def test_key_line_finds_an_inline_arrays_element_written_on_a_line_of_its_own(path, line) -> None:
    assert key_line(INLINE, path) == line


def test_a_position_from_the_end_is_the_line_of_an_error_about_that_layer() -> None:
    """New-user finding (36): `"model.layers[-1].kernel_regularizer"` in [base] was reported at the
    [base] header: the error counts layers from the start, the key from the end."""
    text = '[base]\nmodel = "seed000-dense"\n"model.layers[-1].kernel_regularizer" = { l9 = 1 }\n[[variants]]\nname = "a"\n'
    assert key_line(text, ["base", "model.layers[-1].kernel_regularizer"]) == 3
    assert key_line(text, ["base", "model", "layers", 2, "kernel_regularizer", "l9"]) == 3
    assert key_line(text, ["variants", 0, "model", "layers", 2]) == 4  # another table's key is not it


def _line_of(message: str, text: str, path: tuple = (), source: str = "exp.toml") -> str:
    """The message with_line makes of an error with ``path`` (``source`` is the error's own)."""
    return str(with_line(SpecError(message, path=path, source=source), "exp.toml", text))


def test_unparseable_messages_are_left_alone() -> None:
    # Another file's error, an error without a key path, a path the file does not hold: no line.
    assert _line_of("other.toml: x: bad", EXPERIMENT, ("name",), source="other.toml") == "other.toml: x: bad"
    assert _line_of("exp.toml: [base] is missing: ...", EXPERIMENT) == "exp.toml: [base] is missing: ..."
    assert _line_of('exp.toml: variant "zzz": model: bad', EXPERIMENT, ("variants", 5, "model")).startswith("exp.toml: ")


def _experiment(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "exp.toml"
    path.write_text('[base]\ndataset = "fashion-mnist"\nmodel = "seed000-dense"\n' + text)
    return path


@pytest.mark.parametrize(("text", "line", "words"), [
    ('[base.train]\nlr = -1\n', 5, "train.lr"),
    ('[[variants]]\nname = "a"\n\n[[variants]]\nname = "b"\n"train.lrr" = 0.1\n', 9, 'did you mean "lr"'),
    ('[[variants]]\nname = "a"\n[variants.train]\noptimizer = "adamm"\n', 7, 'did you mean "adam"'),
    ('[[variants]]\nname = "a"\nmodel = "seed000-cnnn"\n', 6, "seed000-cnnn"),
    ('[grid]\n"train.lr" = []\n', 5, "non-empty list"),
    ('[[variants]]\nname = "a"\n[variants.grid]\n"train.lr" = [0.1, -2]\n', 7, "lr"),
])
def test_experiment_errors_name_the_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    path = _experiment(tmp_path, text)
    with pytest.raises(SpecError) as info:
        load_experiment(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: ") and words in message, message


@pytest.mark.parametrize(("text", "line"), [
    ('[grid]\n"train.lr" = [0.1, -2]\n', 5),                                  # no [[variants]]: the grid's key
    ('[[variants]]\n"train.lr" = 0.1\n[[variants]]\n"train.lr" = -1\n', 7),    # variants without names
    ('[[variants]]\nname = "a"\n"train.epochs" = 2\n[variants.grid]\n"train.lr" = [-1]\n', 8),  # the grid's -1
    ('[[variants]]\nname = "a"\n[[variants]]\nname = "a"\n"train.lr" = -1\n', 8),  # two variants of one name
])
def test_a_variant_error_names_the_line_that_set_the_value(tmp_path: Path, text: str, line: int) -> None:
    path = _experiment(tmp_path, text)
    with pytest.raises(SpecError) as info:
        load_experiment(path)
    assert str(info.value).startswith(f"{path}:{line}: ") and info.value.line == line, str(info.value)


def test_unknown_top_level_key_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "exp.toml"
    path.write_text('name = "x"\nrepeat = 3\n[base]\ndataset = "mnist"\nmodel = "seed000-dense"\n')
    with pytest.raises(SpecError, match=rf'^{path}:2: top level: unknown key "repeat"'):
        load_experiment(path)


def test_run_config_errors_name_the_line_unless_a_flag_set_the_value(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    Path("run.toml").write_text('dataset = "fashion-mnist"\nmodel = "seed000-dense"\n\n[train]\nepochs = 0\n')
    assert main(["train", "--config", "run.toml"]) == 2
    assert capsys.readouterr().err.strip().startswith("error: run.toml:5: train.epochs:")
    assert main(["train", "--config", "run.toml", "--epochs", "-3"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: command line: train.epochs:") and "-3" in err  # the flag's value, not run.toml


def test_exact_lookup_does_not_fall_back_to_the_table() -> None:
    assert key_line(EXPERIMENT, ["base", "train", "momentum"], exact=True) is None
    assert key_line(EXPERIMENT, ["base", "train", "lr"], exact=True) == 10


@pytest.mark.parametrize(("text", "line"), [
    ('[base.train]\nepochs = 2\nlrr = 0.1\n', 6),                       # unknown key inside a table
    ('[[base.callbacks]]\ntype = "EarlyStopping"\npatiense = 1\n', 6),   # ... inside an array of tables
])
def test_lines_of_typos_in_tables(tmp_path: Path, text: str, line: int) -> None:
    path = _experiment(tmp_path, text)
    with pytest.raises(SpecError) as info:
        load_experiment(path)
    assert str(info.value).startswith(f"{path}:{line}: "), str(info.value)


def test_a_header_like_line_inside_a_multiline_string_is_not_a_table(tmp_path: Path) -> None:
    path = tmp_path / "exp.toml"
    path.write_text('description = """\n[variants]\nlr = 1\n"""\n[base]\ndataset = "fashion-mnist"\n'
                    'model = "seed000-dense"\n[base.train]\nlr = -1\n')
    with pytest.raises(SpecError, match=rf"^{path}:9: "):
        load_experiment(path)


def test_a_variant_named_with_a_comma_is_found_by_its_whole_name(tmp_path: Path) -> None:
    path = _experiment(tmp_path, '[[variants]]\nname = "a"\n\n[[variants]]\nname = "a,b"\n"train.lr" = -1\n')
    with pytest.raises(SpecError, match=rf"^{path}:9: "):
        load_experiment(path)


def test_odd_keys_and_hostile_lines_never_break_the_error(tmp_path: Path) -> None:
    path = tmp_path / "exp.toml"
    path.write_text('"\u00b2" = 1\n[base]\ndataset = "mnist"\nmodel = "seed000-dense"\n')  # a non-ASCII digit
    with pytest.raises(SpecError, match=rf"^{path}:1: top level: unknown key"):
        load_experiment(path)
    hostile = "[" + " " * 200_000 + "x\n" + "a." * 50_000 + "\n" + "a " * 100_000 + "\n"
    assert key_line(hostile, ["x"]) is None  # returns (in linear time), finds nothing
    for message, path in [("exp.toml: ", ("",)), ('exp.toml: variant "', ("variants", 0, "")),
                          ("exp.toml: variants[99999999999999999999]: x: y", ("variants", 10**20, "x")),
                          ('exp.toml: [base]: \u00b2.\u00b2: bad', ("base", "\u00b2", "\u00b2")),
                          ("exp.toml: : : :", ("", "", ""))]:
        shown = str(SpecError(message))  # the message as users see it: one line, no trailing space
        assert _line_of(message, hostile + EXPERIMENT, path).endswith(shown[len("exp.toml"):])


@pytest.mark.parametrize(("text", "said"), [  # helper-259: a class's Python and Keras habits, in the parser's words alone
    ('[base.model]\nkernel_size = (3, 3)\n', r"column 15\) \(a Python tuple: TOML writes a list in brackets, as \[3, 3\]\)$"),
    ('layers = [{ type = "Dense", units = 10, activation = softmax }]\n', r'\(a word is quoted in TOML: "softmax"\)$'),
    ('[base.model]\nuse_bias = True\n', r"\(Python's True: TOML writes true\)$"),
    ('x = None\n', r"\(TOML has no None or null: leave the key out for its default\)$"),
    ('[[variants]]\n"train.lr" = .01\n', r"\(a TOML number starts with a digit: 0.01, not .01\)$"),
    ('train.lr: 0.01\n', r"\(TOML writes key = value, not key: value\)$"),
    ('[variants]\nname = "a"\n[variants]\nname = "b"\n', r"Cannot declare \[variants\] twice \(at line 3, column 10\) "
     r"\(a list of tables, one per entry, is written with two brackets: \[\[variants\]\]\)$"),
    ('[base]\nx = 1\n[base]\ny = 2\n', r"Cannot declare \[base\] twice .* \(a table is declared once: put the keys"),
    ('[base.train]\nepochs = 1\nlr = 0.1\nepochs = 2\n', r'\(the key "epochs" is given twice in \[base.train\], at lines 2 '
     r"and 4\)$"),
    ('epochs = 1\nepochs = 2\n', r'\(the key "epochs" is given twice, at lines 1 and 2\)$'),
    ('train = {epochs = 1,}\n', r"\(an inline table \{ ... \} takes no comma after its last key\)$"),  # helper-262
    ('train = { epochs = 1\n}\n', r"\(an inline table \{ ... \} stays on one line"),
    ('train = { epochs = 1 lr = 0.1 }\n', r"\(an inline table's keys are separated by commas: \{ epochs = 1, lr = 0.1 \}\)$"),
    ('note = """\nepochs = 1\nepochs = 2\n"""\n[base]\nx = 1\nx.y = 2\n', r"Cannot overwrite a value \(at line 7, column 8\)$"),
    ('callbacks = [EarlyStopping(patience=2)]\n', r'\(a Python call: TOML writes a layer or callback as a table, '
     r'\{ type = "EarlyStopping", ... \}, each argument a key = value\)$'),
])
def test_python_written_as_toml_says_how_toml_writes_it(text: str, said: str) -> None:
    with pytest.raises(SpecError, match=said) as err:
        loads_toml(text, source="s.toml")
    assert "\n" not in str(err.value) and "('" not in str(err.value)


@pytest.mark.parametrize(("text", "said"), [
    ('name = "kim-lab1\n[base]\n', r"\(at line 1, column 17\) \(a string without its closing quote\)$"),
    ('{\n "cells": [],\n "metadata": {},\n "nbformat": 4\n}\n', r"\(it is a Jupyter notebook, JSON; a file of settings is TOML"),
    ('name = "cr"\r[base]\rdataset = "mnist"\r', r"\(its lines end in a lone CR, an old Mac editor's: save it with LF"),
])
def test_a_syntax_error_says_what_it_may_mean(text: str, said: str) -> None:
    """helper-193, a class's files: a missing quote, a notebook saved as .toml and an old Mac's line ends
    were said in the parser's words alone."""
    with pytest.raises(SpecError, match=said):
        loads_toml(text, source="s.toml")


def test_a_file_too_large_says_the_limit(tmp_path) -> None:
    big = tmp_path / "big.toml"
    big.write_text("#" * 2000)
    with pytest.raises(SpecError, match=r"too large for a file \(2,000 bytes; at most 1,000\)$"):
        read_text_file(big, what="a file", max_bytes=1000)


NESTED = """name = "x"
[[variants]]
name = "a"
[[variants]]
name = "v"
[variants.model]
input_shape = [28, 28, 1]
[[variants.model.layers]]
type = "Conv2D"
[[variants.model.layers]]
type = "Residual"
[[variants.model.layers.branch]]
type = "Conv2D"
[[variants.model.layers.branch]]
type = "Conv2D"
paddding = "same"
[[variants.model.layers]]
type = "Dense"
units = 10
"""


@pytest.mark.parametrize("path, line", [
    (["variants", 1, "model", "input_shape"], 7),
    (["variants", 1, "model", "layers", 0, "type"], 9),
    (["variants", 1, "model", "layers", 1, "branch", 1, "paddding"], 16),
    (["variants", 1, "model", "layers", 2, "units"], 19),
    (["variants", 1, "model", "layers", 1, "branch", 0], 12),
])
def test_key_line_follows_arrays_of_tables_inside_arrays_of_tables(path, line) -> None:
    """helper-222: a layer of a model written in a variant ([[variants.model.layers]], a Residual's
    [[variants.model.layers.branch]]) was said at [variants.model]'s line, whatever the key."""
    assert key_line(NESTED, path) == line
