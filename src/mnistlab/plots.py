"""Figures: every picture the seed notebooks draw, as functions returning a matplotlib Figure.

Each function takes plain data (arrays, history dicts, comparison rows) and returns a
`matplotlib.figure.Figure` built without pyplot, so nothing ever opens a window and figures are
garbage-collected like any object. Save one with `fig.savefig("out.png")`.

>>> from mnistlab.datasets import load_dataset
>>> ds = load_dataset("fashion-mnist")                                                          # doctest: +SKIP
>>> plot_sample_grid(ds.train_images, ds.train_labels, ds.info.class_names).savefig("grid.png")  # doctest: +SKIP

Figures of recorded runs, fetched from a run store (`figure_for`), are `mnistlab.views`.
"""

from __future__ import annotations

import contextlib
import gc
import io
import logging
import math
import multiprocessing
import os
import re
import sys
import textwrap
import threading
import unicodedata
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any, TypeGuard

import numpy as np
import matplotlib
import matplotlib.transforms as mtransforms
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from mnistlab.errors import PlotError, ReportWarning, clip, did_you_mean, percent_within, user_level
from mnistlab.metrics import class_recall

if TYPE_CHECKING:  # torch loads with the figures of a model (feature maps, filters): curves and tables need none
    import torch
    from torch import nn

TRUE_COLOR = "blue"  # seed 002: the true label in blue ...
PRED_COLOR = "red"  # ... and the prediction in red
DATA_CMAP = "binary"  # every figure of dataset images: ink dark on light, as the Keras tutorials draw MNIST
FEATURE_CMAP = "inferno"  # seed 001's feature-map colormap


def save(fig: Figure, target: Any, **savefig: Any) -> None:
    """``fig.savefig(target, **savefig)`` without matplotlib's "findfont: Font family ... not found"
    lines (:func:`quiet_fonts`); a text of a name that is not UTF-8 (a class folder's: the surrogate
    escapes Python reads its bytes as) drawn as ``\\xNN``, which matplotlib's fonts refused with a
    TypeError (helper-169). A text in a right-to-left script gives a ReportWarning: matplotlib draws
    it left to right."""
    from matplotlib.text import Text

    from mnistlab.files import utf8_text

    backwards = False
    for text in fig.findobj(Text):
        if (shown := text.get_text()) != (fixed := utf8_text(shown)):
            text.set_text(fixed)
        backwards = backwards or any(unicodedata.bidirectional(c) in ("R", "AL") for c in fixed)
    if backwards:  # helper-184: "ארבע" drawn as "עברא", Arabic's letters unjoined, with no word
        warnings.warn("names in a right-to-left script (Hebrew, Arabic) are drawn left to right in the figures, Arabic's "
                      "letters unjoined: matplotlib lays no text out right to left", ReportWarning, stacklevel=user_level())
    kind = str(savefig.get("format") or os.path.splitext(str(getattr(target, "name", target)))[1].lstrip(".")).lower()
    # an SVG's text as text, to edit in a slide (helper-226: drawn as outlines), its element ids the same
    # each time it is drawn (helper-247: random ones made each redraw another file); a PDF's and an EPS's
    # fonts embedded as TrueType (Type 42), not Type 3, which many venues' checkers refuse (helper-244)
    with quiet_fonts(), matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "mnistlab"} if kind == "svg"
                                              else {}), matplotlib.rc_context({"pdf.fonttype": 42, "ps.fonttype": 42}):
        if kind in ("eps", "ps"):
            _save_postscript(fig, target, kind, savefig)
        else:
            fig.savefig(target, **savefig)


def _save_postscript(fig: Figure, target: Any, kind: str, savefig: dict[str, Any]) -> None:
    """``fig`` as EPS (or PS) at ``target`` (a path or a binary file): PostScript has no
    transparency (matplotlib fills a see-through artist opaque in its own colour: an sd band hid
    the bands behind it, a grid line at alpha 0.3 came out dark, helper-247), so each see-through
    artist is drawn in its colour as seen over white, the sd bands with a ReportWarning (where two
    overlap, the one drawn last hides the other); and no ``%%CreationDate`` (nor a temporary
    file's ``%%Title``), so that a figure drawn again is the same file."""
    from matplotlib.collections import Collection

    changed = [_opaque(a) for a in fig.findobj(lambda a: _see_through(a))]
    if any(isinstance(a, Collection) for a, _ in changed):
        warnings.warn(f"{kind.upper()} has no transparency: the sd bands are drawn in light opaque colours, and where "
                      "two overlap the one drawn last hides the other (a PDF or SVG keeps them see-through)",
                      ReportWarning, stacklevel=user_level())
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, **{**savefig, "format": kind})
    finally:
        for _, restore in changed:
            restore()
    data = re.sub(rb"^%%CreationDate:[^\n]*\n", b"", buffer.getvalue(), count=1, flags=re.MULTILINE)
    if isinstance(target, (str, os.PathLike)):
        with open(target, "wb") as f:
            f.write(data)
    else:
        target.write(data)


def _see_through(artist: Any) -> bool:
    """Whether ``artist`` is drawn partly transparent: its alpha, or its face colours' (a band's)."""
    from matplotlib.collections import Collection

    if not artist.get_visible():
        return False
    if (alpha := artist.get_alpha()) is not None and alpha < 1:
        return True
    return isinstance(artist, Collection) and bool((np.asarray(artist.get_facecolor()).reshape(-1, 4)[:, 3] < 1).any())


def _opaque(artist: Any) -> tuple[Any, Callable[[], object]]:
    """``artist`` recoloured as it looks over white, opaque; and how to put it back."""
    from matplotlib.collections import Collection
    from matplotlib.colors import to_rgba_array
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    alpha = artist.get_alpha()

    def over_white(colors: Any, alpha: float | None = None) -> np.ndarray:  # (a face's colours hold its alpha)
        rgba = to_rgba_array(colors)
        a = (1.0 if alpha is None else float(alpha)) * rgba[:, 3:4]
        return np.concatenate([rgba[:, :3] * a + (1 - a), np.ones_like(a)], axis=1)

    drawn: Any = artist  # (matplotlib's stubs take no arrays of colours, which its setters do)
    if isinstance(artist, Line2D):  # (a line's colour holds no alpha: its own applies)
        color = drawn.get_color()
        drawn.set_color(tuple(over_white(color, alpha)[0]))
        drawn.set_alpha(None)
        return artist, lambda: (drawn.set_color(color), drawn.set_alpha(alpha))
    if isinstance(artist, (Patch, Collection)):
        faces, edges = np.array(drawn.get_facecolor()), np.array(drawn.get_edgecolor())
        drawn.set_facecolor(over_white(faces) if faces.size else faces)
        drawn.set_edgecolor(over_white(edges) if edges.size else edges)
        drawn.set_alpha(None)
        return artist, lambda: (drawn.set_alpha(alpha), drawn.set_facecolor(faces), drawn.set_edgecolor(edges))
    return artist, lambda: None


def figure_metadata(suffix: str, description: str) -> dict[str, Any] | None:
    """``savefig``'s ``metadata`` for a figure file of ``suffix`` (``".pdf"``): ``description``
    (what drew it: the command, to draw it again) where the format has a field for it (PNG's text
    chunks, a PDF's Subject, an SVG's Dublin Core description), mnistlab's and matplotlib's versions,
    and no creation date in a PDF or an SVG, so that a figure drawn again from the same runs is the
    same file (helper-244: a PDF differed in its /CreationDate alone). None for JPEG and TIFF,
    which matplotlib writes no metadata into."""
    from mnistlab._version import __version__

    software = f"mnistlab {__version__} (matplotlib {matplotlib.__version__})"
    formats: dict[str, dict[str, Any]] = {
        ".png": {"Software": software, "Description": description},
        ".pdf": {"Creator": software, "Subject": description, "CreationDate": None},
        ".svg": {"Creator": software, "Description": description, "Date": None},
        ".eps": {"Creator": software}}
    return formats.get(suffix.lower())


def scale_fonts(fig: Figure, factor: float) -> Figure:
    """``fig`` with every text (titles, labels, ticks, legends, cell counts) ``factor`` times its
    size, as seaborn's ``font_scale`` (1.5: legible on a projector), and the figure sqrt(``factor``)
    times as wide and high: the text grows against it, with room for it. ``factor`` 1 changes nothing."""
    from matplotlib.text import Text

    if factor != 1:
        for text in fig.findobj(Text):
            text.set_fontsize(float(text.get_fontsize()) * factor)
        width, height = (float(inches) * math.sqrt(factor) for inches in fig.get_size_inches())  # room for the
        fig.set_size_inches((width, height))  # larger text, still larger against the figure (helper-229: at 2, a
        # title's second line was cut at both ends)
        if (title := getattr(fig, "_suptitle", None)) is not None:  # ... and lines that still outgrow it, wrapped
            # (helper-232; matplotlib keeps the suptitle there, with no public getter of the Text)
            _wrap_title(title, width)
    return fig


def resize(fig: Figure, width: float, height: float) -> Figure:
    """``fig`` at ``width`` x ``height`` inches (matplotlib's figsize: a paper's column), its title
    and each panel's title wrapped again to the new width (helper-247: at 3.5 inches a title was cut
    at both ends). The layout (constrained) fits the rest."""
    fig.set_size_inches((width, height))
    if (title := getattr(fig, "_suptitle", None)) is not None:  # (no public getter of the Text)
        _wrap_title(title, width)
    panels = [ax for ax in fig.axes if ax.get_title()]
    for ax in panels:  # a panel's title: its share of the width, its lines joined (they were wrapped to the old one)
        ax.title.set_text(" ".join(ax.get_title().split("\n")))
        _wrap_title(ax.title, width / len(panels))
    return fig


def _wrap_title(title: Any, inches: float) -> None:
    """Each line of a title (a matplotlib Text) wrapped to ``inches`` of width at its font size
    (about 0.6 of a point's width a character; at least 20 characters a line)."""
    fits = max(20, int(inches * 72 / (0.6 * float(title.get_fontsize()))))
    title.set_text("\n".join(textwrap.fill(line, fits) for line in title.get_text().split("\n")))


@contextlib.contextmanager
def quiet_fonts() -> Iterator[None]:
    """Drawing inside the block says no "findfont: Font family ... not found" lines: a stale font
    cache makes every figure with mathtext (a log axis's ticks) say them, dozens a report, though
    the fallback font draws the figure. Other font errors still log."""
    fonts = logging.getLogger("matplotlib.font_manager")
    level = fonts.level
    fonts.setLevel(logging.ERROR)
    try:
        yield
    finally:
        fonts.setLevel(level)


def png_bytes(fig: Figure, dpi: int = 80) -> bytes:
    """``fig`` as the bytes of a PNG file at ``dpi`` dots per inch (:func:`save`)."""
    buf = io.BytesIO()
    save(fig, buf, format="png", dpi=dpi)
    return buf.getvalue()


