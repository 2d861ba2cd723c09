"""The pieces behind :mod:`mnistlab.datasets`, one module per concept.

- :mod:`mnistlab.data.idx`: the IDX file format (every type code) and what a file is when it is not IDX;
- :mod:`mnistlab.data.registry`: what mnistlab knows about each dataset of the MNIST family;
- :mod:`mnistlab.data.userdata`: the user's own data (CSV, a folder per class, NumPy arrays).

:mod:`mnistlab.datasets` finds, downloads, verifies and loads them; import from there.
"""
