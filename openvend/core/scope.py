"""The data scope a user's roles grant: which parts of a merchant's estate they may see.

A user's roles are unioned. A model decides how a scope narrows it through its
`scope_q(scope)` classmethod; a model that does not say is visible only to users
whose scope is the whole merchant (closed by default).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q


@dataclass(frozen=True)
class DataScope:
    everything: bool = False
    org_unit_paths: frozenset[str] = field(default_factory=frozenset)
    site_ids: frozenset[int] = field(default_factory=frozenset)
    device_group_ids: frozenset[int] = field(default_factory=frozenset)
    user_id: int | None = None

    def path_q(self, lookup: str) -> Q:
        """Q matching rows whose org-unit path lies inside one of the scope's subtrees."""
        q = Q(pk__in=[])
        for path in sorted(self.org_unit_paths):
            q |= Q(**{f"{lookup}__startswith": path})
        return q


NOTHING = DataScope()
EVERYTHING = DataScope(everything=True)
