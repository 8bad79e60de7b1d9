"""What a round over many tenants costs fanned out on the poll queue, with 1, 2 and 4 worker
processes consuming it, beside the single-invocation baseline (``poll_every_tenant`` in one
process, as the timer ran it before the fan-out), in one run.

``python -m tools.bench_tenants [--tenants 1000] [--items 200] [--latency-ms 40]
[--workers 1,2,4] [--log-share 0.5] [--skip-baseline]``

One Azurite (in memory, Table and Queue services) and one simulated Graph process
(``tools.bench_tenants.graph``: every Graph HTTP answer after ``--latency-ms``, a ``$batch``
once) serve the whole run: every configuration polls the very same tenants, over real HTTP.
Each tenant has ``--items`` School Data Sync profiles (seeded by its index); the share
``--log-share`` of them also has a provisioning job with failures in its provisioning logs,
polled with PROVISIONING_LOGS_ENABLED for that tenant, so every poll of it makes one report
request (Graph's identity reports: 5 per 10 s per tenant, 122 per 10 s per app, paced by
the app's Table-backed budget across instances).

Each configuration has its own table prefix, so its own tables and queues; its tenants are
registered (the home tenant off) and it runs two rounds: the first with an empty cache
(everything new), the second with Graph sending the same.

* baseline: a worker process running ``poll_every_tenant`` on a signal
  (``tools.bench_tenants.worker baseline``);
* fan-out with N workers: N real local Functions hosts (``python -m tools.local_host``, run by
  ``tools.bench_tenants.worker host``; their timer a year away), competing for the poll
  queue as N instances would. The driver plans each round itself (``plan_round``, with
  POLL_SPREAD_SECONDS=0: every message visible at once) and reads
  ``store.rounds.summary(round_id)`` until every planned tenant is done.

Measured: Graph requests per tenant and the report requests' times at the simulated Graph;
Table calls at each worker's TableServiceClient transport; CPU time and peak RSS (VmHWM,
reset before each round) by each worker itself, read at marks (``marks``: SIGUSR1).
"""
