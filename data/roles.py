"""The event-role schema: one validated table that every other module reads.

Why a table: corpora name their roles differently (PerpInd, Killer, S, Place...). Each reader
maps its native labels onto these project roles, and keeps the native label on the span as a
fine-grained ``label`` so that corpus-specific scorers (MUC-4's GRIT comparison) still work.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Role:
    name: str
    description: str
    examples: tuple[str, ...]


ROLE_TABLE: tuple[Role, ...] = (
    Role(
        "attacker",
        "Who carried out or is held responsible for the attack: people, armed groups, state forces.",
        ("[Rebels] ambushed a convoy", "[the FMLN] claimed the bombing"),
    ),
    Role(
        "target",
        "Whom or what the attack hit: people killed, wounded or kidnapped, buildings, vehicles, infrastructure.",
        ("a bomb destroyed [the power station]", "gunmen killed [two soldiers]"),
    ),
    Role(
        "location",
        "Where the attack took place: villages, cities, regions, countries, named sites.",
        ("shelling hit a market in [Aleppo]", "near [the airport]"),
    ),
    Role(
        "time",
        "When the attack took place: dates, days, times of day, relative expressions.",
        ("on [Sunday]", "[3 March 1998]", "[the following morning]"),
    ),
    Role(
        "weapon",
        "The instrument of the attack (optional fifth role): bombs, rifles, drones, artillery.",
        ("a [car bomb] exploded", "fired [mortar rounds]"),
    ),
)

ROLES: tuple[str, ...] = tuple(role.name for role in ROLE_TABLE)
CORE_ROLES: tuple[str, ...] = ("attacker", "target", "location", "time")


class UnknownRoleError(ValueError):
    """A role name that the schema does not know."""


def check_role(name: str) -> str:
    """Return ``name`` if it is a project role, else raise with the list of valid ones."""
    if name not in ROLES:
        raise UnknownRoleError(f"unknown role {name!r}; the roles are: {', '.join(ROLES)}")
    return name
