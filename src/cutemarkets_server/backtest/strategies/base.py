"""What a strategy is: a small class with declared parameters that reacts to completed bars.

Parameters are declared once (name, type, default, description); the CLI, the docs and the manifest
read the declaration. A strategy sees only its ``Context`` (what is knowable at the decision instant).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ..config import coerce

if TYPE_CHECKING:
    from ..context import Context


@dataclass(frozen=True)
class Param:
    name: str
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None

    @property
    def kind(self) -> type:
        return type(self.default)

    def parse(self, value: Any) -> Any:
        v = coerce(self.name, value, self.kind)
        if self.minimum is not None and v < self.minimum:
            raise ValueError(f"{self.name} must be >= {self.minimum}, got {v}")
        if self.maximum is not None and v > self.maximum:
            raise ValueError(f"{self.name} must be <= {self.maximum}, got {v}")
        if self.choices is not None and v not in self.choices:
            raise ValueError(f"{self.name} must be one of {', '.join(self.choices)}, got {v!r}")
        return v

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.kind.__name__, "default": self.default}
        out["help"] = self.help
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        if self.choices is not None:
            out["choices"] = list(self.choices)
        return out


class Strategy:
    """Subclass, set ``name``, ``description`` and ``params``, and implement ``on_bar``."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()

    def __init__(self, **values: Any) -> None:
        self.p: dict[str, Any] = self.resolve(values)

    @classmethod
    def resolve(cls, values: dict[str, Any]) -> dict[str, Any]:
        """Every parameter's value (defaults filled in); an unknown name or a bad value raises ValueError."""
        known = {p.name: p for p in cls.params}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(
                f"unknown parameter(s) for {cls.name}: {', '.join(unknown)}; known: {', '.join(known) or 'none'}"
            )
        return {name: (p.parse(values[name]) if name in values else p.default) for name, p in known.items()}

    def on_session_start(self, ctx: Context) -> None:
        """Called before the first bar of each session."""

    def on_bar(self, ctx: Context) -> None:
        """Called at the close of every one-minute bar of the regular session."""
        raise NotImplementedError


def hhmm(text: str) -> int:
    """Minutes after midnight for ``HH:MM``."""
    try:
        hh, mm = text.split(":")
        value = int(hh) * 60 + int(mm)
    except ValueError:
        raise ValueError(f"expected HH:MM, got {text!r}") from None
    if not 0 <= value < 24 * 60:
        raise ValueError(f"expected HH:MM, got {text!r}")
    return value
