"""The backtesting engine: a causal, quote-aware options backtester that is a client of the market data.

``run_backtest`` runs one strategy over a date range against a ``DataSource`` (the local lake in process,
or any CuteMarkets v1 server over HTTP) and returns the records that ``artifacts`` writes out.
"""

ENGINE_VERSION = "1.0.0"
