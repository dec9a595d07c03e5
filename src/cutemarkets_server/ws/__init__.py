"""The WebSocket gateway: handshake auth, the single-connection lease, subscriptions and the fan-out.

:mod:`.protocol` (messages, topics, event shapes), :mod:`.bars` (second and minute aggregates of the
stream), :mod:`.fanout` (one producer, many bounded subscriber queues), :mod:`.leases` (one connection per
user), :mod:`.gateway` (the routes and one connection's life), :mod:`.service` (what the app starts and
stops), :mod:`.serving` (uvicorn with WebSocket keepalive and a clean shutdown), :mod:`.config`.
"""
