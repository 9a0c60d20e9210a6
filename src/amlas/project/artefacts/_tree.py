"""The hierarchy of [H]: ML safety requirements that refine other ML safety requirements.

An [H] item may say ``refines: <ID of another [H] item>``; the items then form a forest
(one parent at most per item). :class:`RequirementTree` reads it once and answers the
questions the rules, the trace matrix and the safety case ask: the parent and children
of an item, a depth-first order in which every parent comes before its children, and the
allocated requirements [E] an item traces to, its own and those it inherits.

Inheritance: refinement is transitive, so a child traces to every [E] item its parent
traces to (and the parent's parent's), besides the ones it names itself. A child that
names no ``traces_to`` of its own is therefore traced through its parent.

A ``refines`` that names no [H] item (X002 reports it), the item itself or a member of a
cycle (X013 reports both) is ignored here: the item stands as a root, so that a broken
hierarchy never hangs a walk or hides an item.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol

__all__ = ["RequirementTree"]


class _Refining(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def refines(self) -> str | None: ...
    @property
    def traces_to(self) -> list[str]: ...


class RequirementTree:
    """The refinement forest of the [H] items ``requirements`` (in document order; the
    first of two items with one ID counts, as X001 reports the second)."""

    def __init__(self, requirements: Iterable[_Refining]) -> None:
        self._items: dict[str, _Refining] = {}
        for item in requirements:
            self._items.setdefault(item.id, item)
        self._order = list(self._items)
        self.cycles: tuple[tuple[str, ...], ...] = _cycles(self._items)
        """Each refinement cycle once, in the order of refinement from its first member in
        document order (an item that refines itself is a cycle of one)."""
        in_cycle = {item for cycle in self.cycles for item in cycle}
        self._parent: dict[str, str] = {}
        for item_id, item in self._items.items():
            parent = item.refines
            if parent is not None and parent in self._items and item_id not in in_cycle:
                self._parent[item_id] = parent
        self._children: dict[str, list[str]] = {item_id: [] for item_id in self._order}
        for item_id in self._order:
            parent_id = self._parent.get(item_id)
            if parent_id is not None:
                self._children[parent_id].append(item_id)

    def __contains__(self, item_id: object) -> bool:
        return item_id in self._items

    def parent_of(self, item_id: str) -> str | None:
        """The [H] item ``item_id`` refines; None for a root (and for a ``refines`` that
        is unknown or part of a cycle)."""
        return self._parent.get(item_id)

    def children_of(self, item_id: str) -> tuple[str, ...]:
        """The items that refine ``item_id`` directly, in document order."""
        return tuple(self._children.get(item_id, ()))

    def ancestors(self, item_id: str) -> tuple[str, ...]:
        """The parent, its parent and so on, nearest first."""
        out: list[str] = []
        current = self._parent.get(item_id)
        while current is not None:
            out.append(current)
            current = self._parent.get(current)
        return tuple(out)

    def descendants(self, item_id: str) -> tuple[str, ...]:
        """Every item below ``item_id``, depth first, in document order among siblings."""
        return tuple(i for i, _ in self._walk(item_id, 0))[1:]

    def depth(self, item_id: str) -> int:
        """0 for a root, 1 for its children, and so on."""
        return len(self.ancestors(item_id))

    def roots(self) -> tuple[str, ...]:
        """The items that refine no (valid) other item, in document order."""
        return tuple(i for i in self._order if i not in self._parent)

    def walk(self) -> tuple[tuple[str, int], ...]:
        """Every item with its depth, depth first: each parent before its children,
        siblings and roots in document order (a topological order of the hierarchy)."""
        return tuple(pair for root in self.roots() for pair in self._walk(root, 0))

    def _walk(self, item_id: str, depth: int) -> Iterator[tuple[str, int]]:
        yield item_id, depth
        for child in self._children.get(item_id, ()):
            yield from self._walk(child, depth + 1)

    def traces_of(self, item_id: str) -> tuple[str, ...]:
        """The [E] IDs ``item_id`` traces to: its own ``traces_to`` first, then those it
        inherits from its ancestors (nearest first), each once."""
        out: dict[str, None] = {}
        for current in (item_id, *self.ancestors(item_id)):
            item = self._items.get(current)
            if item is not None:
                out.update(dict.fromkeys(item.traces_to))
        return tuple(out)

    def inherited_from(self, item_id: str, allocated: str) -> str | None:
        """The nearest ancestor whose own ``traces_to`` names ``allocated``, when
        ``item_id`` does not name it itself; else None."""
        item = self._items.get(item_id)
        if item is None or allocated in item.traces_to:
            return None
        for ancestor in self.ancestors(item_id):
            if allocated in self._items[ancestor].traces_to:
                return ancestor
        return None


def _cycles(items: dict[str, _Refining]) -> tuple[tuple[str, ...], ...]:
    """Every cycle of the ``refines`` links (each item has at most one), once."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    found: list[tuple[str, ...]] = []
    for start in items:
        path: list[str] = []
        current: str | None = start
        while current is not None and current in items and current not in state:
            state[current] = 1
            path.append(current)
            current = items[current].refines
        if current is not None and state.get(current) == 1:
            cycle = path[path.index(current) :]
            first = min(cycle, key=list(items).index)
            at = cycle.index(first)
            found.append(tuple(cycle[at:] + cycle[:at]))
        for visited in path:
            state[visited] = 2
    return tuple(sorted(found, key=lambda c: list(items).index(c[0])))
