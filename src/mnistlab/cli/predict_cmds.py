"""`mnistlab predict`, `mnistlab export`, `mnistlab card` and `mnistlab errors`: using a trained model
outside mnistlab, and where it goes wrong.

MODEL is read by :func:`mnistlab.run.load_trained` (a run id, an experiment's variant, or its
committee); the work is :mod:`mnistlab.preprocessing`, :mod:`mnistlab.export`, :mod:`mnistlab.card` and
:mod:`mnistlab.error_analysis`.
"""

from __future__ import annotations

import copy
import glob
import os
import re
import warnings
from dataclasses import replace
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from mnistlab.cli._common import (FIGURE_FORMATS, FIGURE_FORMATS_SAID, IntRange, PathArg, data_dir_option, one_variant,
                                  open_store, save_figure, store_option)
from mnistlab.cli._output import Column, emit, format_option
from mnistlab.errors import (DataError, InvertedImageWarning, MnistlabError, OutputError, PartlyUnreadable, PartlyWritten,
                             SpecError, percent_within, printable)
from mnistlab.files import check_output_path, display_name, utf8_text, write_output

if TYPE_CHECKING:
    from mnistlab.run import Committee, Run

F = TypeVar("F", bound=Callable[..., object])


def model_options(f: F) -> F:
    """The options every MODEL-taking command shares: --variant, --pick, --store."""
    for option in reversed((
        click.option("--variant", multiple=True, callback=one_variant,
                     help="The experiment's variant (needed when it has several)."),
        click.option("--pick", type=click.Choice(["best", "best-val", "latest"]), default="best", show_default=True,
                     help="Which run of the variant: the best by test accuracy, the best by validation accuracy "
                          "(chosen without the test set; its runs need data.validation), or the latest."),
        store_option("store_path"),
    )):
        f = option(f)
    return f


SHOW_AT_MOST = 64  # --show draws a row per image: a bigger figure takes minutes and nobody opens it


def _load(store_path: str | None, model: str, variant: str | None, pick: str) -> Any:
    if model.lower().endswith((".safetensors", ".onnx", ".pt")) and os.path.isfile(model):  # a file (export, run.save):
        from mnistlab.export import load_model  # a .safetensors one loads; an .onnx or .pt one is said where it runs

        if variant:
            raise SpecError(f"--variant goes with an experiment; {model} holds one model")
        return load_model(model)
    return _load_from(open_store(store_path), model, variant, pick)


def _load_from(store: Any, model: str, variant: str | None, pick: str) -> Any:
    from mnistlab.run import open_trained

    return open_trained(store, model, variant=variant, pick=pick)


@click.command("predict")
@click.argument("model")
@click.argument("images", type=PathArg(), nargs=-1, required=True)
@model_options
@click.option("--top", type=IntRange(1, 100), default=3, show_default=True, help="How many classes per image.")
@click.option("--all-classes", is_flag=True, help="Every class's probability, in class order (what Keras's "
              "model.predict gives), a column each (p_<class>), beside the top class; --top then does not apply.")
@format_option()
@click.option("--show", type=PathArg(), default=None,
              help=f"Also save a figure ({FIGURE_FORMATS_SAID}): each image, what the model saw, "
              "and its probabilities (the first 64 images).")
@click.option("--no-preprocess", is_flag=True, help="The images are already in dataset form (28x28, light on dark).")
@click.option("-o", "--output", type=PathArg(), default=None,
              help="Write a competition submission CSV (ImageId,Label: "
              "each image's top class, ImageId from 1), e.g. for a digit-recognizer test.csv, in place of the "
              "table (beside it with --format csv or json). An existing file is replaced only if it is a "
              "submission; none is written where an input cannot be read.")
