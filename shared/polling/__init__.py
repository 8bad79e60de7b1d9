"""The poll: read every enabled source from Graph and bring the cache up to date, losing
nothing (``engine``), deciding what to write from what was read without any I/O (``diff``),
keeping the history within its retention (``pruning``), and the health verdict /api/health
gives of the polls (``report``)."""
