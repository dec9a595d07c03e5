"""The DuckDB engine that queries the Parquet lake: one in-process database, one cursor per thread."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pyarrow as pa

from .errors import DatasetUnavailable

T = TypeVar("T")
_FILE_FAULTS = (duckdb.IOException, duckdb.InvalidInputException)
_PARQUET_PATH = re.compile(r"""(/[^'"\n]*?\.parquet)""")


class DuckEngine:
    def __init__(self, threads: int = 2, memory_limit: str | None = None) -> None:
        config = {"threads": str(threads)}
        if memory_limit:
            config["memory_limit"] = memory_limit
        self._root = duckdb.connect(":memory:", config=config)
        self._root.execute("SET parquet_metadata_cache = true")
        self._root.execute("SET enable_object_cache = true")
        self._local = threading.local()
        self._lock = threading.Lock()
        self.recorder: list[tuple[str, list[Any]]] | None = None  # benchmarks record the queries a request runs

    def cursor(self) -> duckdb.DuckDBPyConnection:
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            with self._lock:
                cur = self._root.cursor()
            self._local.cursor = cur
        return cur

    def arrow(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        if self.recorder is not None:
            self.recorder.append((sql, list(params)))
        return _guarded(sql, lambda: self.cursor().sql(sql, params=list(params) or None).to_arrow_table())

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return _guarded(sql, lambda: self.cursor().execute(sql, list(params)).fetchall())

    def one(self, sql: str, params: Sequence[Any] = ()) -> tuple[Any, ...] | None:
        rows = _guarded(sql, lambda: self.cursor().execute(sql, list(params)).fetchall())
        return rows[0] if rows else None

    def ping(self) -> None:
        """A trivial query: the engine answers."""
        self.one("SELECT 1")

    def close(self) -> None:
        self._root.close()


def _guarded(sql: str, query: Callable[[], T]) -> T:
    """Run a query; a missing or corrupt lake file becomes :class:`DatasetUnavailable` for its dataset."""
    try:
        return query()
    except duckdb.Error as exc:
        if not isinstance(exc, _FILE_FAULTS) and type(exc) is not duckdb.Error:
            raise  # binder, parser, conversion …: not a file fault
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        named = _PARQUET_PATH.search(first_line)
        # Corrupt pages can fail without naming the file: blame the dataset the query reads.
        paths = [named.group(1)] if named else _PARQUET_PATH.findall(sql)
        if not paths:
            raise
        path = Path(paths[0])
        # Lake files live at {lake}/{dataset}/{YYYY-MM-DD}/{name}.parquet.
        raise DatasetUnavailable(path.parent.parent.name, str(path) if named else None, first_line) from exc


def file_list(files: Sequence[str]) -> str:
    """A SQL list literal of file paths for ``read_parquet`` (paths come from the manifest, never users)."""
    return "[" + ", ".join("'" + f.replace("'", "''") + "'" for f in files) + "]"
