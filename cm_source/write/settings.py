"""What the user decides about how rows are written."""

from __future__ import annotations

from dataclasses import dataclass

from ..api_facts import CONSENT_VALUES
from ..errors import InputError


@dataclass(frozen=True)
class UpsertSettings:
    """What the user decides about how rows are written; the defaults change nothing they did not ask for."""

    resubscribe: bool = False  # re-add people who unsubscribed, bounced or were deleted
    consent_to_track_default: str = "Unchanged"  # where the row has no consent_to_track column
    default_region: str | None = None  # ISO country for national mobile numbers, e.g. "GB"
    queue_autoresponders: bool = False
    restart_autoresponders: bool = False

    def __post_init__(self) -> None:
        if self.consent_to_track_default not in CONSENT_VALUES:
            raise InputError(
                f"consent_to_track_default must be one of {', '.join(CONSENT_VALUES)},"
                f" not {self.consent_to_track_default!r}"
            )