def shown_inline_in_ipython() -> bool:
    """In IPython or Jupyter, show a Figure on a cell's last line (or given to ``display``) as a PNG,
    as pyplot's are: mnistlab's figures are made without pyplot, and the inline backend registers
    its formatter only when pyplot is imported (helper-182: only ``<Figure size 1350x420 with 2
    Axes>``). A formatter already registered (``%matplotlib inline``, ``%config
    InlineBackend``) is left alone. Called when this module is imported; True when one was added."""
    ipython = sys.modules.get("IPython")
    shell = getattr(ipython, "get_ipython", lambda: None)() if ipython is not None else None
    formatter = getattr(shell, "display_formatter", None)
    if formatter is None or not (png := formatter.formatters.get("image/png")):
        return False
    for kind in ("image/png", "image/svg+xml", "image/jpeg", "application/pdf"):  # (an SVG-only choice kept:
        try:  # a PNG added beside it sent each figure twice, helper-186)
            if kind in formatter.formatters and formatter.formatters[kind].lookup_by_type(Figure):
                return False
        except KeyError:
            pass
    png.for_type(Figure, lambda fig: png_bytes(fig, dpi=100))
    return True


MAX_RENDERERS = 8  # render_pngs's default ceiling on processes
_INHERITED: tuple[Sequence[Figure], int] | None = None  # what render_pngs's forked workers draw, by index


def _inherited_png(index: int) -> bytes:
    assert _INHERITED is not None, "a renderer runs only in a process forked by render_pngs"
    figures, dpi = _INHERITED
    return png_bytes(figures[index], dpi)


def _forks_safely() -> bool:
    """Whether this process may fork renderers: Linux (fork is cheap there, and the children
    inherit the figures without pickling them) with no other Python thread alive, so that no lock
    such a thread holds (logging's, a stream's) is copied held. Threads of C libraries may run:
    numpy's BLAS pool is fork-safe (it re-arms itself after fork), as torch's DataLoader relies on."""
    return (sys.platform == "linux" and "fork" in multiprocessing.get_all_start_methods()
            and threading.active_count() == 1)


