"""errors.py: every error and warning type, their structured context, and the message helpers."""

from __future__ import annotations

import datetime
import pickle

import numpy as np

import pytest

from mnistlab.errors import (MnistlabError, RunNotFinished, SpecError, SpecWarning, StoreError, clip, show,
                             unknown_key)


def test_spec_error_carries_its_key_path_and_source_and_stays_one_line() -> None:
    err = SpecError("run.toml: train.lr:\n  must be > 0", path=["train", "lr"], source="run.toml")
    assert (err.path, err.source, err.line) == (("train", "lr"), "run.toml", None)
    assert str(err) == "run.toml: train.lr: must be > 0"
    assert (SpecError("x").path, SpecError("x").source) == ((), None)


def test_spec_error_keeps_its_context_across_processes() -> None:
    # Experiment cells run in spawned processes: their errors come back pickled.
    err = pickle.loads(pickle.dumps(SpecError("f.toml: x: bad", path=("variants", 1, "x"), source="f.toml", line=3)))
    assert (str(err), err.path, err.source, err.line) == ("f.toml: x: bad", ("variants", 1, "x"), "f.toml", 3)


def test_within_puts_the_enclosing_table_in_front() -> None:
    inner = SpecError("train.lr: bad", path=("train", "lr"), source="<config>")
    outer = inner.within("base", source="exp.toml")
    assert (str(outer), outer.path, outer.source) == ("train.lr: bad", ("base", "train", "lr"), "exp.toml")
    renamed = inner.within("layers", 2, message="layers[2]: train.lr: bad")
    assert (str(renamed), renamed.path, renamed.source) == ("layers[2]: train.lr: bad", ("layers", 2, "train", "lr"),
                                                            "<config>")


def test_warning_and_exit_code_types_live_here() -> None:
    assert issubclass(SpecWarning, UserWarning)
    assert issubclass(RunNotFinished, MnistlabError) and RunNotFinished.exit_code == 1
    assert StoreError.exit_code == SpecError.exit_code == 2


def test_clip_and_show() -> None:
    assert clip("a\n  b") == "a b"
    assert clip("x" * 50) == "x" * 37 + "..." and len(clip("x" * 100, 60)) == 60
    assert show("seed000") == 'string "seed000"'  # as the TOML file writes it, not as Python does
    assert show(list(range(30))).startswith("array [0, 1, 2") and show(list(range(30))).endswith("...")
    assert (show(True), show(None), show(2.5)) == ("boolean true", "null", "float 2.5")
    assert show({"type": "Dense", "a b": [1, False]}) == 'table { type = "Dense", "a b" = [1, false] }'
    assert (show(np.int64(3)), show(np.float64(0.5)), show(np.bool_(True))) == ("integer 3", "float 0.5", "boolean true")
    assert show(datetime.date(1979, 5, 27)) == "date 1979-05-27"  # TOML has dates: train.seed = 1979-05-27


def test_unknown_key_words_the_two_styles_and_extends_the_path() -> None:
    err = unknown_key("lrr", ["lr", "epochs"], where="run.toml: train", path=("train",), source="run.toml")
    assert str(err) == 'run.toml: train: unknown key "lrr" (did you mean "lr"?); known keys: lr, epochs'
    assert (err.path, err.source) == (("train", "lrr"), "run.toml")
    dotted = unknown_key("trian.lr", ["train", "name"], where="variants[0]", path=("variants", 0), near="trian")
    assert 'unknown key "trian.lr" (did you mean "train"?)' in str(dotted)
    assert dotted.path == ("variants", 0, "trian", "lr")
    spec = unknown_key("unit" + "s" * 60, [], where="layers[1] (Flatten)", quote="'", listing="allowed", clip_at=40)
    assert str(spec) == f"layers[1] (Flatten): unknown key '{clip('unit' + 's' * 60)}'; allowed: no other keys"


@pytest.mark.parametrize("cls", [SpecError, StoreError, RunNotFinished])
def test_every_error_is_a_mnistlab_error(cls: type[Exception]) -> None:
    assert issubclass(cls, MnistlabError)