def predict_command(model: str, images: tuple[str, ...], variant: str | None, pick: str, store_path: str | None,
                    top: int, all_classes: bool, fmt: str, show: str | None, no_preprocess: bool,
                    output: str | None) -> None:
    """Predict the classes of IMAGES with a trained MODEL.

    MODEL is a run id (or its unique prefix), or an experiment's name or file: its variant's run
    chosen by --pick (--variant where it has several), or the variant's committee.

    IMAGES: image files (PNG, JPEG, BMP, GIF, TIFF, WebP, PGM, PPM), folders of them (at any depth), - for one image on
    stdin, or Kaggle-style CSV files (an optional label column, then one column per pixel: images already in
    dataset form; with labels, each CSV's accuracy is said too, as Keras's evaluate). Each image file is first
    put in dataset form as the model's dataset was made (for MNIST: inverted when the background is
    light, cropped to the ink, scaled to 20 px, centred by mass).

    \b
    Example: mnistlab predict seed000 --variant cnn photo.jpg digits/ --show seen.png
             mnistlab predict RUN_ID test.csv -o submission.csv --format csv > top3.csv
    """
    read_back = _check_outputs(show, output, images)
    bad: list[str] = []  # one line per bad file: the others are still predicted
    trained, sources, originals, seen = _images_in_order(images, lambda: _load(store_path, model, variant, pick),
                                                         not no_preprocess, bad)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", InvertedImageWarning)
        probs = trained.predict(seen, preprocess=False)
    for message in dict.fromkeys(_named(w.message, sources) for w in caught):  # a committee's members: once
        click.echo(f"warning: {message}", err=True)
    names = trained.class_names  # the registry's or the run's record: no dataset file is read
    _emit(sources, probs, names, top, fmt, all_classes=all_classes, table=output is None or fmt != "table")
    if output is not None and not bad:  # (a part would number its rows anew: ImageId 1 another image, helper-214)
        from mnistlab.data.userdata import write_submission

        write_submission(Path(output), probs.argmax(1), tuple(names), dataset=trained.dataset)  # (labels as its files')
        said = ("" if all(i.lower().endswith(".csv") for i in images) else
                "; ImageId counts the images in the order given: --format csv lists them with their names")
        click.echo(f"wrote {display_name(output)} ({len(probs)} prediction{'s' * (len(probs) != 1)}{said})", err=True)
    if show is not None:
        from mnistlab.plots import plot_predictions

        n = min(len(seen), SHOW_AT_MOST)
        figure = plot_predictions(originals[:n], seen[:n], probs[:n], names, [name for name, _ in sources[:n]],
                                  light_background=_trained_on_light(trained))
        save_figure(figure, show)
        click.echo(f"wrote {display_name(show)}" + (f" (the first {n} of {len(seen)} images)" if n < len(seen) else ""),
                   err=True)
    for message in read_back:  # (once it is written: an error before stays one line, helper-153)
        click.echo(f"warning: {message}", err=True)
    if chosen := _chosen(trained):  # MODEL named an experiment: which of its runs answered, as export and plot say
        click.echo(f"predicted with {chosen}", err=True)  # (once its files are written: an error stays one line)
    if bad:
        for message in bad:
            click.echo(f"error: {message}", err=True)
        files = len({_file_of(str(name)) for name, _ in sources})  # (a CSV's rows: one file, helper-214)
        raise PartlyUnreadable(f"{len(bad)} of {len(bad) + files} files could not be read (listed above); the "
                               f"{len(probs)} image{'s' * (len(probs) != 1)} of the others "
                               f"{'was' if len(probs) == 1 else 'were'} predicted" + (
                                   f"; {display_name(output)} was not written (its ImageIds would number a part "
                                   "of the images as if whole): mend or leave out the file that failed, and run "
                                   "again" if output is not None else ""))


def _images_in_order(images: Sequence[str], load: Callable[[], Any], preprocessing: bool,
                     bad: list[str]) -> tuple[Any, list[Any], list[Any], Any]:
    """The model (``load()``, once the image files are found) and the images of IMAGES in the order
    given (helper-133: a CSV's rows came after the image files given behind it): their (name,
    source), the images read and what the model sees of them. Each bad file's line goes into
    ``bad``; DataError (:func:`_stop_when_nothing_left`) when none is left."""
    from mnistlab.preprocessing import expand_pattern, image_sources

    given = [(k, m) for k, i in enumerate(images) for m in _expanded(i, expand_pattern)]
    tables = [(k, i) for k, i in given if i.lower().endswith(".csv")]
    files = [(k, i) for k, i in given if not i.lower().endswith(".csv")]
    origins: list[int] = []  # the argument each image came from
    sources = image_sources([i for _, i in files], bad, origins) if files else []
    origins = [files[o][0] for o in origins]
    # each image once in what one argument gives (a quoted 'd/**' matches d/sub and its images: helper-174)
    kept = _each_once_of(sources, origins)
    sources, origins = [sources[i] for i in kept], [origins[i] for i in kept]
    _stop_when_nothing_left(bad, sources or tables)  # the images are checked first, then the model
    trained = load()
    kept, originals, seen = _read_good(sources, trained, preprocessing, bad)
    sources, origins = [sources[i] for i in kept], [origins[i] for i in kept]
    _stop_when_nothing_left(bad, sources or tables)
    if tables:
        sources, originals, seen, origins = _with_csv_images(tables, sources, originals, seen, origins, trained, bad)
        _stop_when_nothing_left(bad, sources)
    order = sorted(range(len(sources)), key=origins.__getitem__)  # stable: each argument's images in their order
    return trained, [sources[i] for i in order], [originals[i] for i in order], seen[order]


