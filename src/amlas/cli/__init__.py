"""The ``amlas`` command line: thin wrappers that parse, call the library and print."""

from amlas.cli._main import cli, main

__all__ = ["cli", "main"]