def render_pngs(figures: Sequence[Figure], *, dpi: int = 80, jobs: int | None = None) -> list[bytes]:
    """Each figure as PNG bytes (:func:`png_bytes`), in order, up to ``jobs`` at once.

    Drawing a figure is matplotlib's pure-Python work (layout, text, Agg), 0.2-0.8 s each on one
    core; a report has three per variant. With ``jobs`` > 1 (default: the cores this process may
    use, at most :data:`MAX_RENDERERS`) and several figures, forked processes draw them, each
    inheriting the figures (nothing is pickled but the PNGs coming back); the bytes are those drawn
    here. Serial where forking is not safe or cheap (not Linux, or other Python threads alive: a
    notebook's kernel), and when a renderer dies.
    """
    global _INHERITED
    if jobs is None:  # at most MAX_RENDERERS: each is a fork of this process (a container's quota is not seen here)
        jobs = min(MAX_RENDERERS, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    workers = min(jobs, len(figures))
    if workers > 1 and _INHERITED is None and _forks_safely():
        _INHERITED = (figures, dpi)
        gc.freeze()  # the heap as it is now stays out of the children's collections: shared, not copied
        try:
            with warnings.catch_warnings(), ProcessPoolExecutor(
                    workers, mp_context=multiprocessing.get_context("fork")) as pool:
                # Python >= 3.12 warns at any fork beside C threads (numpy's BLAS pool): see _forks_safely
                warnings.filterwarnings("ignore", "This process .* is multi-threaded", DeprecationWarning)
                return list(pool.map(_inherited_png, range(len(figures))))
        except BrokenProcessPool:  # a renderer killed (out of memory, a signal): draw them here
            pass
        finally:
            _INHERITED = None
            gc.unfreeze()
    return [png_bytes(fig, dpi) for fig in figures]


# --------------------------------------------------------------------------- pure maths


def sure(p: float) -> str:
    """A probability as a percentage that never rounds up to 100% (helper-236: a mistake "at 100%"
    was 99.77%): whole percents, one decimal from 99.5% (truncated: 99.9% for 99.98%).

    >>> sure(0.871), sure(0.9977), sure(0.99996), sure(1.0)
    ('87%', '99.7%', '99.9%', '100%')
    """
    if 0.995 <= p < 1.0:
        return f"{math.floor(p * 1000) / 10:.1f}%"
    return f"{p:.0%}"


def most_confused_pairs(cm: np.ndarray, k: int = 5, *, ties: bool = False) -> list[tuple[int, int, int]]:
    """The k largest off-diagonal cells of a confusion matrix as (true, pred, count), largest first.

    Ties break by (true, pred) so the answer is deterministic; zero cells are never returned.
    ``ties``: also every cell tied with the k-th (helper-236: a card's list of 5 left out a sixth
    pair of the same count without a word).
    """
    cm = np.asarray(cm)
    pairs = [(int(t), int(p), int(cm[t, p])) for t in range(cm.shape[0]) for p in range(cm.shape[1])
             if t != p and cm[t, p] > 0]
    pairs.sort(key=lambda x: (-x[2], x[0], x[1]))
    k = max(int(k), 0)
    if ties and 0 < k < len(pairs):
        k += sum(1 for p in pairs[k:] if p[2] == pairs[k - 1][2])
    return pairs[:k]


def _as_images(images: Any) -> np.ndarray:
    """(N, H, W) float array from (N, H, W), (N, 1, H, W) or (N, H, W, 1) input."""
    arr = np.asarray(images)
    if arr.ndim == 4 and arr.shape[1] == 1:
        arr = arr[:, 0]
    elif arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim != 3:
        raise PlotError(f"expected images shaped (N, H, W), got {arr.shape}")
    return arr


def data_cmap(images: np.ndarray) -> str:
    """The colormap that draws (N, H, W) dataset images with the ink dark on light: ``binary``
    (:data:`DATA_CMAP`: the value is ink, as in MNIST's black background) unless the images'
    borders are mostly light (scans of dark ink on paper, as a user's own data may be): then
    ``gray`` (the value is brightness), so they are drawn as the files look, not inverted."""
    if images.size == 0 or images.shape[1] < 2 or images.shape[2] < 2:
        return DATA_CMAP
    border = np.concatenate([images[:, 0, :], images[:, -1, :], images[:, :, 0], images[:, :, -1]], axis=1)
    lo, hi = float(images.min()), float(images.max())
    return "gray" if hi > lo and float(np.median(border)) > (lo + hi) / 2 else DATA_CMAP


def _class_name(class_names: Sequence[str] | None, i: int) -> str:
    """Class ``i``'s name as a figure draws it (a class folder's name that is not UTF-8 as ``\\xNN``:
    matplotlib's fonts refuse its surrogate escapes), else its index."""
    from mnistlab.files import utf8_text

    return utf8_text(str(class_names[i])) if class_names is not None and 0 <= i < len(class_names) else str(i)


# --------------------------------------------------------------------------- data


def sample_indices(labels: Sequence[int] | np.ndarray, n: int) -> np.ndarray:
    """Which ``n`` images a sample grid shows: the first ``n`` (what a notebook's ``x_train[:25]``
    shows), unless the data is sorted by class (a folder of class folders, a sorted CSV), where
    those would all be one class; then the first image of each class in turn, then the second of
    each, and so on.

    ``labels``: int (N,). Returns int64 indices (at most ``n``), in the order they are shown.
    """
    y = np.asarray(labels).astype(np.int64, copy=False)
    classes = np.unique(y)
    if len(classes) < 2 or np.any(np.diff(y) < 0):
        return np.arange(min(n, len(y)))
    by_class = [np.flatnonzero(y == c) for c in classes]
    rounds = max(len(ix) for ix in by_class)
    order = [ix[r] for r in range(rounds) for ix in by_class if r < len(ix)]
    return np.asarray(order[:n], dtype=np.int64)


def plot_sample_grid(images: Any, labels: Sequence[int] | np.ndarray, class_names: Sequence[str] | None,
                     rows: int = 5, cols: int = 5, title: str | None = None) -> Figure:
    """A rows x cols grid of the first images, each titled with its class name (seed 004), under
    ``title`` when given (what they are: ``"fashion-mnist, train set"``)."""
    imgs = _as_images(images)
    if rows < 1 or cols < 1:
        raise PlotError(f"grid must be at least 1x1, got {rows}x{cols}")
    n = min(rows * cols, len(imgs))
    if n == 0:
        raise PlotError("no images to show")
    fig, cmap = Figure(figsize=(1.6 * cols, 1.7 * rows), layout="constrained"), data_cmap(imgs[:n])
    for i in range(n):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.imshow(imgs[i], cmap=cmap)
        ax.set_title(_class_name(class_names, int(labels[i])), fontsize=9)
        ax.set_xticks([]), ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def plot_image(image: Any, title: str | None = None) -> Figure:
    """One raw image in its own pixel values with a colour bar (seed 004)."""
    img = np.asarray(image)
    if img.ndim == 3 and 1 in (img.shape[0], img.shape[-1]):
        img = img.reshape(img.shape[1:] if img.shape[0] == 1 else img.shape[:-1])
    if img.ndim != 2:
        raise PlotError(f"expected one image shaped (H, W), got {img.shape}")
    fig = Figure(figsize=(5, 4), layout="constrained")
    ax = fig.add_subplot()
    shown = ax.imshow(img, cmap="gray")
    fig.colorbar(shown, ax=ax)
    if title:
        ax.set_title(str(title))
    return fig


# --------------------------------------------------------------------------- curves

# (label, per-epoch dicts, test accuracy or None[, the validation curves' name: "val" unless given])
HistoryRun = (tuple[str, Sequence[Mapping[str, Any]], "float | None"]
              | tuple[str, Sequence[Mapping[str, Any]], "float | None", str])


@dataclass(frozen=True)
class SeedCurves:
    """Runs of one setting over seeds, which :func:`plot_history` draws as one curve: each epoch's
    mean, in a band of +- one sample sd (n - 1 in its denominator, as the tables' sd) where two or
    more runs reached that epoch, and the test accuracies' mean as one line (W&B's grouped runs,
    seaborn's ``errorbar="sd"``). ``histories``: each run's per-epoch dicts (or Keras's
    ``history.history``); ``test_accuracies``: each run's (None where a run has none)."""

    label: str
    histories: Sequence[Any]
    test_accuracies: Sequence[float | None] = ()
    val: str = "val"


def _mean_history(curves: SeedCurves) -> tuple[str, list[Mapping[str, Any]], float | None, str]:
    """:class:`SeedCurves` as :func:`_history_run` gives a run: its label with n, its epochs' means
    (with each key's sd beside it as ``KEY_sd`` where two or more runs had it), the mean test accuracy."""
    runs = [_history_run((curves.label, h, None))[1] for h in curves.histories]
    if not runs:
        raise PlotError(f"{curves.label}: no runs to draw")
    by_epoch: dict[int, dict[str, list[float]]] = {}
    for history in runs:
        for i, row in enumerate(history):
            at = by_epoch.setdefault(int(row.get("epoch", i + 1)), {})
            for key, v in row.items():
                if key != "epoch" and isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                    at.setdefault(key, []).append(float(v))
    mean: list[Mapping[str, Any]] = [{"epoch": e, **{k: float(np.mean(v)) for k, v in at.items()},
             **{f"{k}_sd": float(np.std(v, ddof=1)) for k, v in at.items() if len(v) > 1}}
            for e, at in sorted(by_epoch.items())]
    tests = [float(t) for t in curves.test_accuracies if t is not None and math.isfinite(float(t))]
    return f"{curves.label} (n={len(runs)})", mean, float(np.mean(tests)) if tests else None, curves.val


def _series(history: Sequence[Mapping[str, Any]], key: str) -> tuple[list[int], list[float]]:
    xs, ys = [], []
    for i, row in enumerate(history):
        v = row.get(key)
        if v is not None and not (isinstance(v, float) and math.isnan(v)):
            xs.append(int(row.get("epoch", i + 1)))
            ys.append(float(v))
    return xs, ys


def _history_run(given: Any) -> tuple[str, list[Mapping[str, Any]], float | None, str]:
    """One of :func:`plot_history`'s runs as (label, per-epoch dicts, test accuracy or None, the
    validation curves' name)."""
    if hasattr(given, "history") and hasattr(given, "test_accuracy"):  # a Run, as train() returns it, or a record
        config = getattr(given, "config", None) or {}
        label = (f"{given.variant} seed {given.seed}" if hasattr(given, "variant") and hasattr(given, "seed")  # (a store's
                 else str((config.get("model") or {}).get("name") or "run"))  # records: one model, told apart)
        given = (label, given.history, given.test_accuracy)
    if not isinstance(given, (tuple, list)) or len(given) not in (2, 3, 4):
        raise PlotError(f"plot_history takes (label, history, test_accuracy) tuples or runs, got {type(given).__name__}")
    label, history, test_acc, val = (*given, None, "val")[:4] if len(given) == 2 else (*given, "val")[:4]
    if isinstance(history, Mapping):  # Keras's history.history: {"loss": [...], "accuracy": [...]}
        n = max((len(v) for v in history.values() if isinstance(v, (list, tuple))), default=0)
        history = [{"epoch": i + 1, **{k: v[i] for k, v in history.items() if isinstance(v, (list, tuple)) and i < len(v)}}
                   for i in range(n)]
    if not isinstance(history, (list, tuple)) or not all(isinstance(h, Mapping) for h in history):
        raise PlotError(f"{label}: a history is a list of per-epoch dicts or Keras's history.history dict, got "
                        f"{type(history).__name__}")
    return str(label), list(history), test_acc, str(val)


def _history_runs(runs: Any) -> list[tuple[str, list[Mapping[str, Any]], float | None, str]]:
    """:func:`plot_history`'s ``runs``, each as :func:`_history_run` gives it; one run or one history
    given alone as a list of it (helper-157: "'Run' object is not iterable"; Keras's history.history
    dict, or a run's History, a list of epochs)."""
    if isinstance(runs, Mapping) or (hasattr(runs, "history") and hasattr(runs, "test_accuracy")):
        return [_history_run(("run", runs, None) if isinstance(runs, Mapping) else runs)]
    given: list[Any] = list(runs) if isinstance(runs, Iterable) and not isinstance(runs, str) else [runs]
    if any(isinstance(r, SeedCurves) for r in given):  # (grouped over seeds: each named by its setting already)
        return [_mean_history(r) if isinstance(r, SeedCurves) else _history_run(r) for r in given]
    if given and all(isinstance(h, Mapping) and not any(isinstance(v, (list, tuple)) for v in h.values())
                     for h in given):  # epochs (scalars), not several Keras history.history dicts (review)
        given = [("run", given, None)]
    curves = [_history_run((f"run {i + 1}", r, None) if isinstance(r, Mapping) else r)  # several Keras history
              for i, r in enumerate(given)]  # dicts: numbered
    labels = [c[0] for c in curves]
    return [(f"{label} ({_run_name(given[i], i)})" if labels.count(label) > 1 and not isinstance(given[i], (tuple, list))
             else label, history, test, val) for i, (label, history, test, val) in enumerate(curves)]  # (helper-237: two
    # runs both read "run train")


def _run_name(given: Any, i: int) -> str:
    """What tells apart runs of one label: the run's id, where it has one, else its place in the list."""
    rid = getattr(given, "run_id", None)
    return f"run {rid}" if isinstance(rid, str) and rid else f"#{i + 1}"


LOG_LOSS_SPAN = 1000  # a loss this many times the median of all drawn puts the panel on a log scale (helper-129)


def plot_history(runs: Sequence[HistoryRun] | Any) -> Figure:
    """Accuracy and loss per epoch: train solid, validation dashed, test accuracy as a horizontal
    line; and the learning rate (log scale) where a run's changed (a schedule, ReduceLROnPlateau).

    `runs` is a list of (label, history, test_accuracy or None), or of (label, history), or of
    trained runs (:class:`mnistlab.Run`: labelled by their model); each history is the per-epoch
    list of dicts a run records (epoch, loss, accuracy, val_loss, val_accuracy, lr), or Keras's
    ``history.history`` dict of lists; or one run or history given alone. A fourth item names the
    validation curves (``"val"``
    unless given: ``"val (test set)"`` where the test set validated). Several runs overlay in the
    same panels, one colour each (seeds 002 and 003); a loss :data:`LOG_LOSS_SPAN` times the
    median of those drawn (a run that blew up) puts the loss panel on a log scale. PlotError, one
    line, for anything else.
    """
    curves = _history_runs(runs)
    if not curves:
        raise PlotError("no runs to plot")
    changed = any(len(set(_series(history, "lr")[1])) > 1 for _, history, _, _ in curves)  # helper-154: a schedule
    fig = Figure(figsize=(11, 4.2), layout="constrained")  # or a plateau's cuts were in `show` alone
    ax_acc, ax_loss = fig.add_subplot(1, 2 + changed, 1), fig.add_subplot(1, 2 + changed, 2)
    ax_lr = fig.add_subplot(1, 3, 3) if changed else None
    plotted: set[int] = set()  # the epochs of every curve
    drawn = [_draw_curve(ax_acc, ax_loss, ax_lr, f"C{i % 10}", curve, plotted) for i, curve in enumerate(curves)]
    if not any(drawn):
        raise PlotError("the runs have no recorded epochs")
    _accuracy_axis(ax_acc, [t for _, _, t, _ in curves])
    ax_loss.set(title="Loss", xlabel="epoch", ylabel="loss")
    if any(isinstance(r, SeedCurves) for r in (runs if isinstance(runs, (list, tuple)) else [])):
        for ax in (ax_acc, ax_loss):  # (n in each curve's label)
            ax.set_title(f"{ax.get_title()}: mean ± sd over seeds")
    if ax_lr is not None:  # the rate each epoch logged (a schedule spans decades: log scale)
        ax_lr.set(title="Learning rate", xlabel="epoch", ylabel="lr (log scale)", yscale="log")
    losses = np.concatenate([np.asarray(line.get_ydata(), float) for line in ax_loss.get_lines()] or [np.zeros(0)])
    losses = losses[np.isfinite(losses) & (losses > 0)]
    if losses.size and losses.max() > LOG_LOSS_SPAN * np.median(losses):  # a diverged run's 1e8 flattened every
        # other curve; a healthy long run's fall to 1e-4 stays linear (helper-131)
        ax_loss.set(yscale="log", ylabel="loss (log scale)")
    _epoch_axes([ax_acc, ax_loss, *([ax_lr] if ax_lr is not None else [])], sorted(plotted))
    # one legend beside the panels, never over the curves (helper-129: inside a panel it hid one)
    fig.set_size_inches((13.5 if len(curves) <= 3 else 14) + 4.5 * changed, 4.2 if len(curves) <= 3 else 4.8)
    shown = dict(zip(*reversed(ax_acc.get_legend_handles_labels())))
    for handle, label in zip(*ax_loss.get_legend_handles_labels()):  # a history of losses alone (helper-131)
        shown.setdefault(label, handle)
    last = ax_lr if ax_lr is not None else ax_loss  # beside the last panel, level with it: never over the figure's
    last.legend(list(shown.values()), list(shown), loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=8,  # title
                handlelength=3, borderaxespad=0.0)  # (helper-244: the figure's legend at its top covered the title)
    return fig


def _draw_curve(ax_acc: Any, ax_loss: Any, ax_lr: Any, color: str, curve: tuple[str, Sequence[Mapping[str, Any]],
                float | None, str], plotted: set[int]) -> bool:
    """One run's (or :class:`SeedCurves`' mean's) curves in :func:`plot_history`'s panels, in
    ``color``: train solid, validation dashed, a band where the epochs hold an sd, the test
    accuracy dotted, the learning rate in ``ax_lr``; its epochs added to ``plotted``. Whether it
    had a train curve."""
    label, history, test_acc, val = curve
    drawn = False
    if ax_lr is not None and (lr := _series(history, "lr"))[0]:
        ax_lr.plot(*lr, color=color, linestyle="-", marker="o", markersize=3)
    for ax, key in ((ax_acc, "accuracy"), (ax_loss, "loss")):
        x, y = _series(history, key)
        if x:
            ax.plot(x, y, color=color, linestyle="-", marker="o", markersize=3, label=f"{label} train")
            drawn = True
            plotted.update(x)
            _band(ax, history, key, color)
        x, y = _series(history, f"val_{key}")
        if x:
            # open squares: in a legend's short line the dashes hide behind a marker, the marker does not
            ax.plot(x, y, color=color, linestyle="--", marker="s", markersize=3, markerfacecolor="white",
                    label=f"{label} {val}")
            plotted.update(x)
            _band(ax, history, f"val_{key}", color)
    if test_acc is not None:
        ax_acc.axhline(float(test_acc), color=color, linestyle=":", label=f"{label} test {float(test_acc):.2%}")
    return drawn


def _band(ax: Any, history: Sequence[Mapping[str, Any]], key: str, color: str) -> None:
    """The +- one sd band around a :class:`SeedCurves` mean ``key`` (its epochs' ``KEY_sd``), where
    two or more runs reached the epoch; nothing for one run's curve."""
    rows = [r for r in history if isinstance(r.get(f"{key}_sd"), float) and isinstance(r.get(key), float)]
    if rows:
        x = [int(r["epoch"]) for r in rows]
        mean, sd = np.array([r[key] for r in rows]), np.array([r[f"{key}_sd"] for r in rows])
        ax.fill_between(x, mean - sd, mean + sd, color=color, alpha=0.15, linewidth=0)


def _accuracy_axis(ax: Any, tests: Sequence[Any]) -> None:
    """The accuracy panel titled, its axis in percent as the legend's test scores (helper-226: 0.975
    beside 97.60%), its limits taking in the test lines ``tests`` (None where a run has none) with a
    margin (helper-226: a line on the panel's edge)."""
    ax.set(title="Accuracy", xlabel="epoch", ylabel="accuracy")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    shown = [float(t) for t in tests if t is not None and math.isfinite(float(t))]
    if shown:
        low, high = ax.get_ylim()
        low, high = min(low, *shown), max(high, *shown)
        pad = 0.05 * ((high - low) or 0.01)
        ax.set_ylim(low - pad, high + pad)


def _epoch_axes(axes: Sequence[Any], epochs: Sequence[int]) -> None:
    """Epoch x axes with a grid: each epoch ticked when there are 20 or fewer (they are whole
    numbers), else whole-number ticks."""
    for ax in axes:
        if len(epochs) <= 20:
            ax.set_xticks(epochs)
            ax.set_xlim(epochs[0] - 0.5, epochs[-1] + 0.5)
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)