def _each_once_of(sources: Sequence[Any], origins: Sequence[int]) -> list[int]:
    """The positions of ``sources`` to keep, in order: each image file once among those one
    argument gave (``origins[i]``: the argument of source ``i``); one pass, however many arguments
    a shell's pattern gave."""
    from mnistlab.preprocessing import each_once

    by_argument: dict[int, list[int]] = {}
    for i, k in enumerate(origins):
        by_argument.setdefault(k, []).append(i)
    return sorted(mine[j] for mine in by_argument.values() for j in each_once([sources[i] for i in mine]))


def _expanded(arg: str, expand: Callable[[str], list[str]]) -> list[str]:
    """An IMAGES argument as a shell would have given it: a pattern that is no path (quoted, or a
    shell that does not expand) as the paths it matches, CSVs among them; else the argument."""
    import glob
    import os

    if os.path.exists(arg) or not glob.has_magic(arg):
        return [arg]
    return expand(arg) or [arg]  # (no match: said as the pattern's own error)


def _check_outputs(show: str | None, output: str | None, images: Sequence[str] = ()) -> list[str]:
    """OutputError, before any work, for a --show or -o file that cannot be written as asked, or
    that would replace an image read (:func:`_read_back`); the warnings to give once the file is
    written, for a figure that the same IMAGES would read the next time."""
    if show is not None and Path(show).suffix.lower() not in FIGURE_FORMATS:
        raise OutputError(f"cannot write {show!r}: the --show file name must end in {FIGURE_FORMATS_SAID}")
    if output is not None and Path(output).suffix.lower() != ".csv":
        raise OutputError(f"cannot write {output!r}: -o writes a submission CSV (ImageId,Label), so its name must end "
                          "in .csv; each file's classes, with its name: --format csv or --format json")
    later = []
    for path in (show, output):
        if path is not None:
            check_output_path(path)
            if (where := _read_back(path, images)) is not None and os.path.exists(path):
                raise OutputError(f"cannot write {display_name(path)}: it is {where}, which "
                                  f"{'--show' if path is show else '-o'} would replace: name another file")
            if path is output and not _replaceable(path):  # helper-166: a run's training data went
                raise OutputError(f"cannot write {display_name(path)}: it is not a submission (its first line is not "
                                  "ImageId,Label), and -o would replace it: name another file, or delete it first")
            if where is not None:
                later.append(f"{display_name(path)} is {where}: the next `mnistlab predict` of them will read "
                             "it too")
    return later


def _replaceable(path: str) -> bool:
    """Whether -o may write over ``path``: no file there (or none that can be read: writing says
    why), an empty one, or a submission (its first line ImageId,Label, a BOM and spaces aside)."""
    try:
        with open(path, "rb") as f:
            first = f.readline(256)
    except OSError:
        return True
    return not first or first.decode("utf-8", "replace").removeprefix("\ufeff").strip() == "ImageId,Label"


def _read_back(path: str, images: Sequence[str]) -> str | None:
    """Where ``path`` is among the IMAGES given (files, folders, quoted patterns), that predict
    reads (helper-150: ``-o test.csv`` replaced the pixels it read, ``--show photo.png`` the photo;
    helper-152: ``--show digits/img0.png`` an image of the folder given, and a hard link's target):
    "one of the IMAGES given", "inside FOLDER, whose images are read", "matched by PATTERN"; None
    where it is none of them."""
    import fnmatch

    from mnistlab.data.userdata import IMAGE_SUFFIXES
    from mnistlab.preprocessing import expand_pattern

    target, exists = os.path.realpath(path), os.path.exists(path)
    image = Path(path).suffix.lower() in IMAGE_SUFFIXES and not Path(path).name.startswith(".")
    for given in images:
        if given == "-":
            continue
        if not os.path.exists(given) and glob.has_magic(given):
            if (exists and any(_same(m, path) for m in expand_pattern(given))) or fnmatch.fnmatch(path, given):
                return f"matched by {given}"
            continue
        if os.path.isdir(given):
            if image and target.startswith(os.path.realpath(given) + os.sep):
                return f"inside {display_name(given)}, whose images are read"
        elif _same(given, path):
            return "one of the IMAGES given"
    return None


