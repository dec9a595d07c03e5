"""``report.html``: one self-contained page (works offline) with plotly's bundled script inlined.

Equity and drawdown charts, the trades and fills with their ET and UTC times and session labels,
rejects by reason, the summary and the manifest. The charts are written by ``charts.py`` (the page
plotly.io would write, without loading plotly's Python figure classes).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from ...market.timestamps import ET, datetime_from_ns
from ..engine import RunResult
from ..metrics import drawdown_series
from ..records import rfc3339
from .charts import bar, chart, plotly_js, scatter

TEMPLATE = Path(__file__).with_name("template.html")


def _table(headers: list[str], rows: list[list[Any]], empty: str) -> str:
    if not rows:
        return f"<p class='empty'>{html.escape(empty)}</p>"
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)


def render_report(manifest: dict[str, Any], summary: dict[str, Any], result: RunResult) -> str:
    days = [e.session for e in result.equity]
    equity_traces = [
        scatter(days, [e.equity for e in result.equity], "equity (mid)", mode="lines+markers"),
        scatter(days, [e.equity_bid_ask for e in result.equity], "equity (bid/ask)", mode="lines"),
        scatter(days, [e.cash for e in result.equity], "cash", mode="lines"),
    ]
    drawdown = [100 * d for d in drawdown_series(result.equity, result.initial_cash)]
    dd_traces = [scatter(days, drawdown, "drawdown %", fill="tozeroy")]
    rejects = Counter(d.reject_reason for d in result.decisions if d.reject_reason)
    reasons = sorted(rejects)
    rej_traces = [bar(reasons, [rejects[r] for r in reasons], "rejects")]

    labels = {f.fill_timestamp: f.session_label for f in result.fills if f.fill_timestamp is not None}
    trades_rows = [
        [
            t.position_id,
            t.action,
            t.contracts,
            _et(t.opened_timestamp),
            rfc3339(t.opened_timestamp),
            labels.get(t.opened_timestamp, ""),
            _et(t.closed_timestamp) if t.closed_timestamp else "open",
            t.exit_reason,
            _fmt(t.entry_value),
            _fmt(t.exit_value),
            _fmt(t.commissions),
            _fmt(t.pnl),
        ]
        for t in result.trades
    ]
    fill_rows = [
        [
            f.order_id,
            f.decision_id,
            f.contract,
            f.side,
            f.quantity,
            f.event_timestamp_et,
            f.event_timestamp_utc,
            f.session_label,
            _fmt(f.bid),
            _fmt(f.ask),
            _fmt(f.fill_price),
            _fmt(f.quote_age_ms),
            f.reject_reason or "",
        ]
        for f in result.fills
    ]
    summary_rows = [[k, _fmt(v) if not isinstance(v, dict) else json.dumps(v)] for k, v in summary.items()]
    parts = {
        "title": html.escape(
            f"{manifest['strategy']['name']} on {manifest['underlying']} {manifest['from']} → {manifest['to']}"
        ),
        "plotly": plotly_js(),
        "equity_chart": chart(
            "equity-chart", equity_traces, "Equity per session (marked at the close)", category_x=True
        ),
        "drawdown_chart": chart("drawdown-chart", dd_traces, "Drawdown (%)", category_x=True),
        "rejects_chart": (
            chart("rejects-chart", rej_traces, "Rejected decisions by reason")
            if reasons
            else "<p class='empty'>No rejected decisions.</p>"
        ),
        "summary": _table(["metric", "value"], summary_rows, "No summary."),
        "rejects": _table(["reason", "count"], [[r, rejects[r]] for r in reasons], "No rejected decisions."),
        "trades": _table(
            [
                "id",
                "action",
                "contracts",
                "opened (ET)",
                "opened (UTC)",
                "session",
                "closed (ET)",
                "exit",
                "entry $",
                "exit $",
                "fees $",
                "P&L $",
            ],
            trades_rows,
            "No trades.",
        ),
        "fills": _table(
            [
                "order",
                "decision",
                "contract",
                "side",
                "qty",
                "time (ET)",
                "time (UTC)",
                "session",
                "bid",
                "ask",
                "price",
                "quote age ms",
                "reject",
            ],
            fill_rows,
            "No orders.",
        ),
        "manifest": html.escape(json.dumps(manifest, indent=2, sort_keys=True)),
    }
    return re.sub(r"\{\{(\w+)\}\}", lambda m: parts[m.group(1)], TEMPLATE.read_text("utf-8"))


def _et(ns: int | None) -> str:
    if ns is None:
        return ""
    moment: dt.datetime = datetime_from_ns(ns, ET)
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z")
