"""What the user decides about how rows are written: the write side's one settings object.

A dlt configuration spec, like the read side's ``read.settings.ReadSettings``: the write functions take
it as ``settings``, the command maps its flags onto it in one place (``commands.push``), and dlt can
resolve it from configuration (``dlt.config`` sections) like any other spec.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypedDict

from dlt.common.configuration import configspec
from dlt.common.configuration.specs import BaseConfiguration

from ..account_access import api_from_settings
from ..api_facts import CONSENT_VALUES
from ..errors import InputError
from ..http import CampaignMonitorAPI


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


class WriteOptions(TypedDict, total=False):
    """The keyword arguments ``upsert_subscribers`` and ``mirror_list`` share, declared once."""

    api_key: str | None  # default: the read side's [sources.campaign_monitor] settings
    base_url: str | None
    api: CampaignMonitorAPI | None  # a client already made: it wins over api_key and base_url
    settings: UpsertSettings | None  # how rows are written (the defaults change nothing not asked for)
    column_map: Mapping[str, str] | None  # input column → its name here ({"E-mail": "email_address"})
    rejects_path: str | None  # where every row not written goes, with its reason (CSV)
    checkpoint_path: str | None  # where finished writes are remembered until the run completes
    dry_run: bool  # work everything out, send nothing
    progress: Callable[[Any], None] | None  # handed the report so far after each import (and removal)


@dataclass(frozen=True)
class WriteCall:
    """One write's options, defaults filled in: a client, the settings, where its files go."""

    api: CampaignMonitorAPI
    settings: UpsertSettings
    column_map: Mapping[str, str] | None
    rejects_path: Path | None
    checkpoint_path: Path | None
    dry_run: bool
    progress: Callable[[Any], None] | None

    @classmethod
    def of(cls, options: WriteOptions) -> WriteCall:
        """The options a caller gave; one this function does not take is refused, as Python would."""
        unknown = sorted(set(options) - set(WriteOptions.__annotations__))
        if unknown:
            raise TypeError(f"unexpected keyword argument {', '.join(map(repr, unknown))}")
        rejects, checkpoint = options.get("rejects_path"), options.get("checkpoint_path")
        return cls(
            api=options.get("api") or api_from_settings(options.get("api_key"), options.get("base_url")),
            settings=options.get("settings") or UpsertSettings(),
            column_map=options.get("column_map"),
            rejects_path=Path(rejects) if rejects else None,
            checkpoint_path=Path(checkpoint) if checkpoint else None,
            dry_run=bool(options.get("dry_run", False)),
            progress=options.get("progress"),
        )
