"""Who is asking, and what they may do: the one place that decides, for every platform.

Adapters translate a platform user into an `Actor` (platform, id, roles they can vouch for,
such as "administrator of this Telegram group"); the core checks permissions here and nowhere
else, so a Telegram command and a Discord slash command can never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from bot.core.messages import NOT_ALLOWED
from knowledge.errors import CrisisbotError


LOCAL_PLATFORM = "cli"
"""The terminal: whoever runs crisisbot in a shell on the server owns the data folder (they
could edit the database directly), so the terminal vouches for them as an admin."""


class Role(str, Enum):
    MEMBER = "member"
    MODERATOR = "moderator"
    ADMIN = "admin"


class Action(str, Enum):
    ASK = "ask"
    VOTE = "vote"
    LIST_SOURCES = "list-sources"
    SUMMARIZE = "summarize"  # moderators: summaries and digests
    CHANGE_KNOWLEDGE = "change-knowledge"  # admins: add, remove, refresh sources


_REQUIRED: dict[Action, Role] = {
    Action.ASK: Role.MEMBER,
    Action.VOTE: Role.MEMBER,
    Action.LIST_SOURCES: Role.MEMBER,
    Action.SUMMARIZE: Role.MODERATOR,
    Action.CHANGE_KNOWLEDGE: Role.ADMIN,
}
_RANK = {Role.MEMBER: 0, Role.MODERATOR: 1, Role.ADMIN: 2}


class NotAllowed(CrisisbotError):
    """The actor lacks the role an action needs."""


@dataclass(frozen=True)
class Actor:
    """A person on a platform; `roles` are those the adapter could establish for them."""

    platform: str
    user_id: str
    name: str = ""
    roles: frozenset[Role] = field(default_factory=frozenset)

    @property
    def key(self) -> str:
        return f"{self.platform}:{self.user_id}"

    @property
    def highest_role(self) -> Role:
        return max(self.roles | {Role.MEMBER}, key=_RANK.__getitem__)


SCHEDULER = Actor("scheduler", "feeds", "feed poller", frozenset({Role.MEMBER, Role.ADMIN}))
"""The process itself polling subscribed feeds on schedule: an admin subscribed them, so the
poller acts with an admin's rights, and the audit log names it rather than a person."""


@dataclass(frozen=True)
class RoleDirectory:
    """Configured admins and moderators per platform: people by id (e.g. {"telegram": {"123"}})
    and groups by id (Discord server roles, e.g. {"discord": {"987"}}). The runtime fills it
    from the settings; adapters only report what the platform says of a person."""

    admins: dict[str, frozenset[str]] = field(default_factory=dict)
    moderators: dict[str, frozenset[str]] = field(default_factory=dict)
    admin_groups: dict[str, frozenset[str]] = field(default_factory=dict)
    moderator_groups: dict[str, frozenset[str]] = field(default_factory=dict)

    def roles_of(
        self, platform: str, user_id: str, platform_moderator: bool = False, platform_admin: bool = False,
        group_ids: Iterable[str] = (),
    ) -> frozenset[Role]:
        """Configured roles, plus those the platform vouches for (a chat administrator, a
        Discord member with Manage Server), plus those of the configured groups the person is in."""
        groups = frozenset(group_ids)
        roles = {Role.MEMBER}
        if (platform_admin or user_id in self.admins.get(platform, frozenset())
                or groups & self.admin_groups.get(platform, frozenset())):
            roles.add(Role.ADMIN)
        if (platform_moderator or user_id in self.moderators.get(platform, frozenset())
                or groups & self.moderator_groups.get(platform, frozenset())):
            roles.add(Role.MODERATOR)
        return frozenset(roles)


def may(actor: Actor, action: Action) -> bool:
    return _RANK[actor.highest_role] >= _RANK[_REQUIRED[action]]


def require(actor: Actor, action: Action) -> None:
    if not may(actor, action):
        raise NotAllowed(NOT_ALLOWED.format(role=_REQUIRED[action].value))
