"""One narrow data interface for the engine, with two sources: the local lake and any v1 server over HTTP."""

from .base import Bar, ChainRow, DataSource, DataSourceError, Quote

__all__ = ["Bar", "ChainRow", "DataSource", "DataSourceError", "Quote"]