# --------------------------------------------------------------------------- comparisons


def _mean_acc(row: Mapping[str, Any]) -> Any:
    # compare.compare calls the mean "test_acc"; "test_acc_mean" is accepted as well.
    return row.get("test_acc_mean", row.get("test_acc"))


def _why_not(row: Mapping[str, Any], why: str) -> str:
    """Why a comparison row has no point: its note's "no result: 1 failed", else ``why``."""
    note = str(row.get("note") or "")
    return note.split(";")[0] if note.startswith("no result") else why


def _left_out(ax: Any, rows: Sequence[Mapping[str, Any]], drawn: Sequence[Mapping[str, Any]], why: str) -> None:
    """Say under ``ax``'s x label which of ``rows`` are not among the ``drawn`` ones, and why (their
    note's "no result: 1 failed", or ``why``): helper-129, a failed variant was silently missing."""
    shown = {str(r.get("variant")) for r in drawn}
    missing = [f"{r.get('variant')} ({_why_not(r, why)})" for r in rows if str(r.get("variant")) not in shown]
    if missing:
        ax.set_xlabel(f"{ax.get_xlabel()}\nnot drawn: {_wrapped(', '.join(missing), 90, ',')}", fontsize=8)


def _rows_with(rows: Sequence[Mapping[str, Any]], *keys: str) -> list[Mapping[str, Any]]:
    """The rows that have a mean test accuracy and every one of `keys`, with "acc" filled in."""
    usable: list[Mapping[str, Any]] = [{**r, "acc": _mean_acc(r)} for r in rows]
    usable = [r for r in usable if r["acc"] is not None and all(r.get(k) is not None for k in keys)]
    if not usable:
        scored = [str(r.get("variant")) for r in rows if _mean_acc(r) is not None]
        lacking = [k for k in keys if k != "variant"]
        if scored and lacking:  # helper-129: a committee across variants has no parameter count of its own
            raise PlotError(f"{', '.join(scored)}: no {' or '.join(lacking)} of {'its' if len(scored) == 1 else 'their'} "
                            "own (a committee across variants has none), so nothing to draw here; plot compare draws it")
        if rows:  # helper-130: "no comparison rows with a test accuracy and variant, params (has it finished any runs?)"
            said = ", ".join(f"{r.get('variant')} ({_why_not(r, 'no test accuracy')})" for r in rows)
            raise PlotError(f"nothing to draw: no variant has a result: {said}")
        raise PlotError("nothing to draw: no comparison rows (has the experiment finished any runs?)")
    return usable


def plot_lr_find(found: Any) -> Figure:
    """The learning-rate range test (:func:`mnistlab.lr_finder.lr_find`): each step's loss (faint) and
    its smoothed loss against the rate, on a log axis, the suggestion marked (fastai's and
    Lightning's ``plot(suggest=True)``). PlotError where no step ran."""
    lrs, losses, smoothed = (np.asarray(v, dtype=np.float64) for v in (found.lrs, found.losses, found.smoothed))
    if not len(lrs):
        raise PlotError("the learning-rate range test ran no step: nothing to draw")
    fig = Figure(figsize=(6.5, 4.2), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(lrs, losses, color="0.75", linewidth=0.8, label="loss of each batch")
    ax.plot(lrs, smoothed, color="C0", label="smoothed loss")
    if found.suggestion is not None:
        at = int(np.argmin(np.abs(lrs - found.suggestion)))
        ax.plot([lrs[at]], [smoothed[at]], "o", color="C3", label=f"suggested lr {found.suggestion:.3g}")
    finite = smoothed[np.isfinite(smoothed)]
    if len(finite):  # the diverging end would squash the curve: show up to a little past where it started
        ax.set_ylim(float(finite.min()) - 0.05 * abs(float(finite.min())), float(max(finite[0], finite.min())) * 1.5 + 1e-9)
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("training loss")
    ax.set_title("learning-rate range test")
    ax.legend()
    return fig


def plot_comparison(rows: Sequence[Mapping[str, Any]]) -> Figure:
    """Test accuracy per variant: the mean of its runs as a point, their standard deviation as an
    error bar (none for a variant of one run: one run shows no spread, not a spread of 0), n
    written above; a committee's accuracy (a committee variant's, or a ``[[committees]]`` row's)
    as a diamond. Points, not bars: the axis is zoomed to the accuracies, and a bar's length would
    not be its value. Rows without a test accuracy (a variant whose runs failed) are named under the
    axis. At most :data:`MAX_POINTS` variants, the best by mean test accuracy in their order, the title
    saying so, with a ReportWarning (helper-196: 120 variants drew an image 11,000 pixels wide)."""
    given, scored = rows, _rows_with(rows, "variant")
    rows = _best_points(scored)
    names = [str(r["variant"]) for r in rows]
    means = np.array([float(r["acc"]) for r in rows])
    stds = np.array([float(r.get("test_acc_std") or 0.0) for r in rows])
    several = np.array([isinstance(r.get("n"), int) and r["n"] > 1 for r in rows])
    stds[~several] = 0.0
    x = np.arange(len(rows))
    longest = max((len(line) for n in names for line in _wrapped(n).splitlines()), default=0)  # (its labels slant
    fig = Figure(figsize=(max(6.0, 0.9 * len(rows) + 2), 4.2 + 0.05 * longest), layout="constrained")  # below it)
    ax = fig.add_subplot()
    ax.plot(x, means, "o", color="C0", label="mean of the runs")
    if several.any():
        ax.errorbar(x[several], means[several], yerr=stds[several], fmt="none", ecolor="C0", capsize=4)
    # a committee variant's repeats: the mean of its committees, their sd as its bar (helper-146: none was drawn)
    spread = [float(r.get("committee_acc_std") or 0.0) if (r.get("committees") or 0) > 1 else 0.0 for r in rows]
    for i, r in enumerate(rows):  # above its committee's diamond too (helper-129: the diamond hid it)
        top = max(means[i] + stds[i], float(r.get("committee_acc") or -1.0) + spread[i])
        said = f"n={r.get('n', '?')}" + (f"\n{r['committees']} committees" if (r.get("committees") or 0) > 1 else "")
        ax.annotate(said, (i, top), ha="center", va="bottom", fontsize=7, xytext=(0, 6), textcoords="offset points")
    committees = [(i, float(r["committee_acc"])) for i, r in enumerate(rows) if r.get("committee_acc") is not None]
    if committees:
        beside = 0.15 if any(spread) else 0.0  # its bar beside its runs' bar, not on it
        ax.scatter([i + beside for i, _ in committees], [c for _, c in committees], marker="D", color="C3", zorder=3,
                   label="committee (mean ± sd of its repeats)" if any(spread) else "committee")
        if bars := [(i + beside, c, spread[i]) for i, c in committees if spread[i] > 0]:
            bx, by, be = (np.array(v) for v in zip(*bars))
            ax.errorbar(bx, by, yerr=be, fmt="none", ecolor="C3", capsize=4, zorder=3)
        ax.legend(loc="best", fontsize=8)
    ax.set_xticks(x, [_wrapped(n) for n in names], rotation=30, ha="right")
    ax.set_xlim(-0.6, len(rows) - 0.4)
    tops = np.concatenate([means + stds, [c + spread[i] for i, c in committees]])
    low = float(np.nanmin(np.concatenate([means - stds, [c - spread[i] for i, c in committees]])))
    high = float(np.nanmax(tops))
    span = max(high - low, 0.01)  # room above the highest for its "n=" (it overlapped the title), in the axis's scale
    room = 2 if any((r.get("committees") or 0) > 1 for r in rows) else 1  # lines of the labels above
    ax.set_ylim(max(0.0, low - max(0.02, 0.05 * span)), high + room * max(0.02, 0.12 * span))
    title = "Test accuracy per variant (mean ± sd of n runs)"
    beyond = {str(r["variant"]) for r in scored} - set(names)  # scored, past MAX_POINTS
    if beyond:
        title += f"\nthe {len(rows)} best of {len(scored)} variants"
    ax.set(title=title, xlabel="variant", ylabel="test accuracy")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))  # as the tables and the history's axis (helper-244: 0.90)
    _left_out(ax, [r for r in given if str(r.get("variant")) not in beyond], rows, "no test accuracy")
    ax.grid(axis="y", alpha=0.3)
    return fig


MAX_POINTS = 40  # variants one comparison figure draws: past that, the best (its width grows with them)


