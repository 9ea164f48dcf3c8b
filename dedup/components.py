"""Connected components of the near-duplicate graph: scipy locally (the reference), min-label rounds on Beam.

A node is any comparable value; the label of a component is its smallest node. Pipelines make the
node ``(no_quality, -quality, id, file index, row)`` so that the smallest node is the document to keep:
highest quality first, then smallest id (then input path and row, so a repeated id stays apart).

Beam algorithm: min-label propagation over a fixed edge list, unrolled for ``rounds`` rounds in one
pipeline. Each node carries its label and its neighbour list; a round sends the label to the
neighbours and keeps the smallest label per node (one CombinePerKey: Beam combines the candidates
before the shuffle, and the neighbour list rides along in the same record). A round holds one node's
neighbours in one place, never a component and never the graph; the edge builder
(pipelines/dedup.py) keeps degrees small by splitting hot buckets. The CombineFn also counts the
nodes whose label changed in the last round: zero means the labels are final (a fixed point);
otherwise the caller runs more rounds from the written labels (an outer loop of pipelines). Rounds
needed = the graph's diameter, which is small for near-duplicate graphs (bucket stars have diameter
<= 4); label propagation was chosen over large-star/small-star because those gather a component's
edges at its smallest node, which is what we must avoid.
"""
from __future__ import annotations

from typing import Any, Hashable, Iterable

import apache_beam as beam
import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def local_components(edges: Iterable[tuple[Hashable, Hashable]], nodes: Iterable[Hashable] = ()) -> dict:
    """node -> smallest node of its component, with scipy.sparse.csgraph (the reference in tests)."""
    edges = list(edges)
    index: dict = {}
    for n in list(nodes) + [x for e in edges for x in e]:
        index.setdefault(n, len(index))
    if not index:
        return {}
    rows = np.fromiter((index[u] for u, _ in edges), dtype=np.int64, count=len(edges))
    cols = np.fromiter((index[v] for _, v in edges), dtype=np.int64, count=len(edges))
    graph = coo_matrix((np.ones(len(edges), dtype=np.int8), (rows, cols)), shape=(len(index), len(index)))
    _, comp = connected_components(graph, directed=False)
    smallest: dict[int, Any] = {}
    for node, i in index.items():
        c = comp[i]
        if c not in smallest or node < smallest[c]:
            smallest[c] = node
    return {node: smallest[comp[i]] for node, i in index.items()}


class _MinLabel(beam.CombineFn):
    """Combines a node's own ('self', label, neighbours) with its neighbours' ('nbr', label) records.

    Output: (smallest label, neighbours, changed). Beam may combine parts before the shuffle, so a
    node with many neighbours never needs all their records in one place.
    """

    def create_accumulator(self):
        return (None, None, ())  # (own label, smallest label, neighbours)

    def add_input(self, acc, item):
        own, best, adj = acc
        label = item[1]
        if item[0] == "self":
            own, adj = label, item[2]
        return own, (label if best is None or label < best else best), adj

    def merge_accumulators(self, accs):
        own, best, adj = None, None, ()
        for o, b, a in accs:
            if o is not None:
                own, adj = o, a
            if b is not None and (best is None or b < best):
                best = b
        return own, best, adj

    def extract_output(self, acc):
        own, best, adj = acc
        return best, adj, own is not None and best != own


def _send(node, state):
    label, adj = state
    yield node, ("self", label, adj)
    for neighbour in adj:
        yield neighbour, ("nbr", label)


def _both_ways(edge):
    u, v = edge
    if u != v:
        yield u, v
        yield v, u


class Adjacency(beam.PTransform):
    """(u, v) edges (undirected, repeats allowed) -> state (node, (label = node, sorted neighbours))."""

    def expand(self, edges):
        return (edges | "BothWays" >> beam.FlatMap(_both_ways)
                | "Group" >> beam.GroupByKey()
                | "Start" >> beam.MapTuple(lambda n, vs: (n, (n, tuple(sorted(set(vs)))))))


class LabelRounds(beam.PTransform):
    """state -> (state, changed): ``rounds`` unrolled min-label rounds, one shuffle each.

    ``state`` is (node, (label, neighbours)) as made by :class:`Adjacency` or by an earlier pass;
    ``changed`` is a one-element PCollection: how many labels the last round changed (0 = converged).
    """

    def __init__(self, rounds: int) -> None:
        super().__init__()
        if rounds < 1:
            raise ValueError(f"'rounds' must be >= 1 (got {rounds})")
        self.rounds = rounds

    def expand(self, state):
        changed = None
        for i in range(self.rounds):
            combined = (state | f"Send{i}" >> beam.FlatMapTuple(_send)
                        | f"Min{i}" >> beam.CombinePerKey(_MinLabel()))
            state = combined | f"State{i}" >> beam.MapTuple(lambda n, out: (n, (out[0], out[1])))
            if i == self.rounds - 1:
                changed = (combined | "Changed" >> beam.MapTuple(lambda n, out: int(out[2]))
                           | "CountChanged" >> beam.CombineGlobally(sum))
        return state, changed
