"""What Campaign Monitor's API is, in one place: the facts the reader, the writer, the sandbox and the
benchmarks share, so that none of them keeps a copy of its own (see ../shared/api/createsend-v3.3.md)."""

from __future__ import annotations

from collections.abc import Mapping

BASE_URL = "https://api.createsend.com/api/v3.3"
MAX_PAGE_SIZE = 1000  # the largest page a paged read may ask for; fewer pages, fewer requests
IMPORT_LIMIT = 1000  # subscribers in one bulk import; more is refused (Code 209)
# A list's subscribers, one endpoint per state (lists/{id}/active.json, …), in the API's spelling.
SUBSCRIBER_STATES = ("Active", "Unconfirmed", "Unsubscribed", "Bounced", "Deleted")
CONSENT_VALUES = ("Yes", "No", "Unchanged")  # ConsentToTrack / ConsentToSendSms on a write
# Subscriber reads ask for every optional column the API can add, so nothing a row holds is lost.
SUBSCRIBER_PARAMS: Mapping[str, str] = {
    "includetrackingpreference": "true",
    "includesmspreference": "true",
    "orderfield": "email",
    "orderdirection": "asc",
}

# Where a user sets what the connector needs (dlt's environment names for [sources.campaign_monitor]).
API_KEY_SETTING = "SOURCES__CAMPAIGN_MONITOR__API_KEY"
CLIENT_ID_SETTING = "SOURCES__CAMPAIGN_MONITOR__CLIENT_ID"
BASE_URL_SETTING = "SOURCES__CAMPAIGN_MONITOR__BASE_URL"
ACCESS_TOKEN_SETTING = "SOURCES__CAMPAIGN_MONITOR__ACCESS_TOKEN"
REFRESH_TOKEN_SETTING = "SOURCES__CAMPAIGN_MONITOR__REFRESH_TOKEN"
# 401 codes: an OAuth access token that expired (refresh it), is not one, or was revoked.
EXPIRED_TOKEN, INVALID_TOKEN, REVOKED_TOKEN = 121, 120, 122

# Transactional email: the message timeline answers at most this many messages a call, newest first.
TIMELINE_COUNT = 200
STATISTICS_DAYS = 30  # transactional statistics cover the last 30 days (the API's own default window)
