"""The web console at ``/console/``: pages that call the public API with the user's key, and offline API docs."""
