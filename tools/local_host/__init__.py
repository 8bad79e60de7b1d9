"""A local Azure Functions host for Python v2-model apps, for machines without Core Tools.

Core Tools cannot be installed everywhere (its npm package downloads a binary), yet
``make run`` and the end-to-end tests need the app served as Azure would serve it. This
package imports ``function_app``, indexes its functions with ``app.get_functions()`` like
the Python worker, and then:

- serves HTTP triggers under host.json's route prefix with ASP.NET-style route templates
  (:mod:`.routes`), converting requests and responses as the host does (:mod:`.http`);
- enforces auth levels when ``FUNCTIONS_MASTER_KEY`` / ``FUNCTIONS_FUNCTION_KEY`` are set
  (:mod:`.keys`);
- runs timer triggers on their NCRONTAB schedules (:mod:`.timers`);
- runs queue triggers against Azurite or Storage, with host.json's ``extensions.queues``
  (:mod:`.queues`);
- offers the admin API used to start non-HTTP functions (:mod:`.server`).

Run it with ``python -m tools.local_host`` (see :mod:`.__main__`).
"""
