"""Settings in one place: every value comes from a CLI flag or a ``CUTEMARKETS_*`` environment variable."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_DATA_DIR = Path("./data")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000


def parse_origins(text: str | None) -> tuple[str, ...]:
    """``"https://a.example, https://b.example"`` → a tuple; ``*`` allows any origin; empty allows none."""
    return tuple(o.strip().rstrip("/") for o in (text or "").split(",") if o.strip())


@dataclass(frozen=True)
class DataLayout:
    """Where everything lives under the data directory."""

    root: Path

    @property
    def lake(self) -> Path:
        return self.root / "lake"

    @property
    def quarantine(self) -> Path:
        return self.root / "quarantine"

    @property
    def keys_db(self) -> Path:
        return self.root / "keys.sqlite"

    @property
    def usage_db(self) -> Path:
        """Rate-limit usage, shared by every server process over this directory."""
        return self.root / "usage.sqlite"

    @property
    def secret_file(self) -> Path:
        return self.root / "secret.key"

    @property
    def demo_key_file(self) -> Path:
        return self.root / "demo-key.txt"

    @property
    def backtests(self) -> Path:
        return self.root / "backtests"


@dataclass(frozen=True)
class Settings:
    data_dir: Path = DEFAULT_DATA_DIR
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    public_url: str | None = None
    secret: str | None = None
    default_risk_free_rate: float = 0.04
    page_token_ttl_s: int = 24 * 3600
    read_cache_mb: int = field(default_factory=lambda: int(os.environ.get("CUTEMARKETS_READ_CACHE_MB", "256")))
    # gzip answers to clients on this host too (off: loopback answers are sent uncompressed)
    gzip_loopback: bool = field(default_factory=lambda: os.environ.get("CUTEMARKETS_GZIP_LOOPBACK", "") == "1")
    cors_origins: tuple[str, ...] = ()  # browser origins allowed cross-origin; "*" for any, empty for none
    max_url_bytes: int = 8 * 1024
    max_body_bytes: int = 1024 * 1024
    backtests_dir: Path | None = None  # backtest run directories (default DATA_DIR/backtests)
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def layout(self) -> DataLayout:
        return DataLayout(Path(self.data_dir))

    @property
    def backtests_root(self) -> Path:
        return Path(self.backtests_dir) if self.backtests_dir else self.layout.backtests

    def signing_secret(self) -> bytes:
        """The page-token signing secret: the configured one, or one kept in the data directory."""
        if self.secret:
            return self.secret.encode()
        path = self.layout.secret_file
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(secrets.token_hex(32))
            os.chmod(tmp, 0o600)
            tmp.replace(path)
        return path.read_text().strip().encode()