def _same(a: str, b: str) -> bool:
    """Whether paths ``a`` and ``b`` name one file: the same file (a hard link, a case-insensitive
    disk's other spelling) where both exist, else the same real path."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def _emit(sources: list[Any], probs: Any, names: list[str], top: int, fmt: str, *, all_classes: bool,
          table: bool) -> None:
    """The per-image ``table`` (not beside a submission file, which is the answer) and the scores of
    labelled CSVs (:func:`_say_scores`)."""
    if table:
        (_emit_all if all_classes else _emit_top)(sources, probs, names, top, fmt)
    _say_scores(sources, probs)


def _emit_top(sources: list[Any], probs: Any, names: list[str], top: int, fmt: str) -> None:
    """Each image's ``top`` classes and probabilities, as a table, CSV or JSON."""
    import numpy as np

    top = min(top, probs.shape[1])
    labelled = any(isinstance(src, int) for _, src in sources)
    rows = []
    for (name, src), p in zip(sources, probs):
        order = np.argsort(-p, kind="stable")[:top]  # a tie: the first class first, as argmax (the submission) takes it
        row: dict[str, Any] = {"file": _file_field(name, src, fmt), **_label_field(src, names, labelled)}
        for k, c in enumerate(order, 1):
            row[f"class_{k}"], row[f"probability_{k}"] = names[int(c)], _exact(p[c])
        rows.append(row)
    columns = [Column("file", "file"), *([Column("label", "label", whole=True)] if labelled else [])]
    for k in range(1, top + 1):
        # "guess 2", "p 2": the second most likely class and its probability ("class 2" read as the label 2,
        # and every "p" alike, helper-176); the CSV's keys stay class_2, probability_2
        columns += [Column(f"class_{k}", f"guess {k}" if top > 1 else "class", whole=True),
                    Column(f"probability_{k}", f"p {k}" if top > 1 else "p", "{:.1%}".format, right=True, whole=True)]
    emit(rows, columns, fmt)


def _emit_all(sources: list[Any], probs: Any, names: list[str], top: int, fmt: str) -> None:
    """Each image's top class and every class's probability in class order, as Keras's
    ``model.predict`` gives them (helper-133: only the top ones, sorted, could be had); ``top``
    does not apply."""
    labelled = any(isinstance(src, int) for _, src in sources)
    rows = [{"file": _file_field(name, src, fmt), **_label_field(src, names, labelled), "class": names[int(p.argmax())],
             **{f"p_{printable(str(c))}": _exact(v) for c, v in zip(names, p)}}
            for (name, src), p in zip(sources, probs)]
    columns = [Column("file", "file"), *([Column("label", "label", whole=True)] if labelled else []),
               Column("class", "class", whole=True)] + [  # (keys escaped: CSV's header, helper-188)
        Column(f"p_{printable(str(c))}", str(c), "{:.1%}".format, right=True) for c in names]
    emit(rows, columns, fmt)


def _label_field(src: Any, names: list[str], labelled: bool) -> dict[str, Any]:
    """An image's ``label`` in predict's output where any image has one (a labelled CSV's row: its
    class, as its ``class`` columns name it; None for the others), else nothing."""
    return {"label": names[src] if isinstance(src, int) else None} if labelled else {}


def _file_field(name: str, src: Any, fmt: str) -> str:
    """An image's ``file`` in predict's output: in JSON the path itself (JSON escapes what a terminal
    would obey; helper-184: a name with a tab came back as "tab\\there.png", a file that does not
    exist), else its name as shown (:func:`~mnistlab.files.display_name`: a CSV read in a terminal)."""
    if fmt == "json" and isinstance(src, (str, os.PathLike)):  # its bytes read as UTF-8, as a file system holds names
        return os.fsencode(src).decode("utf-8", "surrogateescape")  # (an ASCII locale's \udcXX: helper-187)
    return name


def _read_good(sources: list[Any], trained: Any, preprocessing: bool, bad: list[str]) -> tuple[list[int], list[Any], Any]:
    """The indices of the sources that read, their images and what the model sees of them; each
    bad one's line added to ``bad``."""
    from mnistlab.preprocessing import read_images, recipe_dataset

    if not sources:
        return [], [], None
    unread: list[tuple[int, str]] = []
    originals, seen = read_images(sources, recipe_dataset(trained.dataset), size=trained.input_shape,
                                  preprocessing=preprocessing, errors=unread)
    bad += [message for _, message in unread]
    skipped = {i for i, _ in unread}
    return [i for i in range(len(sources)) if i not in skipped], originals, seen


def _stop_when_nothing_left(bad: list[str], left: list[Any]) -> None:
    """When no image is left to predict: DataError, the one bad file's line, or each listed then a count."""
    if left or not bad:
        return
    if len(bad) == 1:
        raise DataError(bad[0])
    for message in bad:
        click.echo(f"error: {message}", err=True)
    raise DataError(f"none of the {len(bad)} images could be read (listed above)")


