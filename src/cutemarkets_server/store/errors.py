"""Store failures that the API answers with a clear status instead of a 500."""

from __future__ import annotations

from pathlib import Path


class DatasetUnavailable(RuntimeError):  # noqa: N818 (the name the store interface documents)
    """A dataset's Parquet file is missing or unreadable; the rest of the lake keeps serving.

    ``path`` is the failing file (for logs and health probes only, never for clients).
    """

    def __init__(self, dataset: str, path: str | None = None, detail: str = "") -> None:
        super().__init__(f"dataset {dataset} is unavailable" + (f": {detail}" if detail else ""))
        self.dataset = dataset
        self.path = path
        self.detail = detail


def dataset_of(path: str) -> str:
    """The dataset a lake file belongs to: ``{dataset}/{day}/{file}`` or ``{dataset}/_packs/{period}/{file}``."""
    parent = Path(path).parent.parent
    return parent.parent.name if parent.name == "_packs" else parent.name
