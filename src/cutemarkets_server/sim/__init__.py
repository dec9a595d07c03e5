"""The built-in market: a deterministic, realistic U.S. stock and options market written into the lake.

Entry point: :func:`cutemarkets_server.sim.build.build_market` (profiles in :mod:`.profiles`). The
generator's own truth - the implied-volatility surface every option quote was priced from - is exposed
by :mod:`.surface` so that tests and demos can check the data against it.

Layout: :mod:`.universe` (tickers and their parameters), :mod:`.skeleton` (daily price anchors with
stochastic variance and jumps), :mod:`.intraday` (one-second bridges between the anchors),
:mod:`.stocks` and :mod:`.options` (one day of quotes and trades), :mod:`.chain` (expirations, strikes,
listings, split adjustment), :mod:`.openinterest`, :mod:`.rates`, :mod:`.daybars`, :mod:`.reference`,
:mod:`.plan` (everything sequential in time), :mod:`.day` (one tick session end to end), :mod:`.writers`
(the non-tick datasets), :mod:`.report` and :mod:`.build` (the entry point and the worker pool).
"""
