"""Your own images in dataset form: image files (or arrays) -> the 28x28 uint8 images a model saw in training.

A model trained on MNIST has only seen white digits on black, cropped, scaled and centred in a
particular way; a photo of a digit written in pen is none of that. Each dataset's images were
made by a known recipe (:data:`RECIPES`), and :func:`preprocess` repeats it on any image::

    seen = preprocess("my-digit.jpg", "mnist")        # uint8 (28, 28): white ink on black, centred
    seen = preprocess(photo_array, "fashion-mnist")   # (H, W) or (H, W, 3|4) arrays too

``mnistlab.preprocess`` is this function (the public API); the module is ``mnistlab.preprocessing``
(Keras's word: ``import mnistlab.preprocessing as pp``, ``help(mnistlab.preprocessing)``), and
``from mnistlab.preprocess import ...`` still reads it (helper-237: ``import mnistlab.preprocess``
gave the function, with no way to the module's docs).

The recipes:

- **mnist** ("digits", LeCun et al.'s): light ink on black, cropped to the ink, the longer side
  20 px, the centre of mass where MNIST's digits have theirs, (14, 14) of 28x28; a photo's uneven
  lighting, specks, ruled lines and a box around the digit removed first; an image already in that
  form (MNIST's own) is taken as it is.
- **fashion-mnist** ("items", Xiao et al. 2017, section 2): light items on black, trimmed, the
  longer side 28 px, sharpened, the box (not the mass) centred; an image already in that form
  (Fashion-MNIST's own) is taken as it is.
- any other dataset ("resize"): 8-bit grayscale and a bilinear resize to the model's input, as
  training read the user's data; nothing else is known.

Each recipe's ``steps`` are the one full description: the model card prints them, exports record
them, and the README quotes them (a test keeps it so).

Files are read with Pillow, only as PNG, JPEG, BMP, GIF (its first frame), TIFF or WebP, with the
EXIF orientation applied and transparency flattened on the background that contrasts with the
ink. Anything else raises :class:`~mnistlab.errors.DataError` in one line naming the file: not
an image, truncated, larger than Pillow's decompression-bomb limit (an error here, not Pillow's
warning), 32-bit pixels (16-bit grayscale is scaled to 8 bits), or an image with no ink at all.
"""

from __future__ import annotations

import fnmatch
import glob
import io
import math
import re
import os
import sys
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import IO, Any

import numpy as np
from PIL import Image, ImageFilter, ImageOps, UnidentifiedImageError

from mnistlab.data.userdata import IMAGE_SUFFIXES, Entry, special_file, system_file, walk_images
from mnistlab.errors import DataError, DataWarning, user_level
from mnistlab.files import compressed_said, display_name, missing_hint, path_as_typed

__all__ = ["RECIPES", "Recipe", "ImageInput", "preprocess", "recipe_for", "open_image", "to_gray", "image_sources",
           "read_images", "display_name"]

# The formats Pillow may read here. Pillow knows many more (EPS runs Ghostscript, PSD, ICO...):
# an image a user photographs or draws is one of these (JPEG covers the MPO files of many phones).
IMAGE_FORMATS = ("PNG", "JPEG", "BMP", "DIB", "GIF", "TIFF", "WEBP", "PPM")  # PPM: Pillow's reader of .pgm and .ppm too
# Pillow modes that hold 8-bit pixels mnistlab can turn into grayscale; 16-bit grayscale (I;16) is
# scaled to 8 bits (:func:`_checked_mode`); others (I, whose depth is unsaid, F, LAB, HSV) are
# refused: their conversion would guess. CMYK is converted by Pillow's own
# formula (no colour profile), as training folders always read it: predict must see what training saw.
IMAGE_MODES = ("1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa", "RGBX", "YCbCr", "CMYK")
MIN_CONTRAST = 48.0  # the least ink-to-background difference (of 255) that counts as ink: flat noise stays under


@dataclass(frozen=True)
class Recipe:
    """How a dataset's images were made, as :func:`preprocess` repeats it (``help(mnistlab.preprocessing)``).

    ``kind``: "digits" (crop to the ink, fit ``fit`` px, centre of mass at MNIST's (14, 14)), "items"
    (trim, fit the whole frame, centre the box, sharpen) or "resize" (only grayscale and resize).
    ``size``: the output (H, W). ``invert``: "light-background" (invert when the border is light,
    so the result is light on dark) or "never".
    """

    dataset: str
    kind: str
    size: tuple[int, int] = (28, 28)
    fit: int = 20
    centre: str = "mass"
    invert: str = "light-background"
    sharpen: bool = False
    steps: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain data (JSON-ready): what exports record in their metadata and cards print. A
        "resize" recipe has no ``fit``, ``centre`` or ``sharpen``: it neither crops nor centres."""
        d = asdict(self)
        d["size"], d["steps"] = list(self.size), list(self.steps)
        if self.kind == "resize":
            for key in ("fit", "centre", "sharpen"):
                del d[key]
        return d


RECIPES: dict[str, Recipe] = {
    "mnist": Recipe("mnist", "digits", fit=20, centre="mass", steps=(
        "convert to 8-bit grayscale (transparency flattened on the background that contrasts with the ink)",
        "take an image already in MNIST's form as it is (28x28, its border black, the ink within 20 px and its "
        "centre of mass within a pixel of MNIST's (14, 14) or of the middle: the dataset's own images, which "
        "remaking would blur)",
        "even out the lighting of a photo (56 px and more): fit a smooth background (a quadratic surface) and "
        "divide it out for dark ink on paper, subtract it for light ink",
        "make the digit light on a dark background: invert dark ink (under 56 px: when the border is light)",
        "subtract the background level and noise, so the background is 0 (a digit too small for the 99.9th "
        "percentile to find: its brightest stroke of 10 px or more; specks of dust alone are no ink)",
        "remove ruled lines, a faint margin line and a box drawn around the digit: thin lines across the image, "
        "evenly spaced or at its edges, no darker than each other (a digit's own bars stay)",
        "drop specks: blobs of ink under 5% of the largest one's ink, or under 30% and away from it",
        "crop to the ink's bounding box",
        "thicken strokes thinner than 9% of the longer side to 12% (a pen draws finer lines than MNIST's)",
        "scale the longer side to 20 px with antialiasing (Lanczos), keeping the aspect ratio",
        "stretch so that the brightest pixel is 255",
        "place in a 28x28 black frame with the ink's centre of mass where MNIST's digits have theirs, (14, 14) in "
        "pixel indices 0..27 (half a pixel below and right of the middle), to the nearest whole pixel",
        "feed pixels / 255 (float32 in [0, 1]) as (N, 1, 28, 28)")),
    "fashion-mnist": Recipe("fashion-mnist", "items", fit=28, centre="box", sharpen=True, steps=(
        "convert to 8-bit grayscale (transparency flattened on the background that contrasts with the item)",
        "take an image already in Fashion-MNIST's form as it is (28x28, its border black, or at least 15% of it "
        "exactly black where the item touches the frame, the item's box 27 or 28 px on its longer side and centred "
        "within a pixel: the dataset's own images, which remaking would change)",
        "invert where what stands out of the background (the border's level) is mostly darker than it, not "
        "lighter: the item must be light on a dark background",
        "trim the border colour (its level and noise subtracted, the brightest 0.1% of the image stretched to 255: "
        "a grey-40 and a grey-200 shirt come out alike): crop to the item's bounding box",
        "scale the longer side to 28 px with antialiasing (Lanczos), keeping the aspect ratio",
        "sharpen (unsharp mask, radius 1)",
        "centre the item's bounding box in a 28x28 black frame",
        "feed pixels / 255 (float32 in [0, 1]) as (N, 1, 28, 28)")),
}


def recipe_dataset(dataset: Any) -> str | None:
    """What :func:`preprocess` takes for a recorded run's ``dataset``: a registered name as it is,
    None for the user's own data (a path or a table: the plain resize recipe)."""
    from mnistlab.data.registry import is_registered

    return dataset if is_registered(dataset) else None