def _best_points(rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The rows :func:`plot_comparison` draws, in their order: all, or the :data:`MAX_POINTS` with the
    best mean test accuracy, a ReportWarning naming how many were left out."""
    if len(rows) <= MAX_POINTS:
        return list(rows)
    best = {id(r) for r in sorted(rows, key=lambda r: -float(r["acc"]))[:MAX_POINTS]}
    warnings.warn(f"the comparison figure draws the {MAX_POINTS} best of {len(rows)} variants by mean test accuracy "
                  "(--variant draws others)", ReportWarning, stacklevel=user_level())
    return [r for r in rows if id(r) in best]


def _wrapped(label: str, width: int = 28, after: str = ",") -> str:
    """A long tick label on lines of about ``width`` characters, broken at spaces and after the
    commas of a setting's name (``cnn (lr=0.01,batch=64,opt=sgd)``), or after each character of
    ``after`` (``",."``: a layer's dotted path too); a short one as it is."""
    if len(label) <= width:
        return label
    pieces = re.split(rf"(\s+|(?<=[{re.escape(after)}]))", label)  # word, separator, word, ...; "" after a comma
    lines = [pieces[0]]
    for sep, word in zip(pieces[1::2], pieces[2::2]):
        if lines[-1] and len(lines[-1]) + len(sep) + len(word) > width:
            lines.append(word)  # the separator at a break is dropped: the comma stays on its line
        else:
            lines[-1] += sep + word
    return "\n".join(lines)


def _scatter_rows(rows: Sequence[Mapping[str, Any]], xkey: str, xlabel: str, title: str, log: bool) -> Figure:
    """One point per row, with its sd as an error bar and its variant's name beside it. Variants
    at one x (the same parameter count) are drawn at that x, shifted a few points apart on the page
    (:data:`DODGE_POINTS`), their names stacked above them in their colours, so that bars and names
    do not sit on each other while the axis still reads their one value (helper-146: spread in
    data units, three of 55,098 read 53k, 55k and 57k); another name on the right half of the plot
    goes to the left of its point, so that it stays inside the axes, and one that would print over
    another's goes to the other side."""
    given, rows = rows, _rows_with(rows, "variant", xkey)
    log = log and all(float(r[xkey]) > 0 for r in rows)
    xs = [float(r[xkey]) for r in rows]
    groups: dict[float, list[int]] = {}  # the rows of each value of x
    for i, x in enumerate(xs):
        groups.setdefault(x, []).append(i)
    shifts = _dodged(groups, len(xs))
    if any(shifts):  # helper-129: two of 101,770 drawn at 97k and 105k, unsaid
        xlabel += " (variants of one value drawn a few points apart)"
    lo, hi = min(xs), max(xs)
    fig = Figure(figsize=(6.5, 4.5), layout="constrained")
    ax = fig.add_subplot()
    if log:
        ax.set_xscale("log")
    def where(v: float) -> float:  # a value's place along the x axis, 0 to 1
        return 0.0 if hi <= lo else (math.log(v) - math.log(lo)) / (math.log(hi) - math.log(lo)) if log else (v - lo) / (hi - lo)

    stds = [float(r.get("test_acc_std") or 0.0) for r in rows]
    yspan = max(max(float(r["acc"]) + e for r, e in zip(rows, stds)) - min(float(r["acc"]) - e for r, e in zip(rows, stds)),
                0.01)
    placed: list[tuple[float, float, bool]] = []  # (x, accuracy, name to the right) of the names written
    for i, (r, x, shift) in enumerate(zip(rows, xs, shifts)):
        at = mtransforms.offset_copy(ax.transData, fig=fig, x=shift, units="points")
        acc = float(r["acc"])
        ax.errorbar(x, acc, yerr=stds[i], fmt=POINT_MARKERS[i // 10 % len(POINT_MARKERS)], color=f"C{i % 10}",
                    capsize=3, label=str(r["variant"]), transform=at)  # (ten colours: the 11th another marker)
        ax.update_datalim([(x, acc - stds[i]), (x, acc + stds[i])])  # (a shifted artist does not scale the axes)
        _name_point(ax, i, x, rows, groups[x], shift, stds, placed, where, yspan)
        _committee_point(ax, r, x, f"C{i % 10}", at, where)
    ax.margins(x=0.08)
    ax.autoscale_view()
    if (stacked := min(max(map(len, groups.values())), MAX_STACKED)) > 1:  # room for the stacked names (9 points a line)
        low, high = ax.get_ylim()
        ax.set_ylim(low, high + (high - low) * 0.045 * stacked)
    ax.set(title=title, xlabel=xlabel, ylabel="test accuracy")
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    _left_out(ax, given, rows, f"no {xlabel.split(' (')[0]}: a committee across variants has none of its own")
    ax.grid(alpha=0.3)
    if max(map(len, groups.values())) > MAX_STACKED:  # counted ("12 variants"), not named by their points: a key
        cols = 3 if max(len(str(r["variant"])) for r in rows) < 24 else 2  # below (helper-154: a grid of one size
        fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", fontsize=7, ncols=cols)  # had none)
        fig.set_figheight(4.5 + 0.16 * math.ceil(len(rows) / cols))
    return fig


def _name_point(ax: Any, i: int, x: float, rows: Sequence[Mapping[str, Any]], group: Sequence[int], shift: float,
                stds: Sequence[float], placed: list[tuple[float, float, bool]], where: Callable[[float], float],
                yspan: float) -> None:
    """Write row ``i``'s variant name by its point at ``x``, shifted ``shift`` points on the page
    among the rows of its value (``group``, itself among them; :func:`_scatter_rows` says where),
    and add it to ``placed``, the names (x, accuracy, to the right) written beside their points."""
    r, acc = rows[i], float(rows[i]["acc"])  # the points of its value (helper-146: "cnn-tanh2" was two names):
    top = max(float(rows[j]["acc"]) + stds[j] for j in group)  # theirs above the highest of their bars, stacked,
    if len(group) > MAX_STACKED:  # each in its point's colour; more (a grid of learning rates of one model) are
        if group[0] == i:  # counted, their names in the table (helper-148: 60 ran out of the axes)
            ax.annotate(f"{len(group)} variants", (x, top), fontsize=7, xytext=(0, 3), textcoords="offset points",
                        ha="center", va="bottom")
        return
    if len(group) > 1:
        ax.annotate(str(r["variant"]), (x, top), fontsize=7, xytext=(shift, 3 + STACKED_POINTS * group.index(i)),
                    textcoords="offset points", ha="center", va="bottom", color=f"C{i % 10}")
        return
    right = where(x) > 0.5  # a name near another's goes to the other side (not out of the axes), else stacks
    edge = where(x) < 0.15 if not right else where(x) > 0.85  # above it (helper-146, helper-147)
    if _crowded(placed, x, acc, not right, where, yspan) and not edge and not _crowded(placed, x, acc, right, where, yspan):
        right = not right
    level = _crowded(placed, x, acc, not right, where, yspan)
    placed.append((x, acc, not right))
    ax.annotate(str(r["variant"]), (x, acc), fontsize=7, xytext=(-4 if right else 4, 4 + STACKED_POINTS * level),
                textcoords="offset points", ha="right" if right else "left")


DODGE_POINTS = 7.0  # how far apart on the page points of one x value are drawn (1/72 inch each) ...
DODGE_SPAN = 28.0  # ... all of them within this (many are drawn closer)
STACKED_POINTS = 9.0  # the line height of their names, stacked above them
MAX_STACKED = 4  # more of one value than this are counted ("12 variants"), not named: the legend names them
POINT_MARKERS = "osD^v<>p"  # a variant's point: its colour (of ten) and, past ten variants, another marker


def _crowded(placed: Sequence[tuple[float, float, bool]], x: float, acc: float, to_right: bool,
             where: Callable[[float], float], yspan: float) -> int:
    """How many names already ``placed`` on one side of a point, its right (``to_right``) or left,
    a name beside the point (``x``, ``acc``) on that side would print over: those of points within
    12% of the x axis (``where``: a value's place on it, 0 to 1) and 5% of ``yspan`` (the
    accuracies' range)."""
    return sum(side == to_right and abs(where(px) - where(x)) < 0.12 and abs(pa - acc) < 0.05 * yspan
               for px, pa, side in placed)


def _committee_point(ax: Any, row: Mapping[str, Any], x: float, color: str, at: Any,
                     where: Callable[[float], float]) -> None:
    """A committee variant's accuracy (``committee_acc``) as a diamond at ``x`` times its members
    (a committee of 5 has five times the parameters and the training time of one member: note 37,
    its point was its members' mean alone), joined to the members' point by a dotted line, both
    drawn with the transform ``at`` (its variant's point's: shifted as it is). Its members are
    those that voted (``committee_members``, one count per committee: a failed member leaves its
    committee one smaller); a row without them (an older caller's) counts ``n`` shared among its
    ``committees``. Labelled with its variant's name (helper-146: "committee of 2" named none), to
    the left where its place along the axis (``where``, 0 to 1) is on the right half."""
    acc, n, committees = row.get("committee_acc"), row.get("n"), row.get("committees")
    sizes = row.get("committee_members")
    if not (isinstance(sizes, list) and sizes and all(isinstance(m, int) for m in sizes)):
        if acc is None or not isinstance(n, int) or not isinstance(committees, int) or committees < 1:
            return
        sizes = [round(n / committees)]
    if acc is None or max(sizes) < 2:
        return
    members = sum(sizes) / len(sizes)
    ax.plot([x, x * members], [float(row["acc"]), float(acc)], ":", color=color, linewidth=0.8, transform=at)
    ax.plot(x * members, float(acc), "D", color=color, transform=at)
    spread = float(row.get("committee_acc_std") or 0.0) if isinstance(committees, int) and committees > 1 else 0.0
    if spread:  # a committee variant's repeats: their sd, as plot compare draws it (helper-147)
        ax.errorbar(x * members, float(acc), yerr=spread, fmt="none", ecolor=color, capsize=3, transform=at)
    ax.update_datalim([(x * members, float(acc) - spread), (x * members, float(acc) + spread)])
    size = f" of {sizes[0]}" if min(sizes) == max(sizes) else f"s of {min(sizes)}-{max(sizes)}"
    left = where(x * members) > 0.5
    ax.annotate(f"{row['variant']}: committee{size}", (x * members, float(acc)), fontsize=7, xytext=(-4 if left else 4, -9),
                textcoords="offset points", ha="right" if left else "left")


def _dodged(groups: Mapping[float, Sequence[int]], n: int) -> list[float]:
    """Each of ``n`` points' shift on the page, in points: those that share a value (``groups``:
    value -> their indices) spread symmetrically around it, :data:`DODGE_POINTS` apart, or closer
    where more would span over :data:`DODGE_SPAN`; 0 for a value of its own."""
    out = [0.0] * n
    for at in groups.values():
        step = min(DODGE_POINTS, DODGE_SPAN / max(len(at) - 1, 1))
        for j, i in enumerate(at):
            out[i] = step * (j - (len(at) - 1) / 2)
    return out


def plot_accuracy_vs_params(rows: Sequence[Mapping[str, Any]]) -> Figure:
    """Test accuracy against parameter count, one point per variant (log x), and a committee's
    accuracy as a diamond at all its members' parameters."""
    return _scatter_rows(rows, "params", "parameters", "Test accuracy vs parameters", log=True)


def plot_accuracy_vs_time(rows: Sequence[Mapping[str, Any]]) -> Figure:
    """Test accuracy against training seconds, one point per variant (seed 003's trade-off), and a
    committee's accuracy as a diamond at all its members' seconds."""
    return _scatter_rows(rows, "train_seconds", "training time (s)", "Test accuracy vs training time", log=False)


# --------------------------------------------------------------------------- errors


def plot_misclassified(images: Any, true: Sequence[int] | np.ndarray, pred: Sequence[int] | np.ndarray,
                       class_names: Sequence[str] | None, max_images: int = 25, *,
                       confidence: Sequence[float] | np.ndarray | None = None,
                       index: Sequence[int] | np.ndarray | None = None) -> Figure:
    """Grid of (already selected) misclassified images: true label in blue, prediction in red (seed 002);
    under each, its test-set ``index`` (``#89``) and the ``confidence`` of the prediction (its
    softmax probability, ``94%``) where given.

    Pass only the wrong ones, e.g. `idx = metrics.misclassified(probs, labels)`, then
    `plot_misclassified(images[idx], labels[idx], probs.argmax(1)[idx], names,
    confidence=probs.max(1)[idx], index=idx)`; images given with their right class are left out,
    with a ReportWarning (helper-211: a grid titled "Misclassified" of 7/7, 2/2, 1/1).
    """
    imgs = _as_images(images)
    true, pred = _class_indices(true, "true"), _class_indices(pred, "pred")  # (helper-213: one-hot, a TypeError)
    given = {"images": len(imgs), "true": len(true), "pred": len(pred),
             **({"confidence": len(confidence)} if confidence is not None else {}),
             **({"index": len(index)} if index is not None else {})}
    if len(set(given.values())) > 1:  # helper-157: 23 images beside 100 labels were captioned with the first 23
        raise PlotError("plot_misclassified: one of each per image, but got " + ", ".join(f"{n} {k}" for k, n in given.items()))
    if right := [i for i in range(len(imgs)) if int(true[i]) == int(pred[i])]:
        warnings.warn(f"plot_misclassified: {len(right)} of the {len(imgs)} images given are classified right, left "
                      "out (metrics.misclassified(probs, labels) picks the wrong ones)", ReportWarning,
                      stacklevel=user_level())
        keep = sorted(set(range(len(imgs))) - set(right))
        imgs, true, pred = imgs[keep], [true[i] for i in keep], [pred[i] for i in keep]
        confidence = None if confidence is None else [confidence[i] for i in keep]
        index = None if index is None else [index[i] for i in keep]
    imgs = imgs[:max_images]
    n = len(imgs)
    fig = Figure(figsize=(8, 2), layout="constrained")
    if n == 0:
        ax = fig.add_subplot()
        ax.set_axis_off()
        ax.set_title("No misclassified images")
        return fig
    cols = min(n, 5 if n <= 25 else 8)
    rows = math.ceil(n / cols)
    fig.set_size_inches(max(1.9 * cols, 5.0), 2.1 * rows + 0.25 * (index is not None or confidence is not None))
    # (at least 5 inches: one image's figure was 190 pixels wide, its title over its labels, helper-154)
    cmap = data_cmap(imgs)
    for i in range(n):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.imshow(imgs[i], cmap=cmap)
        ax.set_xticks([]), ax.set_yticks([])
        # Two coloured texts instead of one title: matplotlib titles have one colour.
        ax.text(0.0, 1.02, _class_name(class_names, int(true[i])), color=TRUE_COLOR, fontsize=8,
                transform=ax.transAxes, ha="left", va="bottom", gid="true")
        ax.text(1.0, 1.02, _class_name(class_names, int(pred[i])), color=PRED_COLOR, fontsize=8,
                transform=ax.transAxes, ha="right", va="bottom", gid="pred")
        said = [f"#{int(index[i])}" if index is not None else "", sure(float(confidence[i])) if confidence is not None
                else ""]  # helper-154: which test image, and how sure the mistake was
        if any(said):
            ax.set_xlabel("  ".join(filter(None, said)), fontsize=7)
    fig.suptitle(f"Misclassified: true ({TRUE_COLOR}, left) vs predicted ({PRED_COLOR}, right)", fontsize=10)
    return fig


def _class_indices(labels: Any, name: str) -> np.ndarray:
    """``labels`` as class indices (N,): one-hot or probability rows (N, classes) by their largest
    entry, as Keras's ``argmax`` reads them; PlotError for another shape."""
    arr = np.asarray(labels)
    if arr.ndim == 2:
        arr = arr.argmax(1)
    if arr.ndim != 1:
        raise PlotError(f"plot_misclassified: {name} must be class indices (N,) or one-hot rows (N, classes), got "
                        f"shape {arr.shape}")
    return arr


NORMALIZE = {"true": "% of each true class (row): recall on the diagonal",
             "pred": "% of each predicted class (column): precision on the diagonal",
             "all": "% of all images"}  # scikit-learn's confusion_matrix(normalize=...)


def plot_confusion_matrix(cm: np.ndarray, class_names: Sequence[str] | None = None, *,
                          normalize: str | None = None) -> Figure:
    """Heatmap of a confusion matrix (rows true, columns predicted) with the count in each cell.
    ``normalize`` as scikit-learn's ``confusion_matrix`` and ``ConfusionMatrixDisplay`` take it:
    ``"true"`` (each row's share, the recall on the diagonal), ``"pred"`` (each column's, the
    precision) or ``"all"``: each cell then shows its percentage, coloured by it, and its count
    below it (a class no image has: 0% and 0). PlotError for anything but a square matrix of
    counts (a trained run: draw its figure with ``mnistlab.views.figure_for("confusion", store,
    run_id)``, or pass ``metrics.confusion_matrix``'s) and for another ``normalize``."""
    try:
        cm = np.asarray(cm, dtype=np.float64)
    except (TypeError, ValueError):
        cm = np.zeros(0)
    if cm.ndim == 2 and cm.size and not (np.isfinite(cm).all() and (cm >= 0).all() and (cm == np.rint(cm)).all()):
        raise PlotError("plot_confusion_matrix takes counts (whole numbers from 0), not fractions, negatives or NaN: "
                        "metrics.confusion_matrix(true, pred, classes) gives them; normalize='true' draws each row's "
                        "shares")  # (helper-237: drawn as 0s; helper-244: a row-normalised matrix refused, no way said)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or not len(cm):
        raise PlotError("plot_confusion_matrix takes a square matrix of counts (metrics.confusion_matrix(true, "
                        "pred, classes)); for a trained run, views.figure_for(\"confusion\", store, run_id)")
    if normalize is not None and normalize not in NORMALIZE:
        raise PlotError(f"normalize must be one of {', '.join(NORMALIZE)} (as scikit-learn's) or None, got "
                        f"{normalize!r}{did_you_mean(str(normalize), list(NORMALIZE))}")
    k = cm.shape[0]
    names = [_class_name(class_names, i) for i in range(k)]
    share = _shares(cm, normalize)
    fig = Figure(figsize=(max(4.5, 1.0 + 0.6 * k), 0.6 + 0.55 * k), layout="constrained")  # room for a title
    ax = fig.add_subplot()
    shown = ax.imshow(cm if share is None else share, cmap="Blues", vmin=0, vmax=None if share is None else 1)
    bar = fig.colorbar(shown, ax=ax, shrink=0.8)
    if share is not None:
        bar.ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    threshold = (cm.max() if share is None else 1.0) / 2 if cm.size else 0
    size = 9 if k <= 10 else 7
    for t in range(k):
        for p in range(k):
            value = cm[t, p] if share is None else share[t, p]
            color = "white" if value > threshold else "black" if cm[t, p] else "#b0b0b0"  # zeros pale: the mistakes
            if share is None or not cm[t, p]:  # stand out (helper-226); a share's 0 said once
                ax.text(p, t, str(int(cm[t, p])), ha="center", va="center", fontsize=size, color=color)
            else:
                ax.text(p, t, f"{_share_said(share[t, p])}\n{int(cm[t, p])}", ha="center", va="center",
                        fontsize=size - 2, color=color, linespacing=1.1)
    short = max(map(len, names)) <= 3  # digits stand upright (helper-226: 0-9 turned 45 degrees)
    ax.set_xticks(range(k), names, rotation=0 if short else 45, ha="center" if short else "right", fontsize=8)
    ax.set_yticks(range(k), names, fontsize=8)
    title = "Confusion matrix" + ("" if normalize is None else f" ({NORMALIZE[normalize]}; counts below)")
    ax.set(title=textwrap.fill(title, max(30, int(fig.get_size_inches()[0] * 9))), xlabel="predicted", ylabel="true")
    return fig


def _shares(cm: np.ndarray, normalize: str | None) -> np.ndarray | None:
    """``cm``'s cells as shares of their row, column or the whole (:data:`NORMALIZE`), 0 where that
    is empty (scikit-learn's too); None for counts."""
    if normalize is None:
        return None
    total = cm.sum(1, keepdims=True) if normalize == "true" else cm.sum(0, keepdims=True) if normalize == "pred" \
        else cm.sum(keepdims=True)
    return np.divide(cm, total, out=np.zeros_like(cm), where=total > 0)


def _share_said(x: float) -> str:
    """A confusion cell's share: ``97.3%``, ``0.4%``, ``0``, ``100%``; ``<0.1%`` and ``>99.9%``
    where one decimal would round a share to 0 or to a whole that it is not."""
    if x in (0, 1):
        return "0" if x == 0 else "100%"
    return percent_within(x, 1)


def plot_per_class_accuracy(cm: np.ndarray, class_names: Sequence[str] | None = None) -> Figure:
    """Horizontal bars: the fraction of each class's test images classified correctly."""
    acc = class_recall(cm)
    names = [_class_name(class_names, i) for i in range(len(acc))]
    fig = Figure(figsize=(6, 0.8 + 0.35 * len(acc)), layout="constrained")
    ax = fig.add_subplot()
    ax.barh(range(len(acc)), np.nan_to_num(acc), color="C0")
    for i, a in enumerate(acc):
        ax.text(min(np.nan_to_num(a), 1.0), i, " n/a" if np.isnan(a) else f" {a:.1%}", va="center", fontsize=7)
    ax.set_yticks(range(len(acc)), names)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.12)
    ax.set(title="Per-class accuracy", xlabel="accuracy (recall: of the class's images, the share read as it)", ylabel="class")
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))  # (helper-244: a 0-1 axis beside % bar labels)
    return fig


