"""The former name of :mod:`mnistlab.preprocessing`, kept so that ``from mnistlab.preprocess import
recipe_for`` (mnistlab 0.x's spelling) goes on working, with a DeprecationWarning; ``mnistlab.preprocess``
itself is the function :func:`mnistlab.preprocessing.preprocess` (``import mnistlab.preprocess as m``
gives that function: import ``mnistlab.preprocessing``)."""

import warnings
from typing import Any

from mnistlab import preprocessing as _preprocessing
from mnistlab.preprocessing import *  # noqa: F403
from mnistlab.preprocessing import __all__  # noqa: F401


def __getattr__(name: str) -> Any:
    """Every name of :mod:`mnistlab.preprocessing`, not only its ``__all__`` (helper-242:
    ``from mnistlab.preprocess import list_images`` failed)."""
    return getattr(_preprocessing, name)


warnings.warn("the module mnistlab.preprocess is now mnistlab.preprocessing (mnistlab.preprocess is the function)",
              DeprecationWarning, stacklevel=2)
