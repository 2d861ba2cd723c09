"""The former name of :mod:`mnistlab.preprocessing`, kept so that ``from mnistlab.preprocess import
recipe_for`` (mnistlab 0.x's spelling) goes on working; ``mnistlab.preprocess`` itself is the
function :func:`mnistlab.preprocessing.preprocess`."""

from mnistlab.preprocessing import *  # noqa: F403
from mnistlab.preprocessing import __all__  # noqa: F401
