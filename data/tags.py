"""Tag sets: which heads a model has and how each maps onto a project role.

A model has one B/I/O head per *tag*. Usually the tags are the project roles; a corpus-native
tag set (MUC-4's PerpInd, PerpOrg, Target, Victim, Weapon) can be trained instead so that
scores stay comparable with published results, each native tag still mapping to a role.
"""

from __future__ import annotations

from dataclasses import dataclass

from .document import Document, Span
from .roles import ROLES, check_role

OUTSIDE, BEGIN, INSIDE = 0, 1, 2
BIO = ("O", "B", "I")
IGNORE = -100


@dataclass(frozen=True)
class TagSet:
    """``tags[i]`` is head i; ``roles[i]`` the project role it outputs; ``by`` says whether a
    gold span is matched to a tag by its ``role`` or by its native ``label``."""

    tags: tuple[str, ...]
    roles: tuple[str, ...]
    by: str = "role"  # "role" | "label"

    def __post_init__(self) -> None:
        if len(self.tags) != len(self.roles) or not self.tags:
            raise ValueError("a tag set needs one role per tag and at least one tag")
        if self.by not in ("role", "label"):
            raise ValueError(f"TagSet.by must be 'role' or 'label', not {self.by!r}")
        for role in self.roles:
            check_role(role)

    @classmethod
    def from_roles(cls, roles: tuple[str, ...] | list[str] = ROLES) -> "TagSet":
        return cls(tuple(roles), tuple(roles), "role")

    @classmethod
    def from_labels(cls, label_roles: dict[str, str]) -> "TagSet":
        return cls(tuple(label_roles), tuple(label_roles.values()), "label")

    def tag_of(self, span: Span) -> int | None:
        key = span.role if self.by == "role" else span.label
        try:
            index = self.tags.index(key)  # type: ignore[arg-type]
        except ValueError:
            return None
        return index if self.roles[index] == span.role else None

    def annotated(self, doc: Document) -> list[bool]:
        """Which heads carry a training signal for this document."""
        return [role in doc.roles for role in self.roles]

    def to_dict(self) -> dict:
        return {"tags": list(self.tags), "roles": list(self.roles), "by": self.by}

    @classmethod
    def from_dict(cls, data: dict) -> "TagSet":
        return cls(tuple(data["tags"]), tuple(data["roles"]), data.get("by", "role"))