def test_an_inverted_images_warning_names_its_files_where_it_listed_indices() -> None:
    from mnistlab.errors import InvertedImageWarning

    w = InvertedImageWarning("7 of 9 images look inverted (index 0, 1, 2, 3, 4, ...): their border is bright",
                             range(7), "index 0, 1, 2, 3, 4, ...")
    names = [f"f{i}.png" for i in range(9)]
    assert w.naming(names) == "7 of 9 images look inverted (f0.png, f1.png, f2.png, f3.png, f4.png, ...): their " \
                              "border is bright"
    assert w.naming(names[:3]) == str(w)  # names that do not reach every index: the indices stay
    assert InvertedImageWarning("1 of 1 images look inverted", [0], "index 9").naming(["a"]) == \
        "1 of 1 images look inverted"  # words not in the message: nothing replaced


def test_an_experiments_warning_is_said_once_under_the_first_place_it_is_about(capsys) -> None:
    """helper-130: a [base] callback-order warning was said three times: for [base], for its variant
    as the file loaded, and again as the run started (under the experiment's name)."""
    from mnistlab.errors import SpecWarning, said_afresh, show_warning

    said_afresh()
    core = "callbacks[0]: EarlyStopping(restore_best_weights) ends the run with the raw weights"
    for where in ('e.toml: [base]', 'e.toml: variant "v"', 'e: variant "v"', 'e: variant "w"'):
        show_warning(SpecWarning(f"{where}: {core}"), SpecWarning, "x.py", 1)
    show_warning(SpecWarning(f'e.toml: variant "w": {core} too'), SpecWarning, "x.py", 1)  # another message: said
    assert capsys.readouterr().err.splitlines() == [f"warning: e.toml: [base]: {core}",
                                                    f'warning: e.toml: variant "w": {core} too']
    said_afresh()
    for where in ('e.toml: variant "v"', 'e: variant "v"', 'e.toml: variant "w"'):  # no [base]: once a variant
        show_warning(SpecWarning(f"{where}: {core}"), SpecWarning, "x.py", 1)
    assert capsys.readouterr().err.splitlines() == [f'warning: e.toml: variant "v": {core}',
                                                    f'warning: e.toml: variant "w": {core}']


def test_warnings_kept_keeps_each_blocks_own_warnings_and_the_filters() -> None:
    """helper-180: a warning said once per place was kept by a sweep's first cell in a worker and by
    none after; blocks nest, and a filter set around one (error, ignore) still acts."""
    import warnings

    from mnistlab.errors import SpecWarning, warnings_kept

    def said() -> None:
        warnings.warn("threads differ", SpecWarning, stacklevel=1)

    with warnings.catch_warnings(record=True):
        with warnings_kept() as first:
            said()
        with warnings_kept() as second:
            said()
            said()  # twice in one block: kept once
        with warnings_kept() as outer, warnings_kept() as inner:
            said()
            warnings.warn("old", DeprecationWarning, stacklevel=1)  # not of the run: not kept
    assert first == second == outer == inner == ["threads differ"]
    with warnings.catch_warnings():
        warnings.simplefilter("error", SpecWarning)
        with pytest.raises(SpecWarning), warnings_kept():
            said()
        warnings.simplefilter("ignore", SpecWarning)
        with warnings_kept() as ignored:
            said()
    assert ignored == []


@pytest.mark.parametrize(("typed", "choices", "said"), [
    ("ѕoftmax", ["softmax", "relu"], ' (did you mean "softmax"? its "ѕ" is U+0455 CYRILLIC SMALL LETTER DZE, not the '
                                     "ASCII letter)"),
    ("ReduceLROnPlateaυ", ["ReduceLROnPlateau"], ' (did you mean "ReduceLROnPlateau"? its "υ" is U+03C5 GREEK SMALL '
                                                 "LETTER UPSILON, not the ASCII letter)"),
    ("ＳＧＤ", ["sgd", "adam"], ' (did you mean "sgd"? its letters are fullwidth (an input method\'s), not ASCII)'),
    ("reul", ["relu"], ' (did you mean "relu"?)'),  # an ASCII typo: no more said
    ("日本", ["relu"], ""),
])
def test_a_name_typed_in_letters_that_look_ascii_says_which_are_not(typed: str, choices: list[str], said: str) -> None:
    """helper-184: "ѕoftmax" (a Cyrillic ѕ) got 'did you mean "softmax"?', the two alike on screen;
    a Japanese input method's fullwidth "ＳＧＤ" got no suggestion."""
    from mnistlab.errors import did_you_mean

    assert did_you_mean(typed, choices) == said
