"""Which contract version applies on a date, and whether a date is in term."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

from billbridge.domain.model import ContractVersion, RateCardBasis, Termination

RateCardKey = tuple[int, str | None, str | None, str | None]
"""(version, resource id, role, cost center where the version lists them)."""


@dataclass(frozen=True, slots=True)
class VersionTimeline:
    """The applicable version for a date is the highest version number among the
    known versions whose effective date is on or before it.

    Built once per book; `applicable_on` is a binary search.
    """

    breakpoints: tuple[date, ...]
    versions_at: tuple[ContractVersion, ...]
    termination_date: date | None
    rate_card_bases: dict[RateCardKey, RateCardBasis | None] = field(
        default_factory=dict, compare=False, repr=False, hash=False
    )
    """What each version's rate card says for a (resource, role, cost center), worked out once."""

    @classmethod
    def of(cls, versions: Mapping[int, ContractVersion], termination: Termination | None = None) -> VersionTimeline:
        ordered = sorted(versions.values(), key=lambda v: (v.effective_date, v.version))
        breakpoints: list[date] = []
        versions_at: list[ContractVersion] = []
        best: ContractVersion | None = None
        for version in ordered:
            if best is None or version.version > best.version:
                best = version
            if breakpoints and breakpoints[-1] == version.effective_date:
                versions_at[-1] = best
            else:
                breakpoints.append(version.effective_date)
                versions_at.append(best)
        return cls(
            breakpoints=tuple(breakpoints),
            versions_at=tuple(versions_at),
            termination_date=termination.effective_date if termination else None,
        )

    def applicable_on(self, day: date) -> ContractVersion | None:
        index = bisect_right(self.breakpoints, day) - 1
        return self.versions_at[index] if index >= 0 else None

    def first_version(self) -> ContractVersion | None:
        """The version that applies from the earliest effective date."""
        return self.versions_at[0] if self.versions_at else None

    def end_date_of(self, version: ContractVersion) -> date:
        """The version's end date, cut short by a termination."""
        if self.termination_date is not None and self.termination_date < version.end_date:
            return self.termination_date
        return version.end_date

    def in_term(self, version: ContractVersion, day: date) -> bool:
        return version.start_date <= day <= self.end_date_of(version)


class VersionArrival:
    """How a delivered version relates to the known ones."""

    NEW = "new"
    STALE = "stale"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"


def classify_version(known: Mapping[int, ContractVersion], incoming: ContractVersion) -> str:
    """A version at or below the latest known one is stale (no effect); the same
    version with another body is a conflict; the same body again is a duplicate."""
    existing = known.get(incoming.version)
    if existing is not None:
        return VersionArrival.DUPLICATE if existing == incoming else VersionArrival.CONFLICT
    if known and incoming.version <= max(known):
        return VersionArrival.STALE
    return VersionArrival.NEW
