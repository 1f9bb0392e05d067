"""A list's custom fields, matched to input columns the way a user would name them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

from dlt.common.normalizers.naming.snake_case import NamingConvention

from ..errors import InputError
from ..http import CampaignMonitorAPI

STANDARD_COLUMNS = ("email_address", "name", "mobile_number", "consent_to_track", "consent_to_send_sms")
# Columns of the read side's subscriber tables that the API sets itself: ignored, so that a table
# loaded by campaign_monitor_source can be pushed back as it is (_cm_left: an incremental load's removals).
READ_ONLY_COLUMNS = frozenset(
    {"list_id", "client_id", "date", "list_joined_date", "state", "reads_email_with", "_cm_left"}
)
# Headers other tools export the address under (Email, E-mail, Email Address, …), as dlt normalises them.
EMAIL_HEADERS = ("email_address", "email", "e_mail", "emailaddress", "e_mail_address", "email_addr")
# The read side keeps a subscriber's custom fields in one column of {key, value} entries.
CUSTOM_FIELDS_COLUMN = "custom_fields"
_naming = NamingConvention()
# Cached: every row of an import names the same few columns (a million rows, a dozen names).
column_name = lru_cache(maxsize=4096)(_naming.normalize_identifier)


class CustomFields:
    """The list's custom fields, matched to input columns the way a user would name them."""

    def __init__(self, list_id: str, definitions: Sequence[Mapping[str, Any]]) -> None:
        self.list_id = list_id
        self.definitions = list(definitions)
        self._by_name: dict[str, Mapping[str, Any]] = {}
        for definition in self.definitions:
            bare_key = str(definition["Key"]).strip("[]")
            for name in (definition["Key"], bare_key, definition.get("FieldName") or bare_key):
                self._by_name[column_name(str(name))] = definition

    @classmethod
    def fetch(cls, api: CampaignMonitorAPI, list_id: str) -> CustomFields:
        """One GET of ``customfields.json``; it also proves the list exists and the key may see it."""
        return cls(list_id, api.get_array(f"lists/{list_id}/customfields.json"))

    def check_columns(self, columns: Iterable[str]) -> None:
        """Refuse, before anything is sent, a column that is neither standard nor a field of the list."""
        unknown = [c for c in columns if custom_column(c) and column_name(c) not in self._by_name]
        if unknown:
            names = ", ".join(str(d.get("FieldName") or d["Key"]) for d in self.definitions) or "none"
            raise InputError(
                f"column {', '.join(repr(c) for c in unknown)} is not a custom field of list {self.list_id}"
                f" (its fields: {names}): rename or drop the column, or create the field in Campaign Monitor"
            )

    def key_for(self, column: str) -> str:
        """The field's Key as ``customfields.json`` gives it, brackets included (Code 253 without)."""
        return str(self._by_name[column_name(column)]["Key"])

    def data_type(self, column: str) -> str:
        return str(self._by_name[column_name(column)].get("DataType", "Text"))


def email_column(columns: tuple[str, ...]) -> str | None:
    """The column holding the address: ``email_address``, else the first header other tools use for it."""
    by_name = {column_name(column): column for column in columns}
    return next((by_name[name] for name in EMAIL_HEADERS if name in by_name), None)


@lru_cache(maxsize=4096)
def custom_column(column: str) -> bool:
    """Whether an input column is a custom field (not standard, read-only or dlt's own)."""
    name = column_name(column)
    return not (
        name in STANDARD_COLUMNS
        or name in EMAIL_HEADERS
        or name in READ_ONLY_COLUMNS
        or name == CUSTOM_FIELDS_COLUMN
        or name.startswith("_dlt")
    )
