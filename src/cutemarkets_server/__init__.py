"""cutemarkets-server: a self-hosted CuteMarkets v1 market-data API for U.S. options and stocks."""

__version__ = "0.1.0"