def recipe_for(dataset: Any, size: Sequence[int] | None = None) -> Recipe:
    """The recipe of ``dataset`` (:data:`RECIPES`), or the plain "resize" one for any other dataset
    (the user's own data, given as a path or a table: how its images were made is not known).

    ``size``: the model's input (H, W), when it differs from the recipe's 28x28.
    """
    dataset = dataset if isinstance(dataset, str) else "your own data" if dataset else None
    recipe = RECIPES.get(dataset or "") or Recipe(dataset or "", "resize", invert="never", steps=(
        "convert to 8-bit grayscale", "resize to the model's input size with bilinear filtering (Pillow's, on the "
        "8-bit pixels, as training read the data; no crop, no inversion: how this dataset's images were made is not "
        "known)", "feed pixels / 255 (float32 in [0, 1]) as (N, 1, H, W)"))
    if size is not None and tuple(size) != recipe.size:
        recipe = Recipe(recipe.dataset, "resize", tuple(size), invert=recipe.invert,  # type: ignore[arg-type]
                        steps=(f"convert to 8-bit grayscale, resize to {size[0]}x{size[1]} with bilinear filtering "
                               "(Pillow's)",))
    return recipe


# ----------------------------------------------------------------------------- reading files
ImageInput = Any  # a path, bytes, a binary file, a PIL image, or an array (H, W) / (H, W, C)


def open_image(source: str | os.PathLike | bytes | IO[bytes], name: str | None = None, *,
               formats: tuple[str, ...] = IMAGE_FORMATS, orient: bool = True,
               modes: tuple[str, ...] = IMAGE_MODES) -> Image.Image:
    """Read one image file (its first frame), loaded, EXIF orientation applied; DataError otherwise.

    ``source``: a path, the file's bytes or a binary file. ``name`` is how messages call it
    (default: the path). Raises :class:`DataError`, one line naming the file, for a missing file,
    a file that is not one of ``formats`` (Pillow's names; PNG/JPEG/BMP/GIF/TIFF/WebP), a truncated
    one, one over Pillow's decompression-bomb limit (twice ``PIL.Image.MAX_IMAGE_PIXELS``, 179
    million pixels, where Pillow raises; below that Pillow's warning is not given: helper-236, a
    108-megapixel phone photo was refused), and pixels not of ``modes`` (32-bit; 16-bit grayscale is
    scaled to 8 bits: :func:`_checked_mode`).
    ``orient=False`` leaves the EXIF orientation alone (a training folder's images are read as
    Keras's loaders read them, and as they always were here).
    """
    def shown() -> str:  # named only when something is said of it: a class folder opens 60,000 images
        return display_name(name if name is not None else source if isinstance(source, (str, os.PathLike)) else "<image>")

    fp = io.BytesIO(source) if isinstance(source, bytes) else source
    if isinstance(source, (str, os.PathLike)) and special_file(source):  # a FIFO would be read forever, /dev/zero "empty"
        raise DataError(f"{shown()}: not a regular file (a pipe or a device), so not an image; an image piped in "
                        "is read from - (stdin)")  # (helper-172: a FIFO was waited on forever)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # (a big photo; Pillow raises past 2x)
            im = Image.open(fp, formats=formats)
            im.seek(0)  # a GIF's (or TIFF's) first frame
            im.load()
    except FileNotFoundError:
        raise DataError(f"{shown()}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{shown()}: is a folder, not an image") from None
    except UnidentifiedImageError:
        if _empty(source):  # a download or a copy that did not finish: not a format question
            raise DataError(f"{shown()}: an empty file (0 bytes), not an image") from None
        if packed := compressed_said(source) if isinstance(source, (str, os.PathLike)) else "":
            raise DataError(f"{shown()}: {packed}") from None
        raise DataError(f"{shown()}: not an image mnistlab reads (PNG, JPEG, BMP, GIF, TIFF, WebP, PGM or PPM)") from None
    except Image.DecompressionBombError as exc:
        size = re.search(r"\((\d+) pixels\)", str(exc))  # Pillow says the image's size, then its limit
        pixels = f"{int(size.group(1)):,} pixels, " if size else ""
        raise DataError(f"{shown()}: refused as a possible decompression bomb ({pixels}over the limit of "
                        f"{2 * (Image.MAX_IMAGE_PIXELS or 0):,}: twice PIL.Image.MAX_IMAGE_PIXELS)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:  # Pillow's "image file is truncated" and friends
        raise DataError(f"{shown()}: cannot read the image, it is damaged or truncated ({exc})") from None
    out: Image.Image = im
    frames = int(getattr(im, "n_frames", 1) or 1)
    if orient and (turned := ImageOps.exif_transpose(im)) is not im:
        im.close()  # the file behind the original: the turned copy holds the pixels
        out = turned
    out.info[FRAMES] = frames  # how many the file holds (the first is read): predict says so
    return out if out.mode in modes else _checked_mode(out, shown(), modes, im.format)


FRAMES = "mnistlab_frames"  # the key of an opened image's info that counts its file's frames (GIF, TIFF, WebP)


def _warn_frames(image: Any, shown: str) -> None:
    """A DataWarning where ``image`` (a PIL image, opened here or by the caller) is the first of
    several frames, the one read (helper-133: a blank first frame read "no ink", the others unsaid)."""
    if isinstance(image, Image.Image) and (frames := int(image.info.get(FRAMES, getattr(image, "n_frames", 1)))) > 1:
        warnings.warn(f"{shown}: holds {frames} frames; the first is read (save another as an image of its own to "
                      "predict it)", DataWarning, stacklevel=user_level())


def _empty(source: str | os.PathLike | bytes | IO[bytes]) -> bool:
    """Whether an image source that Pillow could not identify holds no byte at all (False when that
    cannot be told: a stream)."""
    if isinstance(source, bytes):
        return not source
    try:
        return isinstance(source, (str, os.PathLike)) and os.path.getsize(source) == 0
    except OSError:
        return False


def _checked_mode(im: Image.Image, shown: str, modes: tuple[str, ...] = IMAGE_MODES,
                  file_format: str | None = None) -> Image.Image:
    """``im`` in one of ``modes``; a 16-bit grayscale image (mode ``I;16``: a 16-bit PNG or TIFF, a
    scanner's; a PGM of more than 8 bits, whose maxval Pillow scales to 65535: ``file_format`` is
    the file's, where ``im`` is a copy) as 8-bit, each pixel
    / 257 rounded (its 0-65535 onto 0-255, as PNG defines the scale; helper-236: refused); DataError
    for other modes (mode ``I`` of a TIFF, whose depth Pillow does not say; ``F``; LAB, HSV), whose
    conversion would guess."""
    if im.mode in modes:
        return im
    sixteen = im.mode in ("I;16", "I;16B", "I;16L", "I;16N") or (im.mode == "I" and (file_format or im.format) in (
        "PPM", "PNG"))  # (a PGM over 8 bits: Pillow scales its maxval to 65535, helper-239; a PNG has no 32-bit
    if sixteen and "L" in modes:  # integers, and Pillow before 10.1 or so opened a 16-bit one as mode I, helper-242)
        pixels = np.clip(np.asarray(im, dtype=np.float64), 0, 65535)
        return Image.fromarray(np.rint(pixels / 257.0).astype(np.uint8), mode="L")
    if im.mode.startswith("I") or im.mode == "F":
        depth = {"I": "32-bit integer", "F": "32-bit floating-point"}.get(im.mode, "16-bit")
        why = f"{depth} pixels (mode {im.mode})"
    else:
        why = f"{im.mode} colours"
    raise DataError(f"{shown}: {why} are not read; save it as an 8-bit grayscale or RGB image")


# The longest side a PIL image keeps before its recipe: a larger one is first reduced by the whole
# factor that brings it within (a box average). A 9000x9000 PNG of 78 KB, under Pillow's bomb
# limit, took 3.8 GB as float64 (helper-172).
MAX_SIDE = 2048
# to_gray: the mean visible grey below which a drawing whose transparent pixels hide a light colour is dark ink
DARK_INK_ON_WHITE = 192


def to_gray(image: Image.Image | np.ndarray) -> np.ndarray:
    """Grayscale float64 (H, W) on 0-255 from a PIL image or an array (H, W) / (H, W, 1-4 channels);
    a PIL image with a side over :data:`MAX_SIDE` is reduced first (by a whole factor, averaging).

    Transparency is flattened on the background that contrasts with the ink: a dark drawing on a
    transparent sheet is put on white, a light one on black. The alpha-weighted mean of the visible
    pixels decides (below 128: dark ink); where every fully transparent pixel hides a light colour
    (a white background made transparent: PowerPoint's "Set Transparent Color", a magic wand, a
    palette's transparent white) and some opaque pixels are dark (below 64: the strokes' cores), a
    mean up to 192 is dark ink too, with light fringes: thin strokes' anti-aliased edges left
    opaque outweighed their cores (helper-177: a 6 read on black). Mid-tone ink without a dark core
    (a light blue) is read by the mean alone, as before (helper-180). Arrays:
    uint8 0-255 or floats in [0, 1]; ValueError otherwise.
    """
    if isinstance(image, Image.Image):
        a = _pil_pixels(image)
    else:
        a = np.asarray(image)
        if a.dtype.kind == "f":
            if a.size and (not np.isfinite(a).all() or a.min() < 0 or a.max() > 1):
                raise ValueError("float pixels must be finite and in [0, 1]")
            a = a * 255.0
        elif a.dtype.kind not in "ui" or (a.size and (a.min() < 0 or a.max() > 255)):
            raise ValueError(f"expected uint8 (0-255) or float ([0, 1]) pixels, got {a.dtype}")
        a = a.astype(np.float64)
        if a.ndim == 3 and a.shape[2] == 1:
            a = a[..., 0]
        if a.ndim == 3 and a.shape[2] == 2:  # gray + alpha
            a = np.stack([a[..., 0]] * 3 + [a[..., 1]], axis=2)
        if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (3, 4))):
            raise ValueError(f"expected one image (H, W) or (H, W, 1-4 channels), got shape {a.shape}")
    if a.ndim == 2:
        return a
    gray = _luma(a)
    if a.shape[2] == 4:
        alpha = a[..., 3] / 255.0
        gray = gray * alpha + _backdrop(gray, alpha) * (1 - alpha)
    return gray


