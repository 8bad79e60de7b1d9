"""Microsoft Graph transport: the one client factory (``client.GraphClient.from_settings``),
raw JSON requests through msgraph-sdk's request adapter and middleware, paging, JSON
batching and throttling. What is read from Graph, and why, lives with each source
(``shared/sources/<name>/graph.py``).

``errors`` is light to import; ``client`` brings in the Graph SDK, which only the poll needs.
"""
