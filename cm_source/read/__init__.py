"""The read side: an account's tables into any dlt destination.

A request (``cm_source.http``) answers a page; ``rows`` shapes the page by its table's catalogue
row (``catalogue``): IDs stamped, times in UTC (``time_zones``), large tables as Arrow
(``columnar``); ``account_reader`` reads each table under every row of its parent, several at once
(``concurrency.merged_streams``); ``source`` hands the pages to dlt with the table hints; ``destinations`` says what
each destination gets.

Where the read side leaves dlt's own building blocks, and why: docs/layout.md.
"""

from .catalogue import TABLES
from .source import campaign_monitor_source

__all__ = ["TABLES", "campaign_monitor_source"]