def _luma(a: np.ndarray) -> np.ndarray:
    """The grey of float (H, W, 3 or 4) RGB(A) pixels on 0-255: ITU-R 601, as Pillow's convert("L")."""
    return a[..., 0] * 0.299 + a[..., 1] * 0.587 + a[..., 2] * 0.114


def _pil_pixels(image: Image.Image) -> np.ndarray:
    """A PIL image as :func:`to_gray` reads it: float64 (H, W, 3) RGB, or (H, W, 4) RGBA where it is
    transparent, its longer side at most :data:`MAX_SIDE` (a box average by a whole factor)."""
    factor = math.ceil(max(image.size) / MAX_SIDE)  # a box average first: a 28x28 result needs no more pixels
    if factor > 1 and image.mode in ("L", "LA", "RGB", "RGBA") and "transparency" not in image.info:
        image = image.reduce(factor)  # (before a copy in RGB is made; a tRNS colour is in info, which reduce drops)
    im = image.convert("RGBA") if "A" in image.mode or "transparency" in image.info else image.convert("RGB")
    if max(im.size) > MAX_SIDE:  # a palette's or a bilevel image's
        im = im.reduce(factor)
    return np.asarray(im, dtype=np.float64)


def _backdrop(gray: np.ndarray, alpha: np.ndarray) -> float:
    """The grey (0.0 or 255.0) a transparent image is flattened on (:func:`to_gray`'s rule): ``gray``
    and ``alpha`` float (H, W), ``gray`` on 0-255 before flattening, ``alpha`` on 0-1."""
    ink = float((gray * alpha).sum() / alpha.sum()) if alpha.sum() else 0.0
    hidden = gray[alpha == 0]  # the colour under the transparent pixels: a white sheet made transparent?
    cored = bool((gray[alpha > 0.99] < 64).any())  # ... under strokes with a dark core (their fringes light)
    light_sheet = hidden.size and hidden.min() >= 128 and cored
    return 255.0 if ink < (DARK_INK_ON_WHITE if light_sheet else 128) else 0.0


def as_drawn(image: Image.Image, *, side: int = 512) -> np.ndarray:
    """``image`` as a figure draws it beside what the model saw: uint8 RGB (H, W, 3), its longer side
    at most ``side`` px (reduced by a whole factor). Palette, bilevel and CMYK images are converted
    as :func:`to_gray` converts them, and transparency is flattened on the background
    :func:`to_gray` chose, so chalk on a transparent sheet is drawn on black as the model read it
    (helper-181: drawn on white, it looked blank).
    """
    transparent = "A" in image.mode or "transparency" in image.info
    back = 0.0
    if transparent:  # chosen as to_gray chooses it, at its size: reduced further, thin strokes' cores blur (helper-186)
        read = _pil_pixels(image)
        back = _backdrop(_luma(read), read[..., 3] / 255.0)
    im = image.convert("RGBA" if transparent else "RGB")
    if (factor := math.ceil(max(im.size) / side)) > 1:
        im = im.reduce(factor)
    a = np.asarray(im, dtype=np.float64)
    if transparent:
        alpha = a[..., 3:] / 255.0
        a = a[..., :3] * alpha + back * (1 - alpha)
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------- the recipes
def preprocess(image: ImageInput, dataset: str | None = "mnist", *, size: Sequence[int] | None = None,
               name: str | None = None) -> np.ndarray:
    """One image as ``dataset``'s images were made: uint8 (H, W), (28, 28) for the MNIST family.

    ``image``: a file path, its bytes, a binary file, a PIL image, or an array (H, W) / (H, W,
    1-4 channels) of uint8 0-255 or floats in [0, 1], any size. ``dataset`` picks the recipe
    (:func:`recipe_for`; ``help(mnistlab.preprocessing)``); ``size`` the output size of a model whose input
    is not 28x28. Raises :class:`DataError` (one line, naming ``name`` or the file) for an
    unreadable file or an image with no ink (one flat colour, or noise only), and for a dataset
    name that is not registered (a typo would otherwise get the plain resize recipe; ``None`` asks
    for that recipe: images of unknown provenance, resized only).

    >>> preprocess(np.pad(np.full((50, 10), 255, np.uint8), 40), "mnist").shape
    (28, 28)
    """
    if isinstance(dataset, str) and dataset not in RECIPES:  # a typo must not fall back to the plain recipe
        from mnistlab.data.registry import get_info

        get_info(dataset)  # DataError naming the known datasets
    recipe = recipe_for(dataset, size)
    shown = display_name(name if name is not None else image if isinstance(image, (str, os.PathLike)) else "image")
    if isinstance(image, (str, os.PathLike, bytes)) or hasattr(image, "read"):
        image = open_image(image, name, orient=recipe.kind != "resize")  # the user's own data: as training read it
    _warn_frames(image, shown)
    try:
        gray = to_gray(image)
    except ValueError as exc:
        raise DataError(f"{shown}: {exc}") from None
    if min(gray.shape) == 0:
        raise DataError(f"{shown}: the image is empty (0 pixels)")
    if recipe.kind == "resize":  # as the user's own data was read for training: 8-bit, then bilinear (Pillow)
        from mnistlab.data.userdata import has_transparency

        _warn_if_small(gray.shape, max(recipe.size), shown, "image")
        opaque = isinstance(image, Image.Image) and not has_transparency(image)  # Pillow's own integer "L", as training's
        eight = image.convert("L") if opaque else Image.fromarray(np.rint(gray).astype(np.uint8), "L")
        if eight.size != (recipe.size[1], recipe.size[0]):
            eight = eight.resize((recipe.size[1], recipe.size[0]), Image.Resampling.BILINEAR)
        return np.asarray(eight, dtype=np.uint8)
    digits = recipe.kind == "digits"
    if _in_form(gray, recipe):
        return _to_uint8(gray / 255.0)
    gray = _even_lighting(gray) if digits else gray
    if recipe.invert == "light-background":
        gray = _light_on_dark(gray) if digits else _item_light(gray)
    ink = _ink(gray, shown, denoise=digits)
    ink = _main_ink(_without_lines(ink)) if digits else ink
    _warn_if_small(_crop(ink).shape, recipe.fit if digits else min(recipe.fit, *recipe.size), shown,
                   "ink" if digits else "item")  # (helper-216: a clothing model's warnings spoke of ink)
    if not digits and min(gray.shape) > 2 * min(recipe.size) and (ink > 0).mean() > FILLS:
        warnings.warn(f"{shown}: the item cannot be told from its background (what stands out of the border covers "
                      "the whole photo: light falling across it, a textured or noisy background, or the item cropped "
                      "edge to edge): photograph it on a plain, evenly lit background, with a margin of it around the "
                      "item", DataWarning, stacklevel=user_level())
    if digits and (marks := side_by_side(ink)) > 1:
        warnings.warn(f"{shown}: {marks} marks side by side, as several digits written in a row: the model reads one "
                      "digit an image, and answers for the whole row as one; crop each digit into its own image",
                      DataWarning, stacklevel=user_level())
    return _to_uint8(_digits(ink, recipe) if digits else _items(ink, recipe))