def _with_csv_images(tables: list[tuple[int, str]], sources: list[Any], originals: list[Any], seen: Any,
                     origins: list[int], trained: Any, bad: list[str]) -> tuple[list[Any], list[Any], Any, list[int]]:
    """Add the images of Kaggle-style CSV files (already in dataset form; ``tables``: (argument
    index, file)) after the image files', with their argument's index added to ``origins`` for each
    (the caller puts them back in the order given):
    each named ``FILE.csv#ROW`` (ROW from 1), its label (the class index, where its file has a label
    column that names ``trained``'s classes) the source's second item. A CSV of another square
    size is resized to the model's as a CSV dataset is for training
    (:func:`~mnistlab.data.userdata.resize_images`), with a note; a CSV that cannot be read adds its
    line to ``bad``, as a bad image file does, and the others are still predicted."""
    import numpy as np

    from mnistlab.data.userdata import class_indices_of, csv_to_predict, label_column

    shape = trained.input_shape
    parts = [] if seen is None else [np.asarray(seen)]
    for k, table in tables:
        try:
            read = csv_to_predict(Path(table), label_column(trained.dataset), shape)
        except DataError as exc:
            bad.append(str(exc))
            continue
        if (was := read.resized_from) is not None:
            click.echo(f"note: {table}: its {was[1]}x{was[0]} images resized to the model's {shape[1]}x{shape[0]}, "
                       "as a CSV dataset's are for training", err=True)
        truth: list[int | None] = [None] * len(read.images)
        try:
            if read.labels is not None:
                truth = class_indices_of(read.labels, trained.class_names, trained.dataset).tolist()
        except DataError as exc:
            read = replace(read, unscored=str(exc))
        if read.unscored:
            click.echo(f"warning: {table}: its labels are not scored: {read.unscored}", err=True)
        sources = [*sources, *((f"{table}#{i + 1}", t) for i, t in enumerate(truth))]
        originals = [*originals, *read.images]
        origins = [*origins, *[k] * len(read.images)]
        parts.append(read.images)
    return sources, originals, np.concatenate(parts) if parts else None, origins


def _file_of(name: str) -> str:
    """The file an image's name is of: a CSV row's ``test.csv#12`` is ``test.csv``'s."""
    return re.sub(r"#\d+$", "", name)


def _say_scores(sources: list[Any], probs: Any) -> None:
    """Keras's ``evaluate`` of predict: for each CSV whose labels were read, how many of its images
    the model got right (and, for several, of all labelled images), on stderr; nothing without labels."""
    files: dict[str, list[bool]] = {}
    for (name, truth), p in zip(sources, probs):
        if isinstance(truth, int):  # a CSV row's label (an image file's source is its path)
            files.setdefault(_file_of(name), []).append(int(p.argmax()) == truth)
    for file, right in [*files.items(), *([("all labelled images", sum(files.values(), []))] if len(files) > 1 else [])]:
        click.echo(f"{file}: accuracy {sum(right) / len(right):.2%} ({sum(right):,} of {len(right):,} labelled "
                   f"image{'s' * (len(right) != 1)} right)", err=True)


@click.command("export")
@click.argument("model")
@model_options
@data_dir_option("for the test set")
@click.option("-o", "--output", type=PathArg(), required=True,
              help="The file to write: .onnx, .pt, .pth or .torchscript (TorchScript) or .safetensors.")
@click.option("--format", "fmt", type=click.Choice(["onnx", "torchscript", "safetensors"]), default=None,
              help="The format (default: from the file name's suffix).")
@click.option("--card/--no-card", default=True, show_default=True, help="Also write the model card, OUTPUT.md.")
@click.option("--no-verify", is_flag=True, help="Write the file without checking it on the test set (when the "
              "dataset's files are not at hand); a warning says it is unverified.")
