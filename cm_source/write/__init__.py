"""The write side: rows into a Campaign Monitor list.

``upsert`` runs an upsert's stages in one direction: an input row becomes the API's subscriber
(``rows``, with the list's ``custom_fields``), rows go out in bulk imports (``imports``, resumable
through ``checkpoint``), every row is accounted for (``accounting``), and every row not written is kept
with its reason (``rejects``). ``list_destination`` offers the same as a dlt destination. ``mirror``
makes a list's members be the input's people (``members`` reads who is on it now), removing the others
one request each (``actions``, which also unsubscribes, deletes, suppresses and unsuppresses on request).
"""

from .accounting import UpsertReport
from .actions import ActionReport, delete_subscribers, suppress, unsubscribe_subscribers, unsuppress
from .list_destination import campaign_monitor_subscribers
from .mirror import MirrorPlan, MirrorReport, mirror_list
from .rejects import Rejection
from .settings import UpsertSettings
from .upsert import upsert_subscribers

__all__ = [
    "ActionReport",
    "MirrorPlan",
    "MirrorReport",
    "Rejection",
    "UpsertReport",
    "UpsertSettings",
    "campaign_monitor_subscribers",
    "delete_subscribers",
    "mirror_list",
    "suppress",
    "unsubscribe_subscribers",
    "unsuppress",
    "upsert_subscribers",
]
