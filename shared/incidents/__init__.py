"""Incidents: one per problem, reviewed after each poll, acknowledged and resolved through
the API (``core.incidents`` holds the models and the decision)."""
