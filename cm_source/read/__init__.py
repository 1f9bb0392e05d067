"""The read side: an account's tables into any dlt destination.

A request (``cm_source.http``) answers a page; ``rows`` shapes the page by its table's catalogue
row (``catalogue``): IDs stamped, times in UTC (``time_zones``), large tables as Arrow
(``columnar``); ``account_reader`` reads each table under every row of its parent, several at once
(``fan_out``); ``source`` hands the pages to dlt with the table hints; ``destinations`` says what
each destination gets.

Where we leave dlt, and why (the figures are in benchmarks/README.md):

- ``rest_api_resources``: its paginators trust every page as it comes; Campaign Monitor pages by
  offset over live data, so a read must check the totals between pages, re-read what moved and end
  with a catch-up request (``http.paging``), and the large tables must reach dlt as Arrow tables.
- ``RESTClient.paginate``: it decodes each page twice (once for the rows, once for the paginator)
  and gives no hook between pages to see ``TotalNumberOfRecords``; ``RESTClient.request`` is kept.
- The retrying session: it honours only ``Retry-After``, which Campaign Monitor never sends (it sends
  ``X-RateLimit-Reset``), and retries each thread on its own, so parallel readers wake together and
  trip the limit again; one retry loop and one shared rate gate replace it (``http.client``).
- ``parallelized=True``: it runs a transformer's calls side by side but bounds neither the requests
  in flight across tables nor what waits in memory, and hands every page to dlt as its own item;
  ``fan_out`` bounds both, and pages that arrive together reach dlt as one Arrow table (dlt works
  out an Arrow item's schema again for every item).
"""

from .catalogue import TABLES
from .source import campaign_monitor_source

__all__ = ["TABLES", "campaign_monitor_source"]
