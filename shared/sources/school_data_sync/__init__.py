"""School Data Sync (classic): education synchronization profiles and their
``profileStatus`` (Graph beta).

Microsoft stopped this API returning data at the end of 2024; the source stays for tenants
and caches that still hold it. It is the only source whose cache a caller may change
(``PATCH .../profileStatus``): the status is kept as typed columns so a poll can update the
listing's fields without touching a PATCHed status.
"""

from shared.sources.school_data_sync.source import SchoolDataSync

__all__ = ["SchoolDataSync"]
