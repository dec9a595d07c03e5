"""Second (``A``) and minute (``AM``) aggregates of a market's trade stream.

Trades are added in time order as they are released; :meth:`StreamBars.flush` turns every window that has
ended by an instant into bars with the same condition rules as the lake's stored bars, plus the day figures
the wire carries (accumulated volume, day VWAP, official open). The producer releases ticks in batches that
never straddle a second boundary, so the day figures of a bar are exactly those at the bar's end.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..market import conditions
from ..market.bars import trades_to_bars
from ..market.timestamps import NS_PER_MIN, NS_PER_S
from .protocol import Event, aggregate_event

WINDOWS: tuple[tuple[str, int], ...] = (("A", NS_PER_S), ("AM", NS_PER_MIN))


class _Pending:
    """Trades of windows not yet flushed, as column chunks."""

    def __init__(self) -> None:
        self.chunks: list[tuple[np.ndarray, ...]] = []

    def add(self, cols: tuple[np.ndarray, ...]) -> None:
        if len(cols[0]):
            self.chunks.append(cols)

    def take_before(self, cutoff: int) -> tuple[np.ndarray, ...] | None:
        """Remove and return the trades with ``ts < cutoff`` (ts is column 1)."""
        if not self.chunks:
            return None
        cols = tuple(np.concatenate(parts) for parts in zip(*self.chunks, strict=True))
        before = cols[1] < cutoff
        if before.all():
            self.chunks = []
            return cols
        rest = tuple(c[~before] for c in cols)
        self.chunks = [rest] if len(rest[0]) else []
        if not before.any():
            return None
        return tuple(c[before] for c in cols)


class StreamBars:
    """The aggregates of one market (``stocks`` or ``options``)."""

    def __init__(self, asset: str) -> None:
        self.asset = asset
        self.day: dt.date | None = None
        self._pending = {channel: _Pending() for channel, _ in WINDOWS}
        self._day_volume: dict[str, float] = {}
        self._day_value: dict[str, float] = {}
        self._day_open: dict[str, float] = {}

    def start_day(self, day: dt.date) -> None:
        if day != self.day:
            self.day = day
            self._pending = {channel: _Pending() for channel, _ in WINDOWS}
            self._day_volume.clear()
            self._day_value.clear()
            self._day_open.clear()

    def add(self, trades: pa.Table) -> None:
        """Trades released in time order (columns ticker, sip_timestamp, price, size, conditions)."""
        n = trades.num_rows
        if n == 0:
            return
        tickers = np.asarray(trades["ticker"].to_pylist(), dtype=object)
        ts = trades["sip_timestamp"].to_numpy()
        price = trades["price"].to_numpy().astype(np.float64)
        size = trades["size"].to_numpy().astype(np.float64)
        conds = trades["conditions"].combine_chunks()
        if conds.null_count:
            conds = pc.fill_null(conds, pa.scalar([], conds.type))
        codes = conds.flatten().to_numpy(zero_copy_only=False)
        offsets = conds.offsets.to_numpy()
        offsets = offsets - offsets[0]
        hl, oc, vol = conditions.update_masks(self.asset, codes, offsets, intraday=True)
        cols = (tickers, ts, price, size, hl, oc, vol)
        for pending in self._pending.values():
            pending.add(cols)
        _, day_oc, day_vol = conditions.update_masks(self.asset, codes, offsets, intraday=False)
        volume, value, opened = self._day_volume, self._day_value, self._day_open
        for sym, p, s, o, v in zip(
            tickers.tolist(), price.tolist(), size.tolist(), day_oc.tolist(), day_vol.tolist(), strict=True
        ):
            if v:
                volume[sym] = volume.get(sym, 0.0) + s
                value[sym] = value.get(sym, 0.0) + p * s
            if o and sym not in opened:
                opened[sym] = p

    def flush(self, until_ns: int, *, emit: bool = True) -> list[Event]:
        """Bars of every window that ended at or before ``until_ns``, seconds before minutes, each sorted by
        (window start, ticker); ``emit=False`` drops them (a silent catch-up)."""
        out: list[Event] = []
        for channel, span in WINDOWS:
            cutoff = until_ns - until_ns % span
            cols = self._pending[channel].take_before(cutoff)
            if cols is None or not emit:
                continue
            out.extend(self._bars(channel, span, cols))
        return out

    def _bars(self, channel: str, span: int, cols: tuple[np.ndarray, ...]) -> list[Event]:
        tickers, ts, price, size, hl, oc, vol = cols
        names, key = np.unique(tickers, return_inverse=True)
        order = np.lexsort((ts, key))
        ts_o = ts[order]
        bars = trades_to_bars(
            key[order], ts_o, price[order], size[order], hl[order], oc[order], vol[order], ts_o - ts_o % span
        )
        if len(bars) == 0:
            return []
        emit_order = np.lexsort((bars.key, bars.window_start))
        out: list[Event] = []
        for i in emit_order.tolist():
            sym = str(names[bars.key[i]])
            start = int(bars.window_start[i])
            day_volume = self._day_volume.get(sym, 0.0)
            day_value = self._day_value.get(sym)
            payload = aggregate_event(
                channel,
                sym,
                start_ns=start,
                end_ns=start + span,
                open_=float(bars.open[i]),
                high=float(bars.high[i]),
                low=float(bars.low[i]),
                close=float(bars.close[i]),
                volume=float(bars.volume[i]),
                vwap=float(bars.vwap[i]),
                transactions=int(bars.transactions[i]),
                day_volume=day_volume,
                day_vwap=day_value / day_volume if day_value is not None and day_volume > 0 else None,
                day_open=self._day_open.get(sym),
            )
            out.append((channel, sym, payload))
        return out
