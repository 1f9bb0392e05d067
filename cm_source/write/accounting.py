"""Every input row accounted for: an upsert's report, built from each import's answer.

new + updated + rejected + superseded duplicates = rows read.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .imports import ImportDone
from .rejects import Rejection


@dataclass
class UpsertReport:
    """What happened to every input row: new + updated + rejected + superseded duplicates = rows read."""

    list_id: str
    rows_read: int = 0
    new: int = 0
    updated: int = 0
    rejected: list[Rejection] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)  # emails whose earlier rows a later one replaced
    imports_sent: int = 0
    imports_resumed: int = 0  # finished by an earlier, interrupted run and not sent again
    dry_run: bool = False
    email_column: str = "email_address"  # the input column taken as the address

    @property
    def accepted(self) -> int:
        return self.new + self.updated

    def summary(self) -> str:
        verb = "would send" if self.dry_run else "imported"
        return (
            f"list {self.list_id}: {self.rows_read:,} rows read, {verb} {self.accepted:,}"
            f" ({self.new:,} new, {self.updated:,} updated), {len(self.rejected):,} rejected,"
            f" {len(self.duplicates):,} duplicate emails (last row sent), {self.imports_sent} import calls"
            + (f", {self.imports_resumed} resumed" if self.imports_resumed else "")
            + (f"; the address from column {self.email_column!r}" if self.email_column != "email_address" else "")
        )


def account_for(report: UpsertReport, done: ImportDone) -> None:
    """Add one import's counts and failures to the report, failures matched back to their rows."""
    result = done.result
    if done.resumed:
        report.imports_resumed += 1
    else:
        report.imports_sent += 1
    report.new += int(result.get("TotalNewSubscribers") or 0)
    report.updated += int(result.get("TotalExistingSubscribers") or 0)
    rows_by_email = {subscriber["EmailAddress"].lower(): row for subscriber, row in done.batch}
    for failure in result.get("FailureDetails") or []:
        email = str(failure.get("EmailAddress", ""))
        row = rows_by_email.get(email.lower(), {"email_address": email})
        report.rejected.append(Rejection(row, int(failure.get("Code") or 0), str(failure.get("Message") or "")))
