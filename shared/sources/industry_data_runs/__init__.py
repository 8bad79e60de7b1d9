"""Industry Data runs (Graph beta), SDS's successor: the newest runs, kept whole, and the
statistics of a run that finished with errors or warnings (read once: a finished run does
not change)."""

from shared.sources.industry_data_runs.source import IndustryDataRuns

__all__ = ["IndustryDataRuns"]