def export_command(model: str, variant: str | None, pick: str, store_path: str | None, data_dir: Path | None,
                   output: str, fmt: str | None, card: bool, no_verify: bool) -> None:
    """Export a trained MODEL to ONNX, TorchScript or safetensors, verified on the whole test set.

    MODEL is a run id (or its unique prefix), or an experiment's name or file: its variant's run
    chosen by --pick (--variant where it has several), or the variant's committee.

    The file, loaded back by its own runtime (onnxruntime for ONNX), must give PyTorch's top-1
    class on every test image at batch 1 and 1000, and logits within 1e-4 + 1e-4 x |logit|.
    Its metadata holds the class names and the preprocessing; the batch size is dynamic.
    ONNX needs: pip install 'mnistlab[onnx]'.

    \b
    Example: mnistlab export seed000 --variant cnn -o cnn.onnx
    """
    from mnistlab.card import model_card
    from mnistlab.export import format_for, write_export

    if output == "-":  # (helper-179: a file named "-" and "-.md" written here, where predict reads - as stdin)
        raise OutputError("-o -: an export is a file (a model to load), not text for stdout: name the file, "
                          "e.g. -o model.onnx")
    check_output_path(output)
    fmt = format_for(output, fmt)
    card_path = Path(output + ".md")
    if card:
        check_output_path(card_path)
    trained = _load(store_path, model, variant, pick)
    replaced = Path(output).exists()  # as Keras's model.save(overwrite=True), and said (helper-150: silently)
    check = write_export(trained, output, fmt, data_dir=data_dir, verify=not no_verify)
    click.echo(f"wrote {display_name(output)} from {_which(trained)}" + (" (it replaced the file there)" if replaced else ""))
    if check is not None:
        click.echo(check.summary())
    else:
        click.echo(f"warning: {display_name(output)} is unverified (--no-verify): it was not compared with the PyTorch model "
                   "on the test set", err=True)
    if card:
        try:
            text = model_card(trained, data_dir=data_dir, verification=check, exported=Path(output).name)
        except MnistlabError as exc:  # the export stands: say so, and why its card is missing
            raise PartlyWritten(f"{display_name(output)} stands, but its card was not written: {exc}") from None
        card_there = card_path.exists()  # (helper-152: replaced silently)
        try:
            _write(card_path, text)
        except OutputError as exc:  # (a disk full meanwhile: helper-189)
            raise PartlyWritten(f"{display_name(output)} stands, but its card was not written: {exc}") from None
        click.echo(f"wrote {display_name(card_path)}" + (" (it replaced the file there)" if card_there else ""))


def _which(trained: Run | Committee) -> str:
    """The run (or committee) a command used, as its output line names it: ``run 3f2a9c01de (seed
    1)``, ``the committee of 5 runs (3f2a9c01de, ...)``; how it was chosen is in its card."""
    from mnistlab.run import Committee

    if isinstance(trained, Committee):
        ids = [str(i) for i in trained.run_ids]
        return f"the committee of {len(ids)} runs ({', '.join(ids[:3])}{', ...' * (len(ids) > 3)})"
    seed = ((trained.config or {}).get("train") or {}).get("seed")
    record = getattr(trained, "record", None)
    trial = str(record.variant) if record is not None and "trial" in (record.metrics or {}) else ""  # (helper-210)
    said = ", ".join(filter(None, [trial, f"seed {seed}" if seed is not None else ""]))
    return f"run {trained.run_id}" + (f" ({said})" if said else "")


def _chosen(trained: Run | Committee) -> str | None:
    """Which model of an experiment a command chose (``run 3f2a9c01de (seed 1), the best of 3 runs
    of variant cnn by test accuracy, ...``, or its committee); None where MODEL named the run itself
    or the variant's one run."""
    from mnistlab.run import Committee

    note = getattr(trained, "chosen", None)
    if isinstance(trained, Committee):
        return f"{_which(trained)}, {note}" if note else _which(trained)
    return f"{_which(trained)}, {note}" if note else None


def _trained_on_light(trained: Any) -> bool:
    """Whether a model's training images had light backgrounds (a user's dark ink on paper): the
    border brightness its run recorded, every image's at least 155 of 255; a registered dataset's
    are dark."""
    from mnistlab.data.borders import trained_background

    return trained_background((trained.env.get("data") or {}).get("border")) == "light"  # a Committee's: its members'


def _named(warning: Warning | str, sources: Sequence[tuple[str, Any]]) -> str:
    """A warning's one line, an InvertedImageWarning's image indices given as the files' names
    (``sources``: (name, source) in the order predicted)."""
    if isinstance(warning, InvertedImageWarning):
        return warning.naming([name for name, _ in sources])
    return " ".join(str(warning).split())


def _write(path: Path, text: str) -> None:
    write_output(path, lambda tmp: tmp.write_text(utf8_text(text), encoding="utf-8"))


CARD_SUFFIXES = (".md", ".markdown")  # what `card -o` writes


@click.command("card")
@click.argument("model")
@model_options
@data_dir_option("for the test set")
@click.option("-o", "--output", type=PathArg(), default=None,
              help="Write the card to this .md file (default, or -: print it).")
