"""Benchmarks for deskdrill: run ``python -m benchmarks`` (or ``make bench``).

Not part of the test suite. Three parts:

* ``create``: POST /api/v1/tickets over HTTP with wrk against ``deskdrill serve``, next to a
  bare FastAPI app that does one plain INSERT per request on the same stack (the ceiling).
* ``queues``: the queue queries (``deskdrill.tickets.queries.queue``) at the database layer
  with a million tickets loaded, on SQLite and PostgreSQL, with their query plans.
* ``engine``: the SLA engine step (``deskdrill.sla.catch_up`` / ``engine.step``) with
  10,000, 100,000 and 1,000,000 open tickets in a running drill, nothing due and 1,000 due.

Results are printed and written as JSON to ``benchmarks/results/`` (gitignored).
"""