# --------------------------------------------------------------------------- inside the network


def _is_conv(module: nn.Module) -> TypeGuard[nn.Conv2d]:
    from torch import nn

    return isinstance(module, nn.Conv2d)


def _makes_maps(module: nn.Module) -> bool:
    """Whether feature maps show ``module``'s output: a convolution (depthwise and separable ones too) or a pooling."""
    from mnistlab.models import SeparableConv2D

    return _is_conv(module) or isinstance(module, SeparableConv2D) or _is_pool(module)


def _is_pool(module: Any) -> bool:
    from torch import nn

    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)):
        return True
    # Custom pooling modules (mnistlab's Keras-padding Pool2D): judged by name, never "Global...".
    name = type(module).__name__.lower()
    return "pool" in name and "global" not in name and "adaptive" not in name and not list(module.children())


def _model_input(images: Any, device: Any) -> torch.Tensor:
    """(N, C, H, W) float32 from one image or a batch: uint8 pixels scaled as training scales them."""
    import torch

    from mnistlab.evaluate import to_input

    arr = np.asarray(images)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim == 3:
        arr = arr[:, None]
    x = torch.tensor(arr)  # a copy: dataset images are read-only memory maps
    if x.dtype == torch.uint8 and x.dim() == 4:
        # to_input takes (N, H, W) uint8: each channel goes through it as an image of its own.
        return to_input(x.flatten(0, 1)).view(x.shape).to(device)
    return x.to(device, torch.float32)  # floats are taken as already scaled


