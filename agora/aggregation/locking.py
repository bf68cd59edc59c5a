"""The search behind ranked pairs (:func:`agora.aggregation.rules.ranked_pairs`): locking pairs in order of margin
over a graph kept as reachability bitmasks, and finding the winners over every order of equal-margin pairs within a
bounded amount of work.

A locked graph is kept as its reachability: reach[x] is a bitmask of the candidates x has a locked path to (x
itself included). Locking (a, b) closes a cycle iff b reaches a, and adds nothing iff a already reaches b: such a
pair is *decided*; the others are *open*.
"""

from __future__ import annotations

from collections.abc import Sequence

RANKED_PAIRS_SEARCH_LIMIT = 1_000_000
"""The work ranked pairs may spend searching for its winners over every order of equal margins, in steps of about
one bitmask operation (a locked graph of n candidates costs about n^2 per candidate still in question): at most a
few tenths of a second."""

Pairs = list[tuple[int, int]]


def _margin_key(value: float) -> float:
    """Margins equal to 9 decimals count as equal (weighted margins are sums of floats)."""
    return round(value, 9) + 0.0


def _ranked_pairs_order(m: list[list[float]]) -> list[Pairs]:
    """The majorities (i, j) with ``m[i][j] > 0``, in groups of equal margin from the largest down, each group in the
    tie-breaking order (see :func:`ranked_pairs`)."""
    n = len(m)
    net = [_margin_key(sum(row)) for row in m]
    position = [0] * n
    for place, i in enumerate(sorted(range(n), key=lambda i: (-net[i], i))):
        position[i] = place
    pairs = [(i, j) for i in range(n) for j in range(n) if i != j and m[i][j] > 0]
    pairs.sort(key=lambda e: (-_margin_key(m[e[0]][e[1]]), position[e[0]], -position[e[1]]))
    groups: list[Pairs] = []
    last = None
    for i, j in pairs:
        key = _margin_key(m[i][j])
        if key != last:
            groups.append([])
            last = key
        groups[-1].append((i, j))
    return groups


def _lock(reach: list[int], a: int, b: int) -> None:
    bit, gained = 1 << a, reach[b]
    for x, r in enumerate(reach):
        if r & bit:
            reach[x] = r | gained


def _is_open(reach: Sequence[int], a: int, b: int) -> bool:
    return not (reach[b] >> a & 1 or reach[a] >> b & 1)


def _unbeaten(reach: Sequence[int]) -> int:
    beaten = 0
    for x, r in enumerate(reach):
        beaten |= r & ~(1 << x)
    return ((1 << len(reach)) - 1) & ~beaten


def _lock_in_order(n: int, groups: list[Pairs]) -> list[int]:
    reach = [1 << i for i in range(n)]
    for group in groups:
        for a, b in group:
            if _is_open(reach, a, b):
                _lock(reach, a, b)
    return reach


def _lock_for(x: int, n: int, groups: list[Pairs]) -> int:
    """Lock in with an order of equal margins chosen to keep ``x`` unbeaten: in each group, first (until none is
    left) the open pairs from candidates x reaches, then the others, pairs against x last. Returns the unbeaten
    candidates (0 as soon as x is beaten). A heuristic: it finds most winners at once, the search the rest."""
    reach = [1 << i for i in range(n)]
    for group in groups:
        todo = [(a, b) for a, b in group if _is_open(reach, a, b)]
        while todo:
            rest = []
            for a, b in todo:
                if not _is_open(reach, a, b):
                    continue
                if b != x and reach[x] >> a & 1:
                    _lock(reach, a, b)
                else:
                    rest.append((a, b))
            if len(rest) == len(todo):
                break
            todo = rest
        for a, b in todo:
            if b != x and _is_open(reach, a, b):
                _lock(reach, a, b)
        for a, b in todo:
            if b == x and _is_open(reach, a, b):
                return 0
    return _unbeaten(reach)


def _must_lose(x: int, reach: Sequence[int], g: int, out: list[list[int]], into: list[list[int]]) -> bool:
    """Whether ``x`` is sure to be beaten from this point of the lock-in (group ``g`` on): some pair y over x, of
    group h, can be skipped only if x then reaches y, and no chain of locked pairs and pairs of groups g to h leads
    from x to y. ``out[h][a]``, ``into[h][b]``: bitmasks of group h's pairs from a, into b."""
    n = len(reach)
    adjacent = list(reach)
    reached = reach[x]
    for h in range(g, len(out)):
        for a in range(n):
            adjacent[a] |= out[h][a]
        grown = True
        while grown:
            grown = False
            for y in range(n):
                if reached >> y & 1 and adjacent[y] & ~reached:
                    reached |= adjacent[y]
                    grown = True
        if into[h][x] & ~reached:
            return True
    return False


def _winners_over_all_orders(n: int, groups: list[Pairs], known: int, hopeful: int, limit: int) -> int | None:
    """The candidates unbeaten in the final locked graph of some order of the equal-margin pairs, as a bitmask, or
    None when finding them would take more than ``limit`` steps (each locked graph examined costs about n^2).

    ``known``: winners found already; ``hopeful``: every candidate that may win. Depth-first over (group, locked
    graph), each met once. Within a group only the order of its open pairs matters: an open pair on no cycle of
    the locked graph with the group's open pairs locks in every order; for the rest, each in turn is locked first.
    A graph is not explored further when every unbeaten hopeful candidate is known or sure to lose
    (:func:`_must_lose`): a beaten candidate stays beaten.
    """
    out = [[0] * n for _ in groups]
    into = [[0] * n for _ in groups]
    for h, group in enumerate(groups):
        for a, b in group:
            out[h][a] |= 1 << b
            into[h][b] |= 1 << a
    seen: set[tuple[int, tuple[int, ...]]] = set()
    stack = [(0, tuple(1 << i for i in range(n)))]
    work = 0
    while stack:
        g, reach = stack.pop()
        if (g, reach) in seen:
            continue
        seen.add((g, reach))
        wanted = _unbeaten(reach) & hopeful & ~known
        if not wanted:
            continue
        if g == len(groups):
            known |= _unbeaten(reach)
            continue
        open_pairs = [(a, b) for a, b in groups[g] if _is_open(reach, a, b)]
        if not open_pairs:
            stack.append((g + 1, reach))
            continue
        work += n * n * (1 + bin(wanted).count("1"))
        if work > limit:
            return None
        for x in range(n):
            if wanted >> x & 1 and _must_lose(x, reach, g, out, into):
                wanted &= ~(1 << x)
        if not wanted:
            continue
        near = list(reach)  # locked paths and the group's open pairs: what can still be reached in the group
        for a, b in open_pairs:
            near[a] |= 1 << b
        for k in range(n):
            bit, through = 1 << k, near[k]
            for y in range(n):
                if near[y] & bit:
                    near[y] |= through
        cyclic = [(a, b) for a, b in open_pairs if near[b] >> a & 1]
        certain = list(reach)
        for a, b in open_pairs:
            if not near[b] >> a & 1 and _is_open(certain, a, b):
                _lock(certain, a, b)
        if not cyclic:
            stack.append((g + 1, tuple(certain)))
            continue
        for a, b in sorted(cyclic, key=lambda e: bool(wanted >> e[1] & 1), reverse=True):
            first = list(certain)  # pairs against a wanted candidate are pushed first, so tried last
            if _is_open(first, a, b):
                _lock(first, a, b)
            stack.append((g, tuple(first)))
    return known
