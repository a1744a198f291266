"""Exceptions that carry erm's documented exit codes (ARCHITECTURE.md §3.4).

0 done; 1 judged below ``--fail-under``; 2 usage or input error; 3 render failure;
4 model or backend failure. The CLI prints ``str(error)`` as one line on stderr.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_BELOW_THRESHOLD = 1
EXIT_USAGE = 2
EXIT_RENDER = 3
EXIT_MODEL = 4


class ErmError(Exception):
    """Base class: an expected failure with a one-line message and an exit code."""

    exit_code: int = EXIT_USAGE


class InputError(ErmError):
    """Bad user input: a missing or unreadable file, a corrupt image, a malformed record."""

    exit_code = EXIT_USAGE


class RenderFailure(ErmError):
    """Code that could not be rendered (raised only where one render is the whole job)."""

    exit_code = EXIT_RENDER


class ModelError(ErmError):
    """A model backend could not be loaded or did not answer."""

    exit_code = EXIT_MODEL


class BelowThreshold(ErmError):
    """The judged reward is below ``--fail-under``."""

    exit_code = EXIT_BELOW_THRESHOLD


class NotYetAvailable(ErmError):
    """A verb whose implementation has not landed."""

    exit_code = EXIT_USAGE
