"""The read side's settings: one dlt configuration spec, as ``[sources.campaign_monitor]`` holds them.

``campaign_monitor_source`` is declared with this spec, so dlt resolves every setting the usual way (an
argument, then the environment, ``.dlt/config.toml`` and ``.dlt/secrets.toml``) and hands the source one
checked ``ReadSettings``. The command maps its flags onto these names (``commands.load.source_arguments``)
and Dagster passes them through, so a setting is declared, defaulted and checked here only.
"""

from __future__ import annotations

from typing import Any

from dlt.common.configuration import configspec
from dlt.common.configuration.specs import BaseConfiguration
from dlt.common.typing import TSecretStrValue

from ..api_facts import BASE_URL
from ..errors import InputError
from ..http import DEFAULT_MAX_CONCURRENT_REQUESTS

SETTING_PREFIX = "SOURCES__CAMPAIGN_MONITOR__"
# An incremental run's piece: long enough that a warehouse's fixed cost per load is small beside it, short
# enough that a run cut off loses little (see read.pieces).
DEFAULT_CHECKPOINT_MINUTES = 30.0


@configspec
class ReadSettings(BaseConfiguration):
    """Every setting of a read. See ``campaign_monitor_source`` for what each does."""

    api_key: TSecretStrValue | None = None
    access_token: TSecretStrValue | None = None
    refresh_token: TSecretStrValue | None = None
    token_file: str | None = None
    base_url: str = BASE_URL
    client_id: str | None = None
    reports_sent_after: str | None = None
    convert_to_utc: bool = True
    max_concurrent_requests: int = DEFAULT_MAX_CONCURRENT_REQUESTS
    max_attempts: int = 5
    request_timeout: float = 60.0
    backoff_seconds: float = 1.0
    nested_as_text: bool | None = None
    incremental: bool = False
    report_refresh_days: int = 30
    reconcile_runs: int = 7
    checkpoint_minutes: float = DEFAULT_CHECKPOINT_MINUTES

    def on_resolved(self) -> None:
        """Counts of days and runs are whole numbers, 0 or more, and a piece's minutes a number, 0 or more:
        anything else is a setting to fix."""
        for name in ("report_refresh_days", "reconcile_runs"):
            whole_number(name, getattr(self, name))
        self.checkpoint_minutes = minutes("checkpoint_minutes", self.checkpoint_minutes)


def whole_number(setting: str, value: Any) -> int:
    """A setting that counts days or runs, as a whole number, 0 or more; anything else is a setting to fix."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        number = -1
    if number < 0:
        raise InputError(
            f"{setting} must be a whole number, 0 or more, not {value!r}: set {SETTING_PREFIX}{setting.upper()}"
        )
    return number


def minutes(setting: str, value: Any) -> float:
    """A setting in minutes, 0 or more (a fraction allowed); anything else is a setting to fix."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = -1.0
    if not number >= 0:  # also refuses NaN
        raise InputError(
            f"{setting} must be a number of minutes, 0 or more, not {value!r}: set {SETTING_PREFIX}{setting.upper()}"
        )
    return number
