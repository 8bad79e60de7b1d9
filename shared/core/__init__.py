"""The core: the vocabulary every other part of the app shares (health, changes, time,
domain errors, API values, the webhook URL guard). It imports nothing else of the project,
so anything may import it.
"""
