"""The former name of :mod:`mnistlab.preprocessing`, kept so that ``from mnistlab.preprocess import
recipe_for`` (mnistlab 0.x's spelling) goes on working, with a DeprecationWarning; ``mnistlab.preprocess``
itself is the function :func:`mnistlab.preprocessing.preprocess` (``import mnistlab.preprocess as m``
gives that function: import ``mnistlab.preprocessing``)."""

import warnings

from mnistlab.preprocessing import *  # noqa: F403
from mnistlab.preprocessing import __all__  # noqa: F401

warnings.warn("the module mnistlab.preprocess is now mnistlab.preprocessing (mnistlab.preprocess is the function)",
              DeprecationWarning, stacklevel=2)
