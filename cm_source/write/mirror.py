"""``mirror_list``: make a list's members be an audience, adding and updating who is in it and removing who is not.

The plan is worked out before anything is sent, from the input and the list as it is now (every
state, read as the read side reads it), so a dry run shows exactly what a real run does; a plan that
would remove more than ``max_removals`` is refused before anything is sent, so that an empty or broken
query cannot empty a list.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from typing_extensions import Unpack

from ..errors import InputError
from ..private_files import open_private
from .accounting import UpsertReport
from .actions import ActionReport, act_on
from .checkpoint import Checkpoint
from .custom_fields import CustomFields
from .members import ListMembers, list_members
from .rejects import write_rejects
from .rows import Prepared, Row, prepare
from .settings import WriteCall, WriteOptions
from .upsert import upsert_prepared

Removal = Literal["unsubscribe", "delete"]
# Without max_removals, a mirror may remove at most this share of the list's current members.
DEFAULT_MAX_REMOVAL_SHARE = 0.10


@dataclass
class MirrorPlan:
    """Who the mirror adds, updates and removes, decided from the input and the list as it is now."""

    list_id: str
    removal: Removal
    members: int  # Active and Unconfirmed when the list was read
    add: list[str] = field(default_factory=list)  # in the input, never on the list
    update: list[str] = field(default_factory=list)  # in the input and a member
    resubscribe: list[str] = field(default_factory=list)  # in the input, left the list, and resubscribe is on
    stay_out: list[tuple[str, str]] = field(default_factory=list)  # in the input, left the list (state): kept so
    remove: list[str] = field(default_factory=list)  # members not in the input
    max_removals: int = 0

    def summary(self) -> str:
        return (
            f"list {self.list_id} ({self.members:,} members): add {len(self.add):,}, update {len(self.update):,},"
            + (f" resubscribe {len(self.resubscribe):,}," if self.resubscribe else "")
            + f" {self.removal} {len(self.remove):,} (at most {self.max_removals:,} allowed)"
            + (
                f"; {len(self.stay_out):,} in the input left the list before and stay out (resubscribe re-adds them)"
                if self.stay_out
                else ""
            )
        )

    def write(self, path: Path) -> None:
        """One row per address: ``email_address, action`` (add, update, resubscribe, stays_<state>, or the removal)."""
        with open_private(path, newline="") as out:
            writer = csv.writer(out)
            writer.writerow(["email_address", "action"])
            for action, emails in (("add", self.add), ("update", self.update), ("resubscribe", self.resubscribe)):
                writer.writerows((email, action) for email in emails)
            writer.writerows((email, f"stays_{state.lower()}") for email, state in self.stay_out)
            writer.writerows((email, self.removal) for email in self.remove)


@dataclass
class MirrorReport:
    """The plan, the upsert of the input (as ``upsert_subscribers`` reports it) and the removals."""

    plan: MirrorPlan
    upsert: UpsertReport
    removals: ActionReport

    def summary(self) -> str:
        if self.upsert.dry_run:
            refused = len(self.upsert.rejected)
            return f"plan: {self.plan.summary()}; {refused:,} rows refused before sending; nothing sent"
        return f"{self.upsert.summary()}\n{self.removals.summary()}"

    @property
    def refused(self) -> int:
        return len(self.upsert.rejected) + len(self.removals.refused)


def plan_mirror(
    prepared: Prepared, now: ListMembers, list_id: str, removal: Removal, resubscribe: bool, max_removals: int | None
) -> MirrorPlan:
    """Compare the input's addresses (ignoring case) with the list's; removals are members not in the input.

    A member whose row is then rejected (a bad mobile number, say) is in the input, so it is not removed:
    it stays as it was, and its row is in the rejects file. A row without an address matches nobody.
    """
    allowed = int(len(now.members) * DEFAULT_MAX_REMOVAL_SHARE) if max_removals is None else max_removals
    plan = MirrorPlan(list_id, removal, len(now.members), max_removals=allowed)
    for key, email in prepared.addresses.items():
        if key in now.members:
            plan.update.append(email)
        elif key in now.left and resubscribe:
            plan.resubscribe.append(email)
        elif key in now.left:
            plan.stay_out.append((email, now.left[key]))
        else:
            plan.add.append(email)
    plan.remove = [email for key, email in now.members.items() if key not in prepared.addresses]
    return plan


def check_removals(plan: MirrorPlan) -> None:
    """Refuse, in one line, a plan that removes more than allowed; nothing has been sent yet."""
    if len(plan.remove) <= plan.max_removals:
        return
    share = len(plan.remove) / plan.members if plan.members else 1.0
    raise InputError(
        f"mirror refused: it would {plan.removal} {len(plan.remove):,} of list {plan.list_id}'s {plan.members:,}"
        f" members ({share:.0%}), more than the {plan.max_removals:,} allowed; nothing was sent. Check the input"
        f" (an empty or failed query looks like this), or allow it with max_removals={len(plan.remove)}"
    )


def mirror_list(
    rows: Iterable[Row],
    list_id: str,
    removal: Removal = "unsubscribe",
    *,
    max_removals: int | None = None,
    plan_path: str | None = None,
    **options: Unpack[WriteOptions],
) -> MirrorReport:
    """Make list ``list_id``'s members the input's people: upsert every row, then remove (``unsubscribe``
    or ``delete``) every member whose address is not in the input.

    ``max_removals`` defaults to 10% of the list's members. The plan is written to ``plan_path`` (CSV)
    before anything is sent, in a dry run too. ``options`` are the write functions' own
    (``settings.WriteOptions``), as ``upsert_subscribers`` takes them; ``progress`` is handed the
    upsert's report after each import, then the removals' after each removal. Raises
    ``CampaignMonitorError`` when nothing can be done (bad key, unknown list or column, too many removals).
    """
    if removal not in ("unsubscribe", "delete"):
        raise InputError(f"removal must be unsubscribe or delete, not {removal!r}")
    call = WriteCall.of(options)
    fields = CustomFields.fetch(call.api, list_id)
    prepared = prepare(rows, fields, call.column_map)
    if not prepared.addresses:
        raise InputError(
            f"mirror refused: the input holds no one ({prepared.rows_read:,} rows, none with an address), which"
            f" would take every member off list {list_id}; nothing was sent. Check the input or its query"
        )
    removals = ActionReport(removal, list_id, dry_run=call.dry_run)
    # the checkpoint's lock is taken before the members are read: a mirror of the list running already
    # changes them, and the plan must start from what it leaves
    with Checkpoint(call.checkpoint_path) as checkpoint:
        members = list_members(call.api, list_id)
        plan = plan_mirror(prepared, members, list_id, removal, call.settings.resubscribe, max_removals)
        if plan_path:
            plan.write(Path(plan_path))
        check_removals(plan)
        upsert = upsert_prepared(call, list_id, prepared, fields, checkpoint)
        if call.dry_run:
            removals.done = len(plan.remove)
        else:
            act_on(call.api, removal, list_id, plan.remove, checkpoint, removals, call.progress)
            checkpoint.clear()
        if call.rejects_path:
            write_rejects(call.rejects_path, upsert.rejected + removals.not_done)
    return MirrorReport(plan, upsert, removals)