# an "item" over this share of a photo's pixels is its background too: light falling across it (helper-216:
# all of them); a Fashion-MNIST item that fills its frame covers at most 83% of it (bench: its test set, enlarged)
FILLS = 0.95
SMALL = 0.5  # ink (or an image) whose longer side is under half the size it is scaled to is mostly blur


def _warn_if_small(shape: tuple[int, ...], target: int, shown: str, what: str) -> None:
    """A DataWarning when ``shape`` (height, width) pixels of ``what`` are enlarged more than twice
    to ``target`` px on the longer side: the model then sees a blur, and its prediction says little."""
    if max(shape) < SMALL * target:
        warnings.warn(f"{shown}: the {what} is only {shape[1]}x{shape[0]} pixels, enlarged to {target} px: the model "
                      f"sees a blur and its prediction says little (use a larger image)", DataWarning, stacklevel=user_level())


ITEM_BLACK_BORDER = 0.15  # of a Fashion-MNIST image's border pixels exactly black, at the least (19% in its test set)


def _in_form(gray: np.ndarray, recipe: Recipe) -> bool:
    """Whether ``gray`` (0-255) is already what ``recipe`` makes: the frame's size, a black border
    (its median 0), and for digits the ink's box at most ``recipe.fit`` px with its centre of mass
    within a pixel of MNIST's centre (14, 14) or of the frame's middle (13.5, 13.5), as before the
    centre moved: all 10,000 of MNIST's test images are; for items the
    box 27 or 28 px on its longer side, its middle within a pixel of the frame's centre (99.8% of
    Fashion-MNIST's test images: remade, 4.7% of a model's answers on them changed, helper-119),
    the border black or, where an item touches the frame, at least :data:`ITEM_BLACK_BORDER` of it
    (21 of the other 23 were remade, a pullover into a white square: helper-216)."""
    edge = _border(gray) if gray.shape == tuple(recipe.size) else np.ones(1)
    touching = (recipe.kind == "items" and (edge == 0).mean() >= ITEM_BLACK_BORDER  # an item touching the frame, the
                and np.median(edge) < 128)  # (a dark ground: a black item on white touches it too, review)
    if np.median(edge) != 0 and not touching:  # dataset's black ground beside it (helper-216: 21 were remade)
        return False
    rows, cols = np.nonzero(gray)
    total = gray.sum()
    if not total:
        return False
    h, w = gray.shape
    longer = max(rows.max() - rows.min(), cols.max() - cols.min()) + 1
    if recipe.kind == "items":
        middle = ((rows.max() + rows.min()) / 2, (cols.max() + cols.min()) / 2)
        return longer >= min(h, w) - 1 and all(abs(m - (n - 1) / 2) <= 1 for m, n in zip(middle, (h, w)))
    if recipe.kind != "digits" or longer > recipe.fit:
        return False
    cy = float((gray.sum(1) * np.arange(h)).sum() / total)
    cx = float((gray.sum(0) * np.arange(w)).sum() / total)
    return all((c - 1 <= m <= c + 1) or (c - 1.5 <= m <= c) for m, c in ((cy, h / 2), (cx, w / 2)))  # see _digits


def _border(a: np.ndarray) -> np.ndarray:
    return np.concatenate([a[0], a[-1], a[1:-1, 0], a[1:-1, -1]])


def _item_light(gray: np.ndarray) -> np.ndarray:
    """An item made light on its background: inverted where the pixels that stand out of the
    border's level (by 4 of its noise's deviations, at least 12 of 255) are mostly darker than it
    (their median below it), so a detail does not decide (review: a charcoal hoodie's white logo did). With nothing that
    stands out, as the border rule: inverted where the border is lighter than mid-gray. helper-219:
    a white shirt on a grey table of 130 was inverted by the border rule into a dark item on grey,
    and then refused as "no item found"."""
    border = _border(gray)
    back = float(np.median(border))
    noise = 1.4826 * float(np.median(np.abs(border - back)))  # the border's robust sd: a photo's grain
    apart = gray[np.abs(gray - back) >= max(4 * noise, 12.0)]  # (helper-224: an item 40 levels off its ground)
    if not apart.size:
        return _light_on_dark(gray)
    return 255.0 - gray if float(np.median(apart)) < back else gray


def _light_on_dark(gray: np.ndarray) -> np.ndarray:
    """Inverted when the border (the background) is lighter than mid-gray."""
    return 255.0 - gray if np.median(_border(gray)) > 127.5 else gray


def _ink(gray: np.ndarray, shown: str, *, denoise: bool) -> np.ndarray:
    """The ink in [0, 1], background 0: the border's level and 4 of its noise's deviations (or 15% of the
    contrast) subtracted. A photo's speckle is removed first by a 3x3 median (images of 56 px and more).
    DataError when the brightest ink is less than MIN_CONTRAST above the background."""
    raw = gray
    if denoise and min(gray.shape) >= 56:
        gray = np.asarray(Image.fromarray(gray.astype(np.float32), "F").filter(ImageFilter.MedianFilter(3)),
                          dtype=np.float64)
    border = _border(gray)
    back = float(np.median(border))
    noise = 1.4826 * float(np.median(np.abs(border - back)))  # the robust standard deviation of the border
    top = float(np.percentile(gray, 99.9)) if gray.size > 1000 else float(gray.max())
    if top - back < MIN_CONTRAST:  # a small digit in a large photo: under 0.1% of its pixels (helper-133)
        gray, top = _fine_ink(raw, gray, back)
    if top - back < MIN_CONTRAST and not denoise:  # an item's image (a clothing model's)
        raise DataError(f"{shown}: no item found: the image is one flat colour or faint noise (nothing stands "
                        f"{MIN_CONTRAST:.0f} of 255 from the background at its border)")
    if top - back < MIN_CONTRAST:
        raise DataError(f"{shown}: no ink found: the image is one flat colour, faint noise or specks of dust (no "
                        f"stroke {FINE_SIDE} px long stands {MIN_CONTRAST:.0f} of 255 from the background)")
    low = back + max(4 * noise, 0.15 * (top - back))
    return np.clip((gray - low) / (top - low), 0.0, 1.0)


FINE_INK = 12  # the fewest pixels that make ink: a digit in a fine pen, small in a large photo, has ~100


def _fine_ink(raw: np.ndarray, smooth: np.ndarray, back: float) -> tuple[np.ndarray, float]:
    """The image to take ink from, and its ink's level, where the 99.9th percentile found none: a
    digit under 0.1% of a photo's pixels (helper-133: a 35 px 7 in a 400x300 photo). Its level is
    its ``FINE_INK``-th brightest pixel, in the speckle-free ``smooth`` image, or where the 3x3
    median erased the ink too (strokes 1 px wide, in a fine pen) in the ``raw`` one; either only
    where that ink is a stroke (:func:`_a_stroke`), not dust (helper-135, -137: specks of dirt on a
    blank page were predicted a digit). Else ``smooth`` and a level that finds no ink."""
    def kth(a: np.ndarray) -> float:
        return float(np.partition(a.ravel(), -FINE_INK)[-FINE_INK]) if a.size > FINE_INK else float(a.max())

    for image in (smooth, raw):
        if (top := kth(image)) - back >= MIN_CONTRAST and _a_stroke(image - back >= MIN_CONTRAST):
            return image, top
    return smooth, back  # no ink: the caller says so


FINE_SIDE = 10  # px: the least extent of fine ink's largest stroke (a speck of dirt is a few px)


