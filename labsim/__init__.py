"""labsim: a networking class's mail lab as containers."""

__version__ = "0.1.0"
