"""The kill test: nothing lost, nothing twice, in order, even when the host is killed.

It runs Azurite, the simulated Graph tenant and the local Functions host as separate
processes, with a proxy in front of Azurite and one in front of the tenant, and a webhook
receiver. Round after round it changes every item in the tenant, starts a poll, and kills
the host with SIGKILL at a chosen moment (phases below; a proxy or the receiver holds the
request that marks the moment), restarts it and polls again. At the end it checks, against
what the tenant holds: every change is in the history exactly once and the history of each
item is a chain ending where the cache is; the subscriber got each change's event, one event
id per change, in the order of the history; and the cache equals Graph.

``python -m tools.kill_test --items 200 --kills 60`` (CI runs a small one through pytest).
"""