def feature_maps(model: nn.Module, images: Any, layers: int | Sequence[str] | None = None, *,
                 warn: bool = True) -> list[tuple[str, np.ndarray]]:
    """(layer name, maps (N, C, H, W)) for each conv / pooling layer, in the order the model runs them.

    Uses forward hooks, so it works for any torch model whatever its layers are called. `layers`:
    None for all of them, an int for the first that many (seed 001 shows four: conv, pool, conv,
    pool), or a list of layer names (as the model's summary calls them: its layers' ``name``, else
    Keras's auto-names; a model that is no mnistlab spec's, as `model.named_modules()` calls them);
    more than the model has draws them all, with a ReportWarning unless ``warn`` is False (`plot
    --layers`, at most that many by default).
    """
    import torch
    from torch import nn

    from mnistlab.models import layer_outputs

    param = next(model.parameters(), None)
    x = _model_input(images, param.device if param is not None else "cpu")
    names = _layer_labels(model)
    captured: list[tuple[str, np.ndarray]] = []

    def keep(module: Any, _inputs: Any, out: Any) -> None:
        captured.append((names.get(module, "?"), out.detach().cpu().numpy()))

    handles = [m.register_forward_hook(keep) for m in model.modules() if _makes_maps(m)]
    if not handles:
        raise PlotError("the model has no convolution or pooling layers to show feature maps of")
    was_training = model.training
    try:
        model.eval()  # dropout off: show what the trained model computes
        with torch.no_grad():
            if isinstance(model, nn.Sequential):
                # Layer by layer: mnistlab's forward pass fuses conv + relu + pool for speed, which
                # would skip the conv layer's hook; layer_outputs calls each layer on its own.
                layer_outputs(model, x)
            else:
                model(x)
    except RuntimeError as exc:  # e.g. images of another size than the model was built for
        raise PlotError(f"the model cannot take images shaped {tuple(x.shape[1:])}: {str(exc)[:160]}") from None
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()
    if warn and isinstance(layers, int) and layers > len(captured):  # (helper-237: layers=4 drew 2, unsaid)
        warnings.warn(f"layers={layers}, and the model has {len(captured)} convolution or pooling layer"
                      f"{'s' * (len(captured) != 1)}: all of them are drawn", ReportWarning, stacklevel=user_level())
    if layers is None or isinstance(layers, int):
        return captured[:layers] if layers else captured
    found = [name for name, _ in captured]
    for name in layers:
        if name not in found:
            raise PlotError(f"no conv or pooling layer named {name!r}{did_you_mean(name, found)}; "
                            f"layers: {', '.join(found)}")
    return [(name, m) for name, m in captured if name in set(layers)]


def _layer_labels(model: nn.Module) -> dict[Any, str]:
    """Each module of ``model`` -> its label: for an mnistlab model (``model.spec``), its layer's
    name in the summary (a layer's ``name=``; the module keeps the auto-name, so that a name never
    changes the weights' keys), a block's layers too (helper-138: "add.branch.b conv 1" where the
    summary says "b conv 1"); for any other model, its module name."""
    spec = getattr(model, "spec", None)
    named: dict[str, str] = {}
    if spec is not None:
        from mnistlab.specs import keras_graph

        named = {node.module: node.name for node in keras_graph(spec)}
    if not named:
        return {m: n for n, m in model.named_modules()}
    # an mnistlab model's layer names are unique: a block's layer by its own, as the summary has it
    return {m: named.get(n.rsplit(".", 1)[-1], n) if n else n for n, m in model.named_modules()}


def plot_feature_maps(model: nn.Module | Any, images: Any, filter_index: int | None = 0,
                      layers: int | Sequence[str] | None = None, *, labels: Sequence[str] | None = None,
                      warn: bool = True) -> Figure:
    """Seed 001's grid: rows = images, columns = conv/pool layers, showing one filter, "inferno".

    ``model``: a torch model, or a trained :class:`mnistlab.Run` (its ``.model``). ``labels`` names
    each row (one per image, e.g. "test #23: Trouser"); without them the rows read "image 0",
    "image 1", ... (positions in ``images``). ``filter_index=None``: every filter of one layer, the
    last of ``layers`` (``layers=1``: the first), for the first image, which is drawn first (a
    lecture's "what the first layer sees"). ``warn``: as :func:`feature_maps` takes it. Raises
    PlotError for a filter index out of range or a label count that differs from the image count.
    Three test images over the first four layers of a trained ``model`` (the 3x4 grid):

    >>> plot_feature_maps(model, ds.test_images[[0, 23, 28]], filter_index=1, layers=4,
    ...                   labels=["test #0: Ankle boot", "test #23: Trouser", "test #28: Dress"])  # doctest: +SKIP
    """
    from torch import nn

    if not isinstance(model, nn.Module):  # a Run (helper-226: "'Run' object has no attribute 'parameters'")
        if (status := getattr(model, "status", "finished")) != "finished":  # as the CLI's figure says it (helper-229)
            warnings.warn(f"the run {status}: its weights are those at the stop, not a result", ReportWarning,
                          stacklevel=user_level())
        model = model.model
    maps = feature_maps(model, images, layers, warn=warn)
    n = maps[0][1].shape[0]
    if labels is not None and len(labels) != n:
        raise PlotError(f"{len(labels)} row labels for {n} images: give one label per image")
    if filter_index is None:
        return _every_filter(images, maps[-1], labels[0] if labels is not None else "image 0")
    for name, m in maps:
        if not 0 <= filter_index < m.shape[1]:
            raise PlotError(f"filter {filter_index} out of range: layer {name} has {m.shape[1]} filters (0..{m.shape[1] - 1})")
    # at least 5.5 x 3 inches: one image of one layer was 2.2 x 2.1, its title cut (helper-226)
    fig = Figure(figsize=(max(5.5, 2.2 * len(maps)), max(3.0, 2.1 * n + 0.5)), layout="constrained")
    for r in range(n):
        for c, (name, m) in enumerate(maps):
            ax = fig.add_subplot(n, len(maps), r * len(maps) + c + 1)
            ax.imshow(m[r, filter_index], cmap=FEATURE_CMAP)
            ax.set_xticks([]), ax.set_yticks([])
            if r == 0:
                ax.set_title(_wrapped(f"{clip(name, 48)} {tuple(m.shape[2:])}", 24, after=",."), fontsize=8)  # a
                # block's layer path (residual_block.add.branch.conv2d_1) on lines: in one, the next column's overlapped
                # it; a 300-character name, clipped (helper-138)
            if c == 0:
                ax.set_ylabel(labels[r] if labels is not None else f"image {r}", fontsize=8)
    fig.suptitle(f"Feature maps, filter {filter_index}\n(each map on its own scale: dark low, bright high)",
                 fontsize=10)  # helper-129: no scale said
    return fig


def _every_filter(images: Any, layer: tuple[str, np.ndarray], label: str) -> Figure:
    """:func:`plot_feature_maps` with ``filter_index=None``: the first of ``images`` as the model
    takes it, then each filter's map of ``layer`` (name, maps (N, C, H, W)), numbered."""
    name, m = layer
    count = m.shape[1]
    cols = min(8, math.ceil(math.sqrt(count + 1)))  # 9 panels 3 x 3, 65 panels 8 wide (helper-229: 8 + 1 alone)
    rows = math.ceil((count + 1) / cols)
    fig = Figure(figsize=(max(5.5, 1.45 * cols), 1.5 * rows + 0.9), layout="constrained")
    first = np.asarray(images)
    first = first[0] if first.ndim >= 3 else first
    ax = fig.add_subplot(rows, cols, 1)
    ax.imshow(first.squeeze(), cmap="gray")  # as the model takes it (the dataset's polarity), in grey: an image
    ax.set_xticks([]), ax.set_yticks([])
    ax.set_title(clip(label, 28), fontsize=8)
    for f in range(count):
        ax = fig.add_subplot(rows, cols, f + 2)
        ax.imshow(m[0, f], cmap=FEATURE_CMAP)
        ax.set_xticks([]), ax.set_yticks([])
        ax.set_title(f"filter {f}", fontsize=7)
    fig.suptitle(f"Feature maps of every filter of {clip(name, 48)} {tuple(m.shape[2:])}\n(the image first; each map "
                 "on its own scale: dark low, bright high)", fontsize=10)
    return fig


