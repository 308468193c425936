from __future__ import annotations

import pytest

from bot.core.actors import Action, Actor, NotAllowed, Role, RoleDirectory, may, require

DIRECTORY = RoleDirectory(
    admins={"telegram": frozenset({"1"})}, moderators={"telegram": frozenset({"2"}), "discord": frozenset({"1"})}
)


def actor(platform: str, user: str, chat_admin: bool = False) -> Actor:
    return Actor(platform, user, roles=DIRECTORY.roles_of(platform, user, chat_admin))


@pytest.mark.parametrize(
    ("who", "action", "allowed"),
    [
        (actor("telegram", "9"), Action.ASK, True),
        (actor("telegram", "9"), Action.SUMMARIZE, False),
        (actor("telegram", "9", chat_admin=True), Action.SUMMARIZE, True),
        (actor("telegram", "9", chat_admin=True), Action.CHANGE_KNOWLEDGE, False),
        (actor("telegram", "2"), Action.SUMMARIZE, True),
        (actor("telegram", "1"), Action.CHANGE_KNOWLEDGE, True),
        (actor("telegram", "1"), Action.SUMMARIZE, True),  # an admin may do what a moderator may
        (actor("discord", "1"), Action.CHANGE_KNOWLEDGE, False),  # ids are per platform
    ],
)
def test_one_place_decides(who: Actor, action: Action, allowed: bool) -> None:
    assert may(who, action) is allowed


def test_refusal_is_a_polite_user_error() -> None:
    with pytest.raises(NotAllowed, match="Only admins may do that."):
        require(actor("telegram", "9"), Action.CHANGE_KNOWLEDGE)


def test_everyone_is_at_least_a_member() -> None:
    assert Actor("cli", "me").highest_role is Role.MEMBER


GROUPS = RoleDirectory(
    admin_groups={"discord": frozenset({"500"})}, moderator_groups={"discord": frozenset({"600"})}
)


@pytest.mark.parametrize(
    ("platform", "groups", "expected"),
    [
        ("discord", ["500"], {Role.MEMBER, Role.ADMIN}),
        ("discord", ["600", "7"], {Role.MEMBER, Role.MODERATOR}),
        ("discord", ["7"], {Role.MEMBER}),
        ("telegram", ["500"], {Role.MEMBER}),  # group ids are per platform too
    ],
)
def test_configured_groups_grant_roles_in_the_core(platform: str, groups: list[str], expected: set[Role]) -> None:
    """Discord server roles are matched against the configured role ids here, not in the
    adapter: the adapter only reports which roles the member has."""
    assert GROUPS.roles_of(platform, "42", group_ids=groups) == frozenset(expected)
