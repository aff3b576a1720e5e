"""A tiny name → factory registry: one per family, keyed by the CLI name."""
from __future__ import annotations

from typing import Callable, Generic, Iterator, TypeVar

__all__ = ["Registry", "resolve_auto"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps CLI names to classes or factories.

    >>> REG = Registry("renderer")
    >>> @REG.register("plain")
    ... class Plain: ...
    >>> REG.get("plain") is Plain
    True
    >>> REG.names()
    ['plain']
    """

    def __init__(self, family: str) -> None:
        self.family = family
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator that registers ``obj`` under ``name`` (names are unique)."""

        def deco(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.family} {name!r} is already registered")
            self._items[name] = obj
            return obj

        return deco

    def get(self, name: str) -> T:
        """The object registered as ``name``; an unknown name lists the valid ones."""
        try:
            return self._items[name]
        except KeyError:
            raise KeyError(
                f"unknown {self.family} {name!r}; choose one of: {', '.join(self.names())}"
            ) from None

    def names(self) -> list[str]:
        """Registered names in registration order (feed argparse ``choices=``)."""
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


def resolve_auto(registry: Registry, name: str, cfg: object, neural: str, default: str,
                 label: str) -> tuple[str, str | None]:
    """Pick a back-end by CLI name; ``auto`` means ``neural`` when it can run with ``cfg``, else ``default``.

    Registered classes answer ``unavailable_reason(cfg)`` (``None`` when usable).
    Returns ``(name, notice)``; ``notice`` says why the default was taken. An
    explicitly named back-end that cannot run raises :class:`CheckpointError`.
    """
    from .errors import CheckpointError

    if name != "auto":
        reason = registry.get(name).unavailable_reason(cfg)
        if reason is not None:
            raise CheckpointError(f"{label} '{name}' cannot run: {reason}")
        return name, None
    if neural in registry:
        reason = registry.get(neural).unavailable_reason(cfg)
        if reason is None:
            return neural, None
        return default, f"{label}: using '{default}' ({reason})"
    return default, f"{label}: using '{default}' (no '{neural}' installed)"