def _a_stroke(bright: np.ndarray) -> bool:
    """Whether the ``bright`` pixels (bool (H, W)) hold a stroke: an 8-connected blob of FINE_INK
    pixels or more whose box is FINE_SIDE px or more on its longer side."""
    ys, xs = np.nonzero(bright)
    if ys.size < FINE_INK:
        return False
    top, left = ys.min(), xs.min()
    labels = _components(bright[top: ys.max() + 1, left: xs.max() + 1])
    count = np.bincount(labels.ravel())
    count[0] = 0
    if count.max() < FINE_INK:
        return False
    by, bx = np.nonzero(labels == count.argmax())
    return max(by.max() - by.min(), bx.max() - bx.min()) + 1 >= FINE_SIDE


# Uneven lighting: the background is a quadratic surface in x and y (a gradient, a vignette, a soft
# shadow's edge), fitted at BACKGROUND_SIDE px (the longer side) by least squares, refitted
# BACKGROUND_FITS times without the pixels that stand out from it (the ink).
BACKGROUND_SIDE, BACKGROUND_FITS = 64, 3


def _background(gray: np.ndarray) -> np.ndarray:
    """The smooth background of ``gray`` (H, W): a quadratic surface fitted robustly (see above)."""
    h, w = gray.shape
    scale = BACKGROUND_SIDE / max(h, w)
    sw, sh = max(2, round(w * scale)), max(2, round(h * scale))
    small = np.asarray(Image.fromarray(gray.astype(np.float32), "F").resize((sw, sh), Image.Resampling.BOX),
                       dtype=np.float64)

    y, x = (a.ravel() for a in np.mgrid[0:1:sh * 1j, 0:1:sw * 1j])
    design = np.stack([np.ones_like(x), x, y, x * x, x * y, y * y], axis=1)
    values, use = small.ravel(), np.ones(small.size, bool)
    for _ in range(BACKGROUND_FITS):
        a = design[use]
        coef = np.linalg.solve(a.T @ a + 1e-9 * np.eye(6), a.T @ values[use])  # 6x6 normal equations: fast
        residual = values - design @ coef
        spread = 1.4826 * float(np.median(np.abs(residual[use] - np.median(residual[use])))) + 1.0
        use = np.abs(residual) <= 2.5 * spread
    c0, c1, c2, c3, c4, c5 = coef
    ys, xs = np.linspace(0, 1, h)[:, None], np.linspace(0, 1, w)[None, :]
    return (c0 + c2 * ys + c5 * ys * ys) + (c1 + c4 * ys) * xs + c3 * xs * xs  # (H, W), one full-size array


def _even_lighting(gray: np.ndarray) -> np.ndarray:
    """A photo's smooth background (uneven light) removed, the ink made light on a background of 0.
    The background is :func:`_background`. Dark ink on paper (:func:`_dark_ink`) reflects a share
    of the light: 1 - image / background; light ink adds to it: image - background. Images under
    56 px (in dataset form, or near it) are as given."""
    h, w = gray.shape
    if min(h, w) < 56:
        return gray
    back = _background(gray)
    diff = gray - back
    if _dark_ink(diff):  # dark ink on paper: the light
        return np.clip(255.0 * (1.0 - gray / np.maximum(back, 1.0)), 0.0, 255.0)  # scales both: divide it out
    return np.clip(diff, 0.0, 255.0)  # light ink (chalk, a screen) adds to a dark background