def card_command(model: str, variant: str | None, pick: str, store_path: str | None, data_dir: Path | None,
                 output: str | None) -> None:
    """Print (or write) the Markdown model card of a trained MODEL: layers, data, config, accuracy per
    class, most-confused pairs, training time, environment and the preprocessing a caller must apply.

    MODEL is a run id (or its unique prefix), or an experiment's name or file: its variant's run
    chosen by --pick (--variant where it has several), or the variant's committee.
    """
    from mnistlab.card import model_card

    if output == "-":  # as predict reads -, stdout
        output = None
    if output is not None:
        if Path(output).name.lower() in CARD_SUFFIXES:  # -o out/.md: a hidden file with no suffix, to Python
            raise OutputError(f"cannot write {output!r}: give the file a name before its suffix (card{Path(output).name})")
        if Path(output).suffix.lower() not in CARD_SUFFIXES:  # card -o model.onnx overwrote the model with text
            raise OutputError(f"cannot write {output!r}: a model card is Markdown, so the file name must end in "
                              f"{' or '.join(CARD_SUFFIXES)}")
        check_output_path(output)
    text = model_card(_load(store_path, model, variant, pick), data_dir=data_dir, warn=True)
    if output is None:
        click.echo(text, nl=False)
    else:
        _write(Path(output), text)
        click.echo(f"wrote {display_name(output)}")


def _exact(p: Any) -> float:
    """A float32 probability as the shortest float that reads back as it (9 significant digits): a
    small one is not rounded to 0 (helper-236: 6 decimals made log-loss from the CSV log(0))."""
    return float(f"{float(p):.9g}")


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def _conf(x: float) -> str:
    """A probability in percent that a mistake never shows as 100.00% nor a small one as 0.00%
    (helper-239: 0.9999895 read "100.00%")."""
    return percent_within(x, 2)  # (1.0 in float32 too: helper-242)


CLASS_COLUMNS = (Column("class", "class", whole=True), Column("precision", "precision", _pct, right=True),
                 Column("recall", "recall", _pct, right=True), Column("f1", "f1-score", _pct, right=True),
                 Column("support", "support", lambda n: f"{n:,}", right=True))
MISTAKE_COLUMNS = (Column("index", "test image", right=True, whole=True), Column("true", "true", whole=True),
                   Column("predicted", "predicted", whole=True), Column("confidence", "confidence", _conf, right=True),
                   Column("p_true", "p(true)", _conf, right=True), Column("second", "second guess", drop=1))
DISAGREE_COLUMNS = (Column("index", "test image", right=True, whole=True), Column("true", "true", whole=True),
                    Column("a", "A says", whole=True), Column("a_confidence", "A conf", _conf, right=True),
                    Column("b", "B says", whole=True), Column("b_confidence", "B conf", _conf, right=True),
                    Column("right", "right", lambda r: str(r).upper()))
TABLE_ROWS = 20  # the mistakes or disagreements a table shows unless --top says


@click.command("errors")
@click.argument("model")
@model_options
@data_dir_option("for the test labels")
@format_option()
@click.option("--confusion", is_flag=True, help="The confusion matrix (rows: the true class; columns: the predicted "
              "one) in place of the per-class table.")
@click.option("--mistakes", is_flag=True, help="The misclassified test images, most confident mistake first (test "
              "image index from 0, true and predicted class, confidence, the true class's probability, second guess).")
@click.option("--top", type=IntRange(0, 10**9), default=None,
              help=f"At most this many mistakes or disagreements (0: all; default {TABLE_ROWS} in a table, all in csv/json).")
@click.option("--against", default=None, help="A second MODEL (chosen by the same --pick): the test images where the "
              "two predict differently, and which is right (as A and B), A's most confident first.")
