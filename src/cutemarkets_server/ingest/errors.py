"""Exceptions importers raise while streaming rows into the pipeline.

A :class:`DayAbortError` raised inside a row stream aborts the partition being written (nothing
becomes visible) and reaches the importer unchanged, so it can report it or retry differently.
"""

from __future__ import annotations


class DayAbortError(Exception):
    """Raised by a row stream to abort the current day write."""


class SourceError(DayAbortError):
    """A source file cannot be imported as a whole: truncated, wrong dataset, missing columns, …"""


class StorageFullError(Exception):
    """The disk under the data directory filled up during an import; nothing of the file became visible."""