def plot_filters(model: nn.Module, max_filters: int = 64) -> Figure:
    """The first convolution layer's learned kernels (input channel 0; a depthwise or separable one's
    depthwise kernels), one small panel each, the layer named in the title."""
    from mnistlab.models import SeparableConv2D

    conv = next((m for m in model.modules() if _is_conv(m) or isinstance(m, SeparableConv2D)), None)
    if conv is None:  # (helper-257: a model of separable convolutions alone had "no convolution layer")
        raise PlotError("the model has no convolution layer, so it has no filters to show")
    kernel = conv.depthwise_weight if isinstance(conv, SeparableConv2D) else conv.weight
    w = kernel.detach().float().cpu().numpy()[:max_filters, 0]
    named = _layer_labels(model).get(conv, "")
    n = len(w)
    cols = min(n, 8)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(1.3 * cols, 1.4 * rows + 0.4), layout="constrained")
    lim = float(np.abs(w).max()) or 1.0  # one shared, symmetric scale so filters compare
    axes = []
    for i in range(n):
        ax = fig.add_subplot(rows, cols, i + 1)
        shown = ax.imshow(w[i], cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_xticks([]), ax.set_yticks([])
        ax.set_title(str(i), fontsize=7)
        axes.append(ax)
    fig.colorbar(shown, ax=axes, shrink=0.8, label="weight")  # the shared scale, read (helper-129: none)
    fig.suptitle(f"First-layer filters{' of ' + named if named else ''} ({kernel.shape[0]} x {w.shape[1]}x{w.shape[2]})",
                 fontsize=10)
    return fig


# --------------------------------------------------------------------------- predictions


def plot_predictions(originals: Sequence[Any], seen: Any, probs: np.ndarray, class_names: Sequence[str] | None,
                     names: Sequence[str], *, light_background: bool = False) -> Figure:
    """One row per image: the image as given, the (H, W) image the model saw, and a bar of its probabilities.

    ``originals``: PIL images (drawn by :func:`mnistlab.preprocessing.as_drawn`: on the background the
    model read a transparent one on) or arrays; ``seen``: uint8 (N, H, W); ``probs``: (N, classes);
    ``names``: a title per row, shown as typed (no mathtext: a "$" in a file name stays a "$").
    What the model saw is drawn as `plot samples` draws its training data (:func:`data_cmap`):
    ``light_background``, the training images' (a user's dark ink on paper), by brightness, else
    the value as ink; from the training data, not these images, so one given inverted looks it.
    """
    from PIL import Image

    from mnistlab.preprocessing import as_drawn

    seen, probs = _as_images(seen), np.asarray(probs)
    if not len(seen):
        raise PlotError("no images to show")
    n, classes = len(seen), probs.shape[1]
    cmap = "gray" if light_background else DATA_CMAP  # (helper-121/122: as the training data is drawn)
    fig = Figure(figsize=(9, 2.2 * n), layout="constrained")
    for i in range(n):
        given, model, bars = (fig.add_subplot(n, 3, 3 * i + k) for k in (1, 2, 3))
        original = as_drawn(originals[i]) if isinstance(originals[i], Image.Image) else np.asarray(originals[i])
        if original.ndim == 3 and original.shape[2] == 2:  # an array: grayscale with alpha, the gray
            original = original[..., 0]
        given.imshow(original, cmap="gray" if original.ndim == 2 else None)
        given.set_title(str(names[i]), fontsize=8, parse_math=False)
        model.imshow(seen[i], cmap=cmap, vmin=0, vmax=255)  # as the data's samples are drawn: alike when right
        model.set_title(f"what the model saw ({seen.shape[1]}x{seen.shape[2]})\nits light pixels drawn dark, as plot "
                        "samples draws the data", fontsize=8)  # (not the file's colours: the column beside has those)
        for ax in (given, model):
            ax.set_xticks([]), ax.set_yticks([])
        best = int(probs[i].argmax())
        labels = [_class_name(class_names, c) for c in range(classes)]
        bars.barh(range(classes), probs[i], color=[PRED_COLOR if c == best else "gray" for c in range(classes)])
        bars.set_yticks(range(classes), labels, fontsize=7)
        for tick in bars.get_yticklabels():
            tick.set_parse_math(False)
        bars.invert_yaxis()
        bars.set_xlim(0, 1)
        bars.set_title(f"{labels[best]}: {probs[i, best]:.1%}", fontsize=8, parse_math=False)
    return fig


# --------------------------------------------------------------------------- searches
# A trial is a mapping with "trial" (its number), "state" (complete / pruned / failed), "value"
# (the searched metric, None when failed) and "params" (dotted key -> value): see
# mnistlab.search.trial_rows.
_STATE_COLORS = {"complete": "C0", "pruned": "C1", "failed": "C3"}


def _scored(trials: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    out = [t for t in trials if isinstance(t.get("value"), (int, float)) and math.isfinite(t["value"])]
    if not out:
        raise PlotError("no trial with a value to plot (has the search finished any trial?)")
    return out


def plot_optimization_history(trials: Sequence[Mapping[str, Any]], metric: str = "val_accuracy",
                              direction: str = "maximize") -> Figure:
    """Each trial's value by trial number (colored by state) and the best complete value so far
    (Optuna's ``plot_optimization_history``). PlotError when no trial has a value."""
    scored = sorted(_scored(trials), key=lambda t: t["trial"])
    fig = Figure(figsize=(6.5, 4.2), layout="constrained")
    ax = fig.add_subplot()
    for state, color in _STATE_COLORS.items():
        pts = [t for t in scored if t.get("state") == state]
        if pts:
            ax.scatter([t["trial"] for t in pts], [t["value"] for t in pts], color=color, label=state, s=22)
    best, xs, ys = None, [], []
    pick = max if direction == "maximize" else min
    for t in scored:
        if t.get("state") == "complete":
            best = t["value"] if best is None else pick(best, t["value"])
        if best is not None:
            xs.append(t["trial"])
            ys.append(best)
    if xs:
        ax.step(xs, ys, where="post", color="C2", label="best so far")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(title="Optimisation history", xlabel="trial", ylabel=metric)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def plot_intermediate_values(curves: Sequence[Mapping[str, Any]], metric: str = "val_accuracy") -> Figure:
    """Each trial's ``metric`` at each epoch end, the values its pruner judged (Optuna's
    ``plot_intermediate_values``; helper-260: absent): ``curves`` holds each trial's ``trial``, ``state``
    and ``values`` (per epoch, None where an epoch has none); a pruned trial dashed, an x where it
    stopped. PlotError when no trial has a value."""
    drawn = [c for c in curves if any(v is not None for v in c.get("values") or ())]
    if not drawn:
        raise PlotError(f"no trial has a {metric} at an epoch's end to draw")
    fig = Figure(figsize=(6.5, 4.2), layout="constrained")
    ax = fig.add_subplot()
    said: set[str] = set()
    for c in sorted(drawn, key=lambda c: c["trial"]):
        state = str(c.get("state") or "complete")
        pts = [(i + 1, v) for i, v in enumerate(c["values"]) if v is not None]
        color = _STATE_COLORS.get(state, "0.5")
        ax.plot(*zip(*pts), color=color, lw=1.1, alpha=0.8, ls="--" if state == "pruned" else "-", marker=".",
                label=state if state not in said else None)  # (a point each: a 1-epoch trial's one value shows)
        said.add(state)
        if state == "pruned":
            ax.plot(*pts[-1], marker="x", color=color, ms=6)
    last = max(len(c["values"]) for c in drawn)
    ax.set_xlim(0.5, last + 0.5)  # (helper-263: one epoch drew at 0.945 .. 1.05)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set(title="Intermediate values (each trial's, per epoch; pruned: dashed, x where it stopped)",
           xlabel="epoch", ylabel=metric)
    ax.title.set_fontsize(10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


_NOT_ASKED = 0.15  # where a numeric axis starts when some trials did not ask its key (a conditional one: at 0)


def _axis_values(values: Sequence[Any], log: bool = False) -> tuple[np.ndarray, list[str] | None, bool]:
    """Values of one param on a 0-1 axis: numbers scaled (on a log scale when ``log``, the param's
    distribution is a log one, and they are positive), anything else by its rank among the distinct
    values; also its tick labels, and whether the axis is log."""
    numbers = [v for v in values if v is not None]
    if numbers and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in numbers):
        x = np.asarray(numbers, dtype=float)
        log = bool(log and x.min() > 0)
        x = np.log10(x) if log else x
        span = float(x.max() - x.min()) or 1.0
        low = _NOT_ASKED if len(numbers) < len(values) else 0.0  # a conditional key's trials without it: at 0
        scaled = iter(low + (1 - low) * (x - x.min()) / span)
        return np.asarray([0.0 if v is None else next(scaled) for v in values]), None, log
    if any(v is None for v in values):  # a conditional choice some trials did not ask (nesterov with adam)
        values = ["not asked" if v is None else v for v in values]
    distinct = {json_label(v): v for v in values}
    try:  # in their own order where they have one ([8] < [16] < [32]); else by label
        labels = sorted(distinct, key=distinct.__getitem__)
    except TypeError:
        labels = sorted(distinct)
    pos = {lab: i for i, lab in enumerate(labels)}
    return np.asarray([pos[json_label(v)] / max(1, len(labels) - 1) for v in values]), labels, False


def json_label(value: Any) -> str:
    """A short label for a param value: ``[16, 32]`` -> ``16/32``."""
    if isinstance(value, list):
        return "/".join(json_label(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _spans_a_decade(values: Sequence[Any]) -> bool:
    nums = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return len(nums) > 1 and min(nums) > 0 and max(nums) / min(nums) >= 10


def plot_parallel_coordinates(trials: Sequence[Mapping[str, Any]], metric: str = "val_accuracy") -> Figure:
    """One line per complete trial across one axis per searched param and the metric, colored by the
    value (Optuna's ``plot_parallel_coordinate``, which draws complete trials only: a pruned trial's
    value is from the epoch it was stopped at, not comparable; the title counts those left out). A
    param in a trial's ``log_params`` (searched on a log scale) gets a log axis; trials recorded
    without ``log_params`` (older runs) get one for positive values spanning a decade or more.
    PlotError when no complete trial has a value."""
    scored = [t for t in _scored(trials) if t.get("state") == "complete"]
    pruned = sum(t.get("state") == "pruned" for t in _scored(trials))
    if not scored:
        raise PlotError(f"no complete trial to plot ({pruned} pruned: a pruned trial's value is from the epoch "
                        "it was stopped at)")
    keys = sorted({k for t in scored for k in t.get("params", {})})
    logs = {k for t in scored for k in t.get("log_params") or ()}  # log_uniform, int with log = true
    if all(t.get("log_params") is None for t in scored):  # older runs: judged from the values
        logs = {k for k in keys if _spans_a_decade([t["params"].get(k) for t in scored])}
    cols = [_axis_values([t["params"].get(k) for t in scored], k in logs) for k in keys]
    vals = np.asarray([t["value"] for t in scored], dtype=float)
    cols.append(_axis_values(list(vals)))
    names = [*keys, metric]
    fig = Figure(figsize=(max(6.0, 1.6 * len(names) + 2), 4.5), layout="constrained")
    ax = fig.add_subplot()
    norm = (vals - vals.min()) / ((vals.max() - vals.min()) or 1.0)
    cmap = fig.colorbar(ax.scatter([], [], c=[], cmap="viridis", vmin=vals.min(), vmax=vals.max()), ax=ax, label=metric).cmap
    for i in range(len(scored)):
        ax.plot(range(len(names)), [c[0][i] for c in cols], color=cmap(float(norm[i])), alpha=0.8, lw=1.2)
    for j, (_, labels, log) in enumerate(cols):
        ax.axvline(j, color="0.6", lw=0.8)
        raw = [t["params"].get(names[j]) for t in scored] if j < len(keys) else list(vals)
        asked = [v for v in raw if v is not None]
        low = _NOT_ASKED if len(asked) < len(raw) else 0.0
        ticks = (list(zip(np.linspace(0, 1, len(labels)) if len(labels) > 1 else [0.0], labels)) if labels
                 else [(low, f"{min(asked):.3g}"), (1.0, f"{max(asked):.3g}" + (" (log)" if log else ""))]
                 + [(0.0, "not asked")] * (low > 0))
        for y, text in ticks:
            ax.annotate(text, (j, y), xytext=(3, 2), textcoords="offset points", fontsize=7)
    ax.set_xticks(range(len(names)), names, rotation=20, ha="right")
    ax.set_yticks([])
    ax.set_ylim(-0.1, 1.1)
    ax.set_title("Parallel coordinates (one line per complete trial"
                 + (f"; {pruned} pruned left out)" if pruned else ")"))
    return fig


FEW_TRIALS = 10  # complete trials under which an importance figure says it is a rough guide


def plot_param_importances(importances: Mapping[str, float], trials: int | None = None) -> Figure:
    """Horizontal bars of each searched param's importance (Optuna's PED-ANOVA shares, summing to 1),
    most important on top; ``trials``: the complete trials they come from, said in the title, with a
    caution under :data:`FEW_TRIALS` (helper-260: 4 trials' shares read as settled). PlotError when
    there are none (fewer than 2 complete trials)."""
    if not importances:
        raise PlotError("no parameter importances: they need at least 2 complete trials")
    items = sorted(importances.items(), key=lambda kv: kv[1])
    fig = Figure(figsize=(6.0, 1.0 + 0.5 * len(items)), layout="constrained")
    ax = fig.add_subplot()
    ax.barh(range(len(items)), [v for _, v in items], color="C0")
    ax.set_yticks(range(len(items)), [k for k, _ in items])
    for i, (_, v) in enumerate(items):
        ax.annotate(f"{v:.2f}", (v, i), xytext=(3, 0), textcoords="offset points", va="center", fontsize=8)
    said = "" if trials is None else f"\n{trials} complete trials" + (": a rough guide" if trials < FEW_TRIALS else "")
    ax.set(title=f"Parameter importance (PED-ANOVA){said}", xlabel="importance", xlim=(0, 1.1))
    return fig


shown_inline_in_ipython()
