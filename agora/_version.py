"""The version of agora (one place; the package, the command line and the report read it here)."""

__version__ = "0.1.0"
