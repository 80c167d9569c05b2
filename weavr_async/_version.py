"""The SDK's version, read from the installed distribution: pyproject.toml is the one place it
is written, and `__version__`, the CLI's `--version` and the user agent all come from here."""

from importlib.metadata import PackageNotFoundError, version

__all__ = ["USER_AGENT", "__version__"]

try:
    __version__ = version("weavr-async")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "0+unknown"

USER_AGENT = f"weavr-async/{__version__}"
"""Sent with every request, so the API's logs tell which release called."""
