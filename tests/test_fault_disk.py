"""A full disk during ingest fails cleanly — a clear message, nothing partial visible — and the same command
completes once there is space. The data directory sits on a small tmpfs mounted for the test."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from cutemarkets_server.ingest.export import FlatExportOptions, export_flatfiles
from cutemarkets_server.store.ingest_state import IngestState
from ingestkit import cli, lake, manifest


@pytest.fixture(scope="module")
def flat_dir(market_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("disk-files")
    export_flatfiles(market_dir, out, options=FlatExportOptions(gzip_level=1))
    return out


@pytest.fixture()
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MB tmpfs (the import needs about 25 MB)."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount_point)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def command(flat_dir: Path, data_dir: Path) -> list[str]:
    return ["ingest", "flatfiles", str(flat_dir), "--data-dir", str(data_dir), "--no-progress"]


def assert_nothing_partial(data_dir: Path) -> None:
    """Every partition the manifest shows is complete; no temporary or work file is left behind."""
    snap = lake(data_dir).snapshot()
    for parts in snap.by_dataset.values():
        for part in parts.values():
            for f in part.files:
                assert pq.read_table(f).num_rows == part.rows
    assert not list(data_dir.rglob(".tmp-*")) and not (data_dir / "ingest-work").exists()
    for quarantined in (data_dir / "quarantine").rglob("*.parquet"):
        pq.read_table(quarantined)
    # Files recorded as done have all their days in the manifest.
    for record in IngestState(data_dir / "lake" / "ingest.sqlite").files():
        for day in record.days:
            assert any(day in {d.isoformat() for d in parts} for parts in snap.by_dataset.values())


def test_a_full_disk_fails_cleanly_and_the_next_run_completes(flat_dir: Path, small_disk: Path, tmp_path: Path) -> None:
    reference = tmp_path / "reference"
    assert cli(*command(flat_dir, reference)).returncode == 0
    data_dir = small_disk / "data"

    failed = cli(*command(flat_dir, data_dir))
    text = " ".join((failed.stdout + failed.stderr).split())
    assert failed.returncode == 1, text
    assert "is full" in text and "run the same command again" in text and "Traceback" not in text
    partial = manifest(data_dir)
    assert 0 < len(partial) < len(manifest(reference))
    assert_nothing_partial(data_dir)

    subprocess.run(["mount", "-o", "remount,size=256m", str(small_disk)], check=True)
    again = cli(*command(flat_dir, data_dir))
    assert again.returncode == 0, again.stdout + again.stderr
    assert manifest(data_dir) == manifest(reference)
    assert_nothing_partial(data_dir)
