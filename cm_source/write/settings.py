"""What the user decides about how rows are written: the write side's one settings object.

A dlt configuration spec, like the read side's ``read.settings.ReadSettings``: the write functions take
it as ``settings``, the command maps its flags onto it in one place (``commands.push``), and dlt can
resolve it from configuration (``dlt.config`` sections) like any other spec.
"""

from __future__ import annotations

from dlt.common.configuration import configspec
from dlt.common.configuration.specs import BaseConfiguration

from ..api_facts import CONSENT_VALUES
from ..errors import InputError


@configspec
class UpsertSettings(BaseConfiguration):
    """What the user decides about how rows are written; the defaults change nothing they did not ask for."""

    resubscribe: bool = False  # re-add people who unsubscribed, bounced or were deleted
    consent_to_track_default: str = "Unchanged"  # where the row has no consent_to_track column
    default_region: str | None = None  # ISO country for national mobile numbers, e.g. "GB"
    queue_autoresponders: bool = False
    restart_autoresponders: bool = False

    def __post_init__(self) -> None:
        self.check()

    def on_resolved(self) -> None:
        self.check()

    def check(self) -> None:
        """A consent default Campaign Monitor does not take stops the run before anything is read."""
        if self.consent_to_track_default not in CONSENT_VALUES:
            raise InputError(
                f"consent_to_track_default must be one of {', '.join(CONSENT_VALUES)},"
                f" not {self.consent_to_track_default!r}"
            )
