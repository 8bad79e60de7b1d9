"""The tenants one deployment watches: the registry (``registry``, over
``{prefix}Tenants``), what it keeps of each (``models``), each tenant's own choices of
sources laid over the app settings (``choices``), and its routes (``routes``)."""
