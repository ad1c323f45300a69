"""Pytrees for the checker: dicts, lists, tuples and NamedTuples of arrays, walked in one fixed order.

One walker for every part of the checker (comparisons, VJPs, central
differences, snapshots, trajectories), the same order as
:func:`fdl.given.tree_map` and ``jax.tree_util`` use for these containers.
A *leaf* is anything else: an array, a number, None.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Callable, Iterator

import numpy as np

__all__ = [
    "children", "is_container", "leaves", "keyed_leaves", "tree_map", "same_structure", "is_float_tree",
    "is_array_tree", "zeros_like", "random_like", "size", "tree_equal", "snapshot", "path_text", "as_jax",
    "to_numpy", "shares_memory", "is_jax_array",
]


def is_container(value) -> bool:
    return isinstance(value, (Mapping, list, tuple))


def children(value) -> list | None:
    """The children of a container node (dict values in key order, list and tuple items), else None."""
    if isinstance(value, Mapping):
        return list(value.values())
    if isinstance(value, (list, tuple)):
        return list(value)
    return None


def leaves(tree) -> list:
    kids = children(tree)
    if kids is None:
        return [tree]
    return [leaf for child in kids for leaf in leaves(child)]


def keyed_leaves(tree, path: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """``(path, leaf)`` pairs; a path is the keys and indices from the root (``("dense", "w")``)."""
    if isinstance(tree, Mapping):
        for key, value in tree.items():
            yield from keyed_leaves(value, path + (key,))
    elif isinstance(tree, (list, tuple)):
        for i, value in enumerate(tree):
            yield from keyed_leaves(value, path + (i,))
    else:
        yield path, tree


def path_text(path: tuple) -> str:
    """``['dense']['w']`` for a path of keys and indices; empty for the root."""
    return "".join(f"[{key!r}]" for key in path)


def _rebuild(template, items: list):
    if isinstance(template, tuple) and hasattr(template, "_fields"):  # a NamedTuple
        return type(template)(*items)
    return type(template)(items)


def tree_map(fn: Callable, tree, *rest):
    """``fn`` leaf by leaf over trees of the same structure; containers are rebuilt as they were."""
    if isinstance(tree, Mapping):
        return {k: tree_map(fn, tree[k], *(r[k] for r in rest)) for k in tree}
    if isinstance(tree, (list, tuple)):
        return _rebuild(tree, [tree_map(fn, *kids) for kids in zip(tree, *rest)])
    return fn(tree, *rest)


def same_structure(a, b) -> bool:
    """The same containers with the same keys and lengths (leaves may differ)."""
    if isinstance(a, Mapping):
        return isinstance(b, Mapping) and list(a.keys()) == list(b.keys()) and all(
            same_structure(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(map(same_structure, a, b))
    return not is_container(b)


def is_float_tree(value) -> bool:
    """A floating array, or a non-empty container of them (a parameter pytree)."""
    if isinstance(value, np.ndarray):
        return value.dtype.kind == "f"
    kids = children(value)
    return bool(kids) and all(is_float_tree(v) for v in kids)


def is_array_tree(value) -> bool:
    """An array, or a non-empty container of them."""
    if isinstance(value, np.ndarray):
        return True
    kids = children(value)
    return bool(kids) and all(is_array_tree(v) for v in kids)


def zeros_like(tree):
    return tree_map(np.zeros_like, tree)


def random_like(tree, rng: np.random.Generator):
    """Standard-normal values shaped and typed like ``tree``'s floating leaves (zeros for others)."""
    def draw(leaf):
        arr = np.asarray(leaf)
        if arr.dtype.kind != "f":
            return np.zeros(arr.shape, arr.dtype)
        return rng.standard_normal(arr.shape).astype(arr.dtype)

    return tree_map(draw, tree)


def size(tree) -> int:
    return sum(np.asarray(leaf).size for leaf in leaves(tree) if leaf is not None)


def tree_equal(a, b) -> bool:
    """Exactly equal: the same structure, shapes, dtypes and values (NaN equal to NaN)."""
    if isinstance(a, Mapping):
        return isinstance(b, Mapping) and a.keys() == b.keys() and all(tree_equal(a[k], b[k]) for k in a)
    if isinstance(a, (tuple, list)):
        return isinstance(b, (tuple, list)) and len(a) == len(b) and all(map(tree_equal, a, b))
    if isinstance(a, np.ndarray):
        return (isinstance(b, np.ndarray) and a.shape == b.shape and a.dtype == b.dtype
                and np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"))
    if isinstance(b, np.ndarray):
        return False
    try:
        return bool(a is b or a == b)
    except Exception:  # objects whose == is not a truth value
        return a is b


def snapshot(tree):
    """A deep copy to compare with later: whatever the checked code writes into ``tree`` shows."""
    return copy.deepcopy(tree)


def shares_memory(a, b) -> list[tuple[tuple, tuple]]:
    """Pairs of (path in a, path in b) whose arrays share memory (one is a view of the other)."""
    found = []
    for pa, la in keyed_leaves(a):
        if not isinstance(la, np.ndarray) or la.size == 0:
            continue
        for pb, lb in keyed_leaves(b):
            if isinstance(lb, np.ndarray) and lb.size and np.shares_memory(la, lb):
                found.append((pa, pb))
    return found


def as_jax(tree):
    """NumPy arrays as JAX arrays, containers kept, everything else as it is."""
    import jax.numpy as jnp

    if isinstance(tree, Mapping):
        return {k: as_jax(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)) and is_array_tree(tree):
        return _rebuild(tree, [as_jax(v) for v in tree])
    if isinstance(tree, np.ndarray):
        return jnp.asarray(tree)
    return tree


def is_jax_array(value) -> bool:
    module = type(value).__module__ or ""
    return module.startswith("jax") or module.startswith("jaxlib")


def to_numpy(tree):
    """JAX arrays as NumPy arrays, containers kept (NamedTuples as NamedTuples)."""
    if isinstance(tree, Mapping):
        return {k: to_numpy(v) for k, v in tree.items()}
    if isinstance(tree, (list, tuple)):
        return _rebuild(tree, [to_numpy(v) for v in tree])
    if is_jax_array(tree):
        return np.asarray(tree)
    return tree
