"""What a build wrote: partitions, rows and bytes per dataset, printable as a table."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.table import Table


@dataclass
class DatasetStats:
    partitions: int = 0
    rows: int = 0
    bytes: int = 0


@dataclass
class BuildReport:
    data_dir: Path
    profile: str
    seed: int
    end: dt.date
    seconds: float
    tick_days: list[dt.date]
    daily_days: int
    contracts: int
    quarantined: int
    datasets: dict[str, DatasetStats] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(s.rows for s in self.datasets.values())

    @property
    def total_bytes(self) -> int:
        return sum(s.bytes for s in self.datasets.values())

    def table_rows(self) -> list[tuple[str, int, int, int]]:
        """(dataset, partitions, rows, bytes) per dataset, sorted by name."""
        return [(n, s.partitions, s.rows, s.bytes) for n, s in sorted(self.datasets.items())]

    def summary(self) -> str:
        first, last = self.tick_days[0], self.tick_days[-1]
        return (
            f"profile {self.profile}, seed {self.seed}: ticks {first}..{last} ({len(self.tick_days)} sessions), "
            f"{self.daily_days} daily sessions before, {self.contracts} contracts, built in {self.seconds:.1f} s"
        )

    def __str__(self) -> str:
        lines = [self.summary(), f"{'dataset':<22}{'partitions':>11}{'rows':>14}{'bytes':>15}"]
        for name, parts, rows, size in self.table_rows():
            lines.append(f"{name:<22}{parts:>11,}{rows:>14,}{size:>15,}")
        lines.append(f"{'total':<22}{'':>11}{self.total_rows:>14,}{self.total_bytes:>15,}")
        return "\n".join(lines)

    def __rich__(self) -> Table:
        from rich.table import Table

        table = Table(title=self.summary())
        table.add_column("dataset")
        for col in ("partitions", "rows", "bytes"):
            table.add_column(col, justify="right")
        for name, parts, rows, size in self.table_rows():
            table.add_row(name, f"{parts:,}", f"{rows:,}", f"{size:,}")
        table.add_row("total", "", f"{self.total_rows:,}", f"{self.total_bytes:,}", style="bold")
        return table
