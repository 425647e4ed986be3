"""The pytest plugin: hooks, options and fixtures (:mod:`.hooks`), items, the ``prompt`` session, scheduling."""
