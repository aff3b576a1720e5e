"""A tiny name → factory registry: one per family, keyed by the CLI name."""
from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

__all__ = ["Registry", "resolve_auto"]

T = TypeVar("T")


class _Lazy:
    """A registered name whose object is imported on first use (``"package.module:attr"``)."""

    __slots__ = ("target", "unavailable")

    def __init__(self, target: str, unavailable: Callable[[Any], str | None] | None) -> None:
        self.target = target
        self.unavailable = unavailable


class Registry(Generic[T]):
    """Maps CLI names to classes or factories.

    >>> REG = Registry("renderer")
    >>> @REG.register("plain")
    ... class Plain: ...
    >>> REG.get("plain") is Plain
    True
    >>> REG.names()
    ['plain']

    Heavy back-ends register lazily, by ``"module:attr"``, so that listing the names
    (``--help``) imports nothing; the module is imported by the first :meth:`get`.
    """

    def __init__(self, family: str) -> None:
        self.family = family
        self._items: dict[str, T | _Lazy] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator that registers ``obj`` under ``name`` (names are unique).

        A name registered lazily is filled in by the decorator in its own module.
        """

        def deco(obj: T) -> T:
            if name in self._items and not isinstance(self._items[name], _Lazy):
                raise ValueError(f"{self.family} {name!r} is already registered")
            self._items[name] = obj
            return obj

        return deco

    def register_lazy(self, name: str, target: str,
                      unavailable: Callable[[Any], str | None] | None = None) -> None:
        """Register ``name`` as ``"package.module:attr"``, imported on first :meth:`get`.

        ``unavailable(cfg)`` (optional, cheap) answers :meth:`unavailable_reason` without
        importing the module, so that ``auto`` can decide without loading e.g. torch.
        """
        if name in self._items:
            raise ValueError(f"{self.family} {name!r} is already registered")
        if ":" not in target:
            raise ValueError(f"lazy target must be 'module:attr'; got {target!r}")
        self._items[name] = _Lazy(target, unavailable)

    def get(self, name: str) -> T:
        """The object registered as ``name``; an unknown name lists the valid ones."""
        try:
            item = self._items[name]
        except KeyError:
            raise KeyError(
                f"unknown {self.family} {name!r}; choose one of: {', '.join(self.names())}"
            ) from None
        if isinstance(item, _Lazy):
            module, attr = item.target.split(":", 1)
            obj: T = getattr(importlib.import_module(module), attr)
            self._items[name] = obj
            return obj
        return item

    def unavailable_reason(self, name: str, cfg: object) -> str | None:
        """Why back-end ``name`` cannot run with ``cfg`` (``None`` when it can), importing it only if needed."""
        item = self._items.get(name)
        if isinstance(item, _Lazy) and item.unavailable is not None:
            return item.unavailable(cfg)
        return self.get(name).unavailable_reason(cfg)  # type: ignore[attr-defined]

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
        reason = registry.unavailable_reason(name, cfg)
        if reason is not None:
            raise CheckpointError(f"{label} '{name}' cannot run: {reason}")
        return name, None
    if neural in registry:
        reason = registry.unavailable_reason(neural, cfg)
        if reason is None:
            return neural, None
        return default, f"{label}: using '{default}' ({reason})"
    return default, f"{label}: using '{default}' (no '{neural}' installed)"
