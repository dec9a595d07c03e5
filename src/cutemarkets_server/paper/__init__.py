"""Paper trading: one SQLite ledger behind a small desk service; the REST routes, the WebSocket order updates
and the fill engine (driven by the market clock's quotes) are faces over it."""

from __future__ import annotations

from ..runtime import Runtime
from ..services.container import Services
from ..store.paper import PaperLedger
from .engine import FillEngine
from .market import PaperMarket
from .service import PaperDesk

LEDGER_FILE = "paper.sqlite"


def open_desk(runtime: Runtime, services: Services) -> tuple[PaperDesk, FillEngine]:
    ledger = PaperLedger(runtime.settings.layout.root / LEDGER_FILE)
    desk = PaperDesk(ledger, PaperMarket(services, runtime.calendar), runtime.calendar, runtime.clock)
    return desk, FillEngine(desk)
