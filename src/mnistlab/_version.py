"""The version of mnistlab, in one place (lower modules import it from here, not from the package)."""

__version__ = "0.4.0"