@click.option("--against-variant", default=None, help="The --against experiment's variant (needed when it has several).")
def errors_command(model: str, variant: str | None, pick: str, store_path: str | None, data_dir: Path | None, fmt: str,
                   confusion: bool, mistakes: bool, top: int | None, against: str | None,
                   against_variant: str | None) -> None:
    """Where a trained MODEL goes wrong on its test set, from its stored predictions: precision,
    recall (the per-class accuracy) and F1 per class with their macro and weighted averages, as
    scikit-learn's classification_report computes them (an undefined value, a class never
    predicted, shown as - and counted 0); the confusion matrix; calibration (expected calibration
    error over 15 confidence bins, Guo et al. 2017); the misclassified images; and, with
    --against, where two models disagree. Nothing is trained or predicted again.

    MODEL is a run id (or its unique prefix), or an experiment's name or file: its variant's run
    chosen by --pick (--variant where it has several), or the variant's committee. --confusion,
    --mistakes and --against show one view each: give one of them at most.
    """
    from mnistlab.error_analysis import analyse

    if sum((confusion, mistakes, against is not None)) > 1:
        raise click.UsageError("give one of --confusion, --mistakes and --against")
    if against_variant is not None and against is None:
        raise click.UsageError("--against-variant names the variant of --against MODEL: give --against too")
    if top is not None and not (mistakes or against):
        raise click.UsageError("--top limits the rows of --mistakes and --against: give one of them")
    store = open_store(store_path)
    trained = _load_from(store, model, variant, pick)
    report = analyse(trained, data_dir=data_dir)
    limit = (TABLE_ROWS if fmt == "table" else None) if top is None else (top or None)
    if chosen := _chosen(trained):  # MODEL named an experiment: which run, and how (helper-258: the best by test
        click.echo(f"note: {chosen}", err=True)  # accuracy, unsaid here where plot and card said it)
    if against is not None:
        try:
            other = _load_from(store, against, against_variant, pick)
        except MnistlabError as exc:  # its flag is --against-variant (helper-239: "choose one with --variant")
            said = copy.copy(exc)  # (its kind, line and other mistakes kept)
            said.args = (str(exc).replace("--variant", "--against-variant"),)
            raise said from None
        _say_disagreements(report, analyse(other, data_dir=data_dir), fmt, limit)
    elif mistakes:
        rows = report.mistakes()
        emit(rows[:limit], MISTAKE_COLUMNS, fmt, title=f"{report.who}: {len(rows):,} of {len(report.labels):,} test "
             "images misclassified, most confident first" if fmt == "table" else None,
             empty=f"{report.who}: no test image misclassified")
        _say_more(len(rows), limit, fmt)
    elif confusion:
        names = report.class_names
        columns = (Column("true", "true \\ predicted", whole=True),
                   *(Column(n, n, lambda c: f"{c:,}", right=True) for n in names))
        emit([{"true": t, **dict(zip(names, map(int, row)))} for t, row in zip(names, report.confusion)], columns, fmt,
             title=f"{report.who}: confusion matrix (rows: true class; columns: predicted)" if fmt == "table" else None)
    else:
        _say_classes(report, fmt)


def _say_more(n: int, limit: int | None, fmt: str) -> None:
    if fmt == "table" and limit is not None and n > limit:
        click.echo(f"... and {n - limit:,} more (--top 0 lists them all)", err=True)


def _say_classes(report: Any, fmt: str) -> None:
    """The per-class table, then (in a table) the calibration line and the misclassified count."""
    import numpy as np

    n, wrong = len(report.labels), int((report.predicted != report.labels).sum())
    title = (f"{report.who} on {n:,} test images of {report.dataset}: accuracy {_pct(report.accuracy)} "
             f"({wrong:,} misclassified)")
    emit(report.rows(), CLASS_COLUMNS, fmt, title=title if fmt == "table" else None)
    if fmt == "table":
        cal = report.calibration()
        click.echo(f"calibration: mean confidence {_pct(cal['confidence'])} for {_pct(cal['accuracy'])} accuracy; "
                   f"expected calibration error {100 * cal['ece']:.2f} points (15 confidence bins, Guo et al. 2017)")
        if np.isnan(report.precision).any() or np.isnan(report.recall).any():
            click.echo("note: - is undefined (a class never predicted, or with no test image); the averages count it "
                       "as 0, as scikit-learn's zero_division=0 does", err=True)


def _say_disagreements(a: Any, b: Any, fmt: str, limit: int | None) -> None:
    """``--against``: the counts (in a table) and the images where A and B predict differently."""
    from mnistlab.error_analysis import disagreements

    counts, rows = disagreements(a, b)
    if fmt == "table":
        n = counts["images"]  # each one's accuracy on the images compared (helper-239: on its own test set)
        click.echo(f"A: {a.who}, accuracy {_pct(counts['a_right'] / n)}\nB: {b.who}, accuracy {_pct(counts['b_right'] / n)}")
        part = (f" (the first {counts['images']:,}, which both were scored on)"
                if counts["images"] < max(len(a.labels), len(b.labels)) else "")
        click.echo(f"they disagree on {counts['disagree']:,} of {counts['images']:,} test images{part}: only A right on "
                   f"{counts['only_a_right']:,}, only B right on {counts['only_b_right']:,}, both wrong on "
                   f"{counts['both_wrong']:,}; they agree on a wrong class on {counts['agree_wrong']:,}")
    emit(rows[:limit], DISAGREE_COLUMNS, fmt, empty="they predict the same class for every test image")
    _say_more(len(rows), limit, fmt)


COMMANDS: list[click.Command] = [predict_command, export_command, card_command, errors_command]