def _dark_ink(diff: np.ndarray) -> bool:
    """Whether the ink is dark on a light ground: the k-th darkest pixel of ``diff`` (the image less
    its background) further below it than the k-th brightest is above it, k the 0.1% of the pixels
    but at most FINE_INK * 2 (helper-135: a digit under 0.1% of a photo was taken for light ink at
    random, by the noise, and wiped out)."""
    k = max(1, min(diff.size // 1000, FINE_INK * 2))
    ends = np.partition(diff.ravel(), (k - 1, diff.size - k))  # one partial sort for both ends
    return -float(ends[k - 1]) > float(ends[diff.size - k])


# Ruled lines, a margin line and a form's box: rows (columns) with ink across LINE_COVER of the
# image, at most LINE_THIN of it thick. Rows are lines where they are ruled paper's or a box's
# (:func:`_ruled`), those no darker (LINE_LEVEL) nor thicker (LINE_WIDTH) than their median: a
# digit's bar across a tight crop of ruled paper is darker and thicker than the rules (helper-135).
# Columns are lines only in the outer LINE_EDGE of the width (a 1 is a vertical line in the middle;
# a box's sides and a margin line are near an edge): two or more (a box's sides), or one fainter
# than MARGIN_LEVEL (the pen's ink is 1) beside ruled rows or running the whole height (a margin).
LINE_COVER, LINE_EDGE, LINE_LEVEL, LINE_WIDTH, MARGIN_LEVEL = 0.8, 0.2, 1.5, 2.0, 0.75
LINE_THIN = 0.05  # a line is at most this share of the image thick (a tight crop's bars are 15-50%)


def _without_lines(ink: np.ndarray) -> np.ndarray:
    """``ink`` (H, W, in [0, 1]) without the lines of ruled paper, a margin line or a box drawn around
    the digit (helper-133: on lined paper 5 of 5 digits were wrong, the lines kept as a band that
    shrank the digit; a boxed digit kept its box). Each row (column) of a line loses LINE_LEVEL
    times the line's level there (the median of its ink), so that nothing of the line is left to
    widen the crop while a stroke that crosses it, darker, keeps the rest. Images under 56 px are
    as given."""
    h, w = ink.shape
    if min(h, w) < 56:
        return ink
    cols = [band for band in _line_bands(ink, 1) if band.stop - band.start <= LINE_THIN * w
            and (band.stop <= LINE_EDGE * w or band.start >= (1 - LINE_EDGE) * w)]
    rows = _ruled(ink, [band for band in _line_bands(ink, 0) if band.stop - band.start <= LINE_THIN * h], len(cols))
    if len(cols) < 2:  # no box: a margin line, fainter than the pen (a 1's stem near an edge is not)
        cols = [band for band in cols if _line_level(ink, 1, band) <= MARGIN_LEVEL
                and (rows or (ink[:, band] > 0).any(axis=1).mean() >= 0.95)]  # alone: it runs the whole height
    out = ink.copy()
    for axis, band in [(0, band) for band in rows] + [(1, band) for band in cols]:
        view = out[band] if axis == 0 else out[:, band].T
        on = np.where(view > 0, view, np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a row of no ink: its level is 0
            here = np.nan_to_num(np.nanmedian(on, axis=1, keepdims=True))
        view[...] = np.clip(view - LINE_LEVEL * here, 0.0, 1.0)
    return out


def _ruled(ink: np.ndarray, bands: list[slice], sides: int) -> list[slice]:
    """The thin row ``bands`` that are lines: ruled paper's (three or more, spaced by a whole number
    of one gap: a digit's bar over a line only hides it), or a box's top and bottom (two, near the
    edges, ``sides`` its sides); of those, the ones no darker (:data:`LINE_LEVEL`) nor thicker
    (:data:`LINE_WIDTH`) than their median (the others: a digit's strokes). helper-137: the two bars
    of a tightly cropped 3, 5 or 7 were taken for ruled lines and erased."""
    h = ink.shape[0]
    middles = [(band.start + band.stop) / 2 for band in bands]
    gaps = np.diff(middles)
    ruled = len(bands) >= 3 and bool(np.all(np.abs(gaps / gaps.min() - np.rint(gaps / gaps.min())) <= 0.25))
    boxed = len(bands) == 2 and sides >= 2 and middles[0] <= LINE_EDGE * h and middles[1] >= (1 - LINE_EDGE) * h
    if not (ruled or boxed):
        return []
    level = [_line_level(ink, 0, band) for band in bands]
    width = [band.stop - band.start for band in bands]
    typical, thick = float(np.median(level)), float(np.median(width))
    return [band for band, lv, wd in zip(bands, level, width) if lv <= LINE_LEVEL * typical and wd <= LINE_WIDTH * thick]


def _line_level(ink: np.ndarray, axis: int, band: slice) -> float:
    """The ink level of a line (``band`` of rows, ``axis`` 0, or of columns): the median of its rows'
    (columns') medians, those across LINE_COVER of the image."""
    view = ink[band] if axis == 0 else ink[:, band].T
    core = view[(view > 0).mean(axis=1) >= LINE_COVER]
    return float(np.median(core)) if core.size else 0.0


def _line_bands(ink: np.ndarray, axis: int) -> list[slice]:
    """The runs of rows (``axis`` 0) or columns (1) with ink across :data:`LINE_COVER` of the image,
    each widened by its neighbours with ink across a third of it (a line's soft edge)."""
    cover = (ink > 0).mean(axis=1 - axis)
    core, edge = cover >= LINE_COVER, cover >= LINE_COVER / 3
    bands, i, n = [], 0, len(cover)
    while i < n:
        if not core[i]:
            i += 1
            continue
        start, stop = i, i
        while stop < n and core[stop]:
            stop += 1
        while start > 0 and edge[start - 1]:
            start -= 1
        while stop < n and edge[stop]:
            stop += 1
        bands.append(slice(start, stop))
        i = stop
    return bands


# Specks: ink components (8-connected, found at SPECK_SIDE px) that are small beside the largest one:
# less than SPECK_NEAR of its ink, or less than SPECK_FAR of it and further from it than SPECK_GAP
# of its longer side (a 5's separate hat is near and far heavier than a speck of dirt).
SPECK_NEAR, SPECK_FAR, SPECK_GAP, SPECK_SIDE = 0.05, 0.3, 0.25, 256


def _main_ink(ink: np.ndarray) -> np.ndarray:
    """``ink`` without its specks (see above): a speck of dirt far from the digit would otherwise
    enlarge the crop and shrink the digit. Components are found on a max-pooled copy (at most
    SPECK_SIDE px), so strokes a few pixels apart stay one; a component's weight is its ink's sum."""
    h, w = ink.shape
    f = max(1, -(-max(h, w) // SPECK_SIDE))
    padded = np.pad(ink, ((0, -h % f), (0, -w % f)))
    blocks = padded.reshape(padded.shape[0] // f, f, padded.shape[1] // f, f)
    labels = _components(blocks.max(axis=(1, 3)) > 0)
    count = int(labels.max())
    if count <= 1:
        return ink
    mass = np.bincount(labels.ravel(), weights=blocks.sum(axis=(1, 3)).ravel(), minlength=count + 1)
    mass[0] = 0.0
    ys, xs = np.nonzero(labels)
    which = labels[ys, xs]
    box = np.stack([np.full(count + 1, 1 << 30), np.full(count + 1, -1)] * 2)  # top, bottom, left, right
    for row, coords, at in ((0, ys, np.minimum), (1, ys, np.maximum), (2, xs, np.minimum), (3, xs, np.maximum)):
        at.at(box[row], which, coords)
    main = int(mass.argmax())
    gap = np.maximum.reduce([box[0] - box[1, main], box[0, main] - box[1], box[2] - box[3, main],
                             box[2, main] - box[3], np.zeros(count + 1, np.int64)])
    reach = SPECK_GAP * (max(box[1, main] - box[0, main], box[3, main] - box[2, main]) + 1)
    keep = (mass >= SPECK_FAR * mass[main]) | ((mass >= SPECK_NEAR * mass[main]) & (gap <= reach))
    keep[0] = False
    mask = np.repeat(np.repeat(keep[labels], f, axis=0), f, axis=1)[:h, :w]
    return np.where(mask, ink, 0.0)


# A row of several digits (helper-150: "123" in one photo was "4 93.9%", unsaid): the ink's box at least
# this much wider than tall, parted by empty columns into marks that each hold this share of the ink
# and span this share of its height. One digit in MNIST's test set so drawn: none (bench/bench_rows.py).
ROW_WIDER, ROW_MASS, ROW_TALL = 1.2, 0.1, 0.5


def side_by_side(ink: np.ndarray) -> int:
    """How many marks ``ink`` (float [0, 1], (H, W), background 0) holds side by side: runs of
    columns with ink, parted by columns without, each of :data:`ROW_MASS` of the ink and
    :data:`ROW_TALL` of its height, where the ink is :data:`ROW_WIDER` times wider than tall; 1 for
    one mark (a digit, however its strokes are parted), 0 for no ink."""
    mask = ink > 0.25
    rows, cols = np.nonzero(mask)
    if not len(rows):
        return 0
    height, width = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
    if width < ROW_WIDER * height:
        return 1
    band = mask[:, cols.min(): cols.max() + 1]
    filled = band.any(axis=0)
    edges = np.flatnonzero(np.diff(np.concatenate([[0], filled.astype(np.int8), [0]])))  # starts, ends of each run
    total, marks = float(ink[mask].sum()), 0
    for start, end in zip(edges[::2], edges[1::2]):
        part = band[:, start:end]
        tall = np.flatnonzero(part.any(axis=1))
        mass = float(np.where(part, ink[:, cols.min() + start: cols.min() + end], 0.0).sum())
        marks += mass >= ROW_MASS * total and tall[-1] - tall[0] + 1 >= ROW_TALL * height
    return max(marks, 1)


def _components(mask: np.ndarray) -> np.ndarray:
    """8-connected components of a boolean mask: int labels (H, W), 0 for the background, 1..K.
    Runs of each row are joined to the runs they touch in the row above (union-find over runs)."""
    runs: list[tuple[int, int, int]] = []  # (row, start, end): end exclusive
    parent: list[int] = []

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    above: list[int] = []  # indices in `runs` of the previous row's runs
    for r, row in enumerate(mask):
        edges = np.diff(np.concatenate(([0], row.astype(np.int8), [0])))
        here = []
        for start, end in zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()):
            i = len(runs)
            runs.append((r, start, end))
            parent.append(i)
            for j in above:  # diagonal contact counts: the runs touch when they overlap widened by one
                _, s2, e2 = runs[j]
                if start <= e2 and s2 <= end:
                    a, b = root(i), root(j)
                    parent[max(a, b)] = min(a, b)
            here.append(i)
        above = here
    labels = np.zeros(mask.shape, np.int64)
    ids: dict[int, int] = {}
    for i, (r, start, end) in enumerate(runs):
        labels[r, start:end] = ids.setdefault(root(i), len(ids) + 1)
    return labels


def _crop(ink: np.ndarray) -> np.ndarray:
    rows, cols = np.flatnonzero(ink.any(1)), np.flatnonzero(ink.any(0))
    return ink[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1]


def _resize(a: np.ndarray, wh: tuple[int, int]) -> np.ndarray:
    """``a`` (floats) resized to (width, height) with Lanczos, antialiased when shrinking (Pillow's)."""
    out = Image.fromarray(a.astype(np.float32), "F").resize(wh, Image.Resampling.LANCZOS)
    return np.clip(np.asarray(out, dtype=np.float64), 0.0, 1.0)


def _fit(ink: np.ndarray, longest: int) -> np.ndarray:
    """Cropped to the ink, the longer side scaled to ``longest`` px, aspect ratio kept."""
    ink = _crop(ink)
    h, w = ink.shape
    scale = longest / max(h, w)
    return _resize(ink, (max(1, round(w * scale)), max(1, round(h * scale))))


# MNIST's strokes: the median digit's stroke is 0.13 of its longer side (bench: the estimate of
# _stroke on 2,000 test digits, 5th percentile 0.10). A pen on paper draws much finer lines.
THIN_STROKE, STROKE = 0.09, 0.12


def _stroke(ink: np.ndarray) -> float:
    """The mean stroke width in pixels of the ink (above half): twice its area over its boundary pixels."""
    m = np.pad(ink > 0.5, 1)
    inner = m[1:-1, 1:-1] & m[:-2, 1:-1] & m[2:, 1:-1] & m[1:-1, :-2] & m[1:-1, 2:]
    area = int(m.sum())
    return 2 * area / max(area - int(inner.sum()), 1)


def _thicken(ink: np.ndarray) -> np.ndarray:
    """Strokes thinner than THIN_STROKE of the longer side grown (3x3 maxima) to STROKE of it; else as given."""
    ink = _crop(ink)
    if max(ink.shape) > 400:  # grow at a bounded size: a phone photo's strokes are wide enough at 400 px
        scale = 400 / max(ink.shape)
        ink = _resize(ink, (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale))))
    longest, width = max(ink.shape), _stroke(ink)
    passes = int((STROKE * longest - width) // 2)
    if width >= THIN_STROKE * longest or passes < 1:
        return ink
    grown = Image.fromarray(np.pad(ink, passes).astype(np.float32), "F")
    for _ in range(passes):
        grown = grown.filter(ImageFilter.MaxFilter(3))
    return np.asarray(grown, dtype=np.float64)


def _digits(ink: np.ndarray, recipe: Recipe) -> np.ndarray:
    """MNIST's steps on the ink: thin strokes grown, fit ``recipe.fit`` px, centre of mass at the frame's centre."""
    patch = _fit(_thicken(ink), recipe.fit)
    patch = patch / patch.max() if patch.max() > 0 else patch  # MNIST's strokes reach 255 after their scaling too
    h, w = patch.shape
    frame_h, frame_w = recipe.size
    total = patch.sum()
    cy = float((patch.sum(1) * np.arange(h)).sum() / total) if total else (h - 1) / 2
    cx = float((patch.sum(0) * np.arange(w)).sum() / total) if total else (w - 1) / 2
    # The whole-pixel shift that puts the mass at MNIST's centre, kept within the frame (no ink is cut
    # off). MNIST's digits have theirs at (14.0, 14.0), sd 0.29 px (all 60,000 training images, in
    # pixel indices 0..27): half a pixel below and right of the middle (13.5, 13.5). helper-133: 1,000
    # test digits remade around 13.5 lost 3 points of a model's accuracy, around 14 none.
    top = min(max(round(frame_h / 2 - cy), 0), frame_h - h)
    left = min(max(round(frame_w / 2 - cx), 0), frame_w - w)
    out = np.zeros(recipe.size)
    out[top: top + h, left: left + w] = patch
    return out


def _items(ink: np.ndarray, recipe: Recipe) -> np.ndarray:
    """Fashion-MNIST's steps on the item: fit the frame, sharpen, centre the box."""
    patch = _fit(ink, min(recipe.fit, *recipe.size))
    if recipe.sharpen:
        sharp = Image.fromarray(_to_uint8(patch), "L").filter(ImageFilter.UnsharpMask(radius=1, percent=100, threshold=0))
        patch = np.asarray(sharp, dtype=np.float64) / 255.0
    h, w = patch.shape
    out = np.zeros(recipe.size)
    top, left = (recipe.size[0] - h) // 2, (recipe.size[1] - w) // 2
    out[top: top + h, left: left + w] = patch
    return out


def _to_uint8(a: np.ndarray) -> np.ndarray:
    return np.rint(np.clip(a, 0.0, 1.0) * 255.0).astype(np.uint8)


# ------------------------------------------------------------------------- many files at once
def image_sources(paths: Iterable[str | os.PathLike], errors: list[str] | None = None,
                  origins: list[int] | None = None) -> list[tuple[str, str | bytes]]:
    """(display name, path or bytes) for each IMAGES argument: a file, a folder's image files
    (by suffix, at any depth, in :func:`natural_order`), or ``-`` for one image read from stdin.

    Raises DataError for a path that does not exist, a folder holding no image files and empty
    stdin; with an ``errors`` list, appends that one-line message to it instead and goes on with
    the others. ``-`` given twice is a DataError at once: stdin holds one image. ``origins``: a
    list that gets, for each source, the index in ``paths`` of the argument it came from.

    A path named twice gives its image twice, as Keras's predict gives a row per input; a pattern
    gives each image it reaches once (:func:`each_once`).
    """
    given = [os.fspath(p) for p in paths]
    if given.count("-") > 1:
        raise DataError(f"- (stdin) is given {given.count('-')} times: it holds one image; give it once")
    out: list[tuple[str, str | bytes]] = []
    for k, p in enumerate(given):
        try:
            found = _sources_of(p)
        except DataError as exc:
            if errors is None:
                raise
            errors.append(str(exc))
            continue
        out += found
        if origins is not None:
            origins += [k] * len(found)
    return out


def each_once(sources: Sequence[tuple[str, str | bytes]]) -> list[int]:
    """The positions in ``sources`` (name, path or bytes) to keep so that each image file comes
    once, where it is first reached: a pattern's ``d/**`` matches the folder d/sub and each image in
    it, and a link to a folder reaches images matched already (helper-174: an image listed three
    times). Bytes (stdin) are kept."""
    seen: set[str] = set()
    keep = []
    for i, (_, src) in enumerate(sources):
        real = os.path.realpath(src) if isinstance(src, str) else None
        if real is None or real not in seen:
            keep.append(i)
        if real is not None:
            seen.add(real)
    return keep


def list_images(images: str | os.PathLike | Sequence[str | os.PathLike]) -> list[str]:
    """The image files that :meth:`mnistlab.Run.predict` reads for ``images`` (a file, a folder, or
    a list of them), in its order: row ``i`` of its probabilities is file ``i``. A folder's images
    are found at any depth and listed as a file manager lists them (:func:`natural_order`), as the
    paths they were found by (``folder/sub/img2.png``); ``-`` (stdin) is ``"<stdin>"``. Raises
    DataError as :func:`image_sources` does (no such file, a folder with no images).

        >>> for path, p in zip(list_images("digits/"), run.predict("digits/")):   # doctest: +SKIP
        ...     print(path, p.argmax())
    """
    given = [images] if isinstance(images, (str, os.PathLike)) else list(images)
    return [src if isinstance(src, str) else name for name, src in image_sources(given)]


def _sources_of(p: str) -> list[tuple[str, str | bytes]]:
    if p == "-":
        if sys.stdin.isatty():  # helper-162: it waited for an image typed at the keyboard until killed
            raise DataError("<stdin>: a terminal: nothing was piped in (mnistlab predict RUN - < image.png)")
        if not (data := sys.stdin.buffer.read(MAX_STDIN_BYTES + 1)):
            raise DataError("<stdin>: empty: nothing was piped in (mnistlab predict RUN - < image.png)")
        if len(data) > MAX_STDIN_BYTES:  # (helper-172: `- < /dev/zero` read until memory ran out)
            raise DataError(f"<stdin>: more than {MAX_STDIN_BYTES:,} bytes piped in: not one image file")
        if _csv_text(data):
            raise DataError("<stdin>: CSV text, not an image: stdin holds one image file; give the CSV by its path "
                            "(mnistlab predict RUN test.csv)")
        return [("<stdin>", data)]
    if os.path.isdir(p):
        return _folder_sources(p)
    if special_file(p):  # a FIFO named x.csv: read as a CSV, it never ended (helper-174)
        raise DataError(f"{display_name(p)}: not a regular file (a pipe or a device); an image piped in is read from - "
                        "(stdin)")
    if os.path.exists(p):
        return [(display_name(p), p)]
    if os.path.islink(p):  # as a folder's dead links are said
        raise DataError(f"{display_name(p)}: a link to nothing (what it points to, {display_name(os.readlink(p))}, is gone)")
    if glob.has_magic(p):  # a pattern a shell did not expand (quoted, or Windows's cmd): as a shell would (helper-133)
        return _pattern_sources(p)
    raise DataError(f"{path_as_typed(p)}: no such file or folder{missing_hint(p)}")


MAX_STDIN_BYTES = 256 << 20  # what `predict -` reads of stdin at most: one image file, never a stream


def expand_pattern(pattern: str) -> list[str]:
    """What a shell makes of a ``*``/``?``/``[...]`` pattern (``**`` at any depth, as bash's
    ``globstar``: links to folders are not followed there): the paths it matches, files and folders,
    in :func:`natural_order`; [] for none (helper-137: a pattern of folders was "no image file
    matches"). Python's ``glob`` follows every link under ``**``, so two links to ``.`` made it
    list paths forever (helper-172)."""
    found = _globstar(pattern) if "**" in pattern.split(os.sep) else glob.glob(pattern)
    return sorted(found, key=lambda m: natural_order(m.split(os.sep)))


def _globstar(pattern: str) -> list[str]:
    """The paths a pattern with a ``**`` component matches: the folder before its first wildcard
    walked with :func:`os.walk` (links to folders listed, not entered), each path below it matched
    name by name (:func:`_matches`). A pattern ending in a separator matches folders only, as glob's."""
    folders_only = pattern.endswith(os.sep)
    parts = pattern.rstrip(os.sep).split(os.sep)
    plain = next(i for i, part in enumerate(parts) if glob.has_magic(part))
    top = os.sep.join(parts[:plain]) or ("" if not pattern.startswith(os.sep) else os.sep)
    root = top or os.curdir
    out = []
    for here, folders, files in os.walk(root):
        rel = os.path.relpath(here, root)
        below = () if rel == os.curdir else tuple(rel.split(os.sep))
        for name in (*folders, *(() if folders_only else files)):
            if _matches((*below, name), parts[plain:]):
                found = os.path.join(*below, name)
                out.append((os.path.join(top, found) if top else found) + os.sep * folders_only)
    return out


def _matches(names: Sequence[str], patterns: Sequence[str]) -> bool:
    """Whether a path's ``names`` match ``patterns`` one by one (fnmatch's ``*``, ``?``, ``[...]``
    within a name; ``**`` any number of names), a hidden name only where its pattern spells the dot,
    as glob's. fnmatch, not a regular expression of our own: a range written backwards (``[z-a]``)
    or a ``]`` first in a set is read as glob reads it (helper-175: a traceback)."""
    if not patterns:
        return not names
    if patterns[0] == "**":
        return any(_matches(names[k:], patterns[1:]) for k in range(len(names) + 1)
                   if not any(n.startswith(".") for n in names[:k]))
    if not names or (names[0].startswith(".") and not patterns[0].startswith(".")):
        return False
    return fnmatch.fnmatchcase(names[0], patterns[0]) and _matches(names[1:], patterns[1:])


def _pattern_sources(pattern: str) -> list[tuple[str, str | bytes]]:
    """The images of what a pattern matches (:func:`expand_pattern`): image files, and folders'
    images as a folder's are found; DataError when it matches no image (its other files counted)."""
    matched = expand_pattern(pattern)
    out: list[tuple[str, str | bytes]] = []
    for m in matched:
        if os.path.isdir(m):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DataWarning)  # a folder's other files: the pattern chose it
                try:
                    out += _folder_sources(m)
                except DataError:
                    continue  # a folder without images, among the matches
        elif m.lower().endswith(IMAGE_SUFFIXES):
            out.append((display_name(m), m))
    out = [out[i] for i in each_once(out)]
    if not out:
        others = f" (only {len(matched)} other file{'s' * (len(matched) != 1)} or folder{'s' * (len(matched) != 1)})" \
            if matched else ""
        raise DataError(f"{display_name(pattern)}: no image file matches this pattern{others}; looked for "
                        f"{', '.join(IMAGE_SUFFIXES)}" + (_other_case(pattern) if not matched else ""))
    return out


def _other_case(pattern: str) -> str:
    """``; img/3.PNG and 4 more match it in another case: patterns tell case apart`` where the
    pattern, its letters of either case, matches files (helper-177: ``*.png`` of Paint's ``.PNG``
    files said only "no image file matches"); "" where none does."""
    blind, depth = [], 0
    for c in pattern:  # each letter outside a [...] set as a set of its two cases
        depth += c == "["
        depth -= c == "]" and depth > 0
        blind.append(f"[{c.lower()}{c.upper()}]" if c.isalpha() and c.lower() != c.upper() and not depth else c)
    found = [m for m in expand_pattern("".join(blind)) if m.lower().endswith(IMAGE_SUFFIXES)]
    if not found:
        return ""
    more = f" and {len(found) - 1} more" if len(found) > 1 else ""
    return f"; {display_name(found[0])}{more} match{'es' * (not more)} it in another case: patterns tell case apart"


def _csv_text(data: bytes) -> bool:
    """Whether ``data`` starts as a CSV of pixels does: a first line of text with commas in it."""
    first = data[:65536].split(b"\n", 1)[0].rstrip(b"\r")  # (Excel's lines end in \r\n)
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError:
        return False
    return text.count(",") >= 2 and text.isprintable()


def _folder_sources(p: str) -> list[tuple[str, str | bytes]]:
    """A folder's images at any depth, in :func:`natural_order` (dot-folders not read: a notebook's checkpoints
    would repeat its images), as :func:`~mnistlab.data.userdata.walk_images` finds them; a
    :class:`~mnistlab.errors.DataWarning` names what was not read: other files, hidden folders and
    image files, links to nothing and folders that cannot be listed."""
    found: list[Entry] = []
    passed: dict[str, list[str]] = {"hidden": [], "hidden file": [], "broken": [], "unreadable": [], "other": [],
                                    "folder link": [], "special": []}
    for f in walk_images(p):
        if f.kind == "image":
            found.append(f)
        elif f.kind != "other" or not system_file(f.parts[-1]):  # .DS_Store, Thumbs.db: quietly
            passed[f.kind].append("/".join(f.parts))
    said = [f"{len(names)} {one if len(names) == 1 else many} ({', '.join(sorted(names)[:3])}{', ...' * (len(names) > 3)})"
            for one, many, names in (
                ("file not ending in an image suffix", "files not ending in an image suffix", passed["other"]),
                ("hidden folder", "hidden folders", passed["hidden"]),
                ('hidden file (its name starting with ".", as the ._ files a Mac writes beside each file it copies)',
                 'hidden files (their names starting with ".", as the ._ files a Mac writes beside each file it copies)',
                 passed["hidden file"]),
                ("link to nothing (or in a loop of links)", "links to nothing (or in a loop of links)", passed["broken"]),
                ("link to a folder, not followed", "links to folders, not followed", passed["folder link"]),
                ("folder that cannot be listed", "folders that cannot be listed", passed["unreadable"]),
                ("pipe or device named as an image", "pipes or devices named as images", passed["special"])) if names]
    if not found:
        raise DataError(f"{display_name(p)}: a folder with no images at any depth (looked for {', '.join(IMAGE_SUFFIXES)})"
                        + (f"; not read: {'; '.join(said)}" if said else ""))
    if said:
        warnings.warn(f"{display_name(p)}: not read: {'; '.join(said)}", DataWarning, stacklevel=user_level())
    return [(display_name(f.path), f.path) for f in sorted(found, key=lambda f: natural_order(f.parts))]


def natural_order(parts: Sequence[str]) -> tuple[Any, ...]:
    """The sort key of a path's ``parts`` that a file manager lists them by: runs of digits compare
    as numbers, so ``img2.png`` comes before ``img10.png``, and letters without their case
    (``Img3`` between ``img2`` and ``img4``; the case breaks ties), so a submission's ImageId counts
    a folder's images in the order its user sees them. Training's class folders keep path order
    (Keras's ``image_dataset_from_directory``: what their shuffle starts from)."""
    key = tuple(tuple((0, int(chunk), "") if chunk.isdecimal() else (1, 0, chunk.casefold())
                      for chunk in re.split(r"(\d+)", part) if chunk) for part in parts)
    return key, tuple(parts)


def read_images(sources: Sequence[tuple[str, str | bytes]], dataset: str | None, *, size: Sequence[int] = (28, 28),
                preprocessing: bool = True, errors: list[tuple[int, str]] | None = None
                ) -> tuple[list[Image.Image], np.ndarray]:
    """The images of :func:`image_sources` and what the model sees of them: uint8 (N, H, W).

    With ``preprocessing`` each goes through :func:`preprocess` for ``dataset``; without, each
    must already be in dataset form (``size``, grayscale: colour is converted), else DataError.
    With an ``errors`` list, a bad image does not stop the others: (its index in ``sources``, its
    one-line message) is appended and it is left out of both results.
    """
    originals, seen = [], []
    as_trained = recipe_for(dataset, size).kind == "resize"  # the user's own data: its EXIF orientation as training left it
    for i, (name, src) in enumerate(sources):
        try:
            im = open_image(src, name, orient=not as_trained)
            if preprocessing:
                seen.append(preprocess(im, dataset, size=size if tuple(size) != (28, 28) else None, name=name))
            elif (im.height, im.width) != tuple(size):
                raise DataError(f"{name}: {im.width}x{im.height} pixels, the model takes {size[1]}x{size[0]}: "
                                "drop --no-preprocess (preprocess=False) to fit it")
            else:
                _warn_frames(im, name)  # (preprocess says it of the others)
                seen.append(_to_uint8(to_gray(im) / 255.0))
        except DataError as exc:
            if errors is None:
                raise
            errors.append((i, str(exc)))
            continue
        originals.append(im)
    return originals, np.stack(seen) if seen else np.zeros((0, *size), np.uint8)
