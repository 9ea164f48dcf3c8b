"""Connected components: the Beam min-label rounds equal scipy's, and convergence is counted honestly."""
import json
import random

import apache_beam as beam
import pytest
from apache_beam.testing.test_pipeline import TestPipeline
from apache_beam.testing.util import assert_that, equal_to

from dedup.components import Adjacency, LabelRounds, local_components


def test_local_components_smallest_node_labels():
    labels = local_components([("b", "c"), ("d", "c"), ("x", "y")], nodes=["z"])
    assert labels == {"b": "b", "c": "b", "d": "b", "x": "x", "y": "x", "z": "z"}
    assert local_components([]) == {}


def _random_graph(seed, n_nodes=200, n_edges=240):
    rng = random.Random(seed)
    nodes = [(rng.randint(0, 1), round(rng.random(), 2), f"id{i:04d}", 0, i) for i in range(n_nodes)]
    edges = [(rng.choice(nodes), rng.choice(nodes)) for _ in range(n_edges)]
    return [(u, v) for u, v in edges if u != v]  # the job never makes a self-loop


def _tuple(x):
    return tuple(_tuple(v) for v in x) if isinstance(x, list) else x


def _run(edges, rounds, passes, tmp_path):
    """Labels and changed-count after ``passes`` pipelines of ``rounds`` rounds (state handed over in files)."""
    state_in = None
    for k in range(passes):
        out = tmp_path / f"pass{k}"
        with TestPipeline() as p:
            if state_in is None:
                state = p | beam.Create(edges) | Adjacency()
            else:
                state = p | beam.Create(state_in)
            state, changed = state | LabelRounds(rounds)
            state | "DumpState" >> beam.Map(json.dumps) | "WS" >> beam.io.WriteToText(str(out / "state"))
            changed | "WC" >> beam.io.WriteToText(str(out / "changed"))
        state_in = [_tuple(json.loads(line)) for f in sorted(out.glob("state*")) for line in f.read_text().splitlines()]
        changed_n = int((next(out.glob("changed*"))).read_text())
    return {n: s[0] for n, s in state_in}, changed_n


@pytest.mark.slow
def test_beam_components_equal_scipy():
    edges = _random_graph(1)
    ref = local_components(edges)
    with TestPipeline() as p:
        state, changed = p | beam.Create(edges) | Adjacency() | LabelRounds(16)
        assert_that(state | beam.MapTuple(lambda n, s: (n, s[0])), equal_to(sorted(ref.items())))
        assert_that(changed, equal_to([0]), label="converged")


@pytest.mark.slow
def test_too_few_rounds_are_counted_and_more_passes_finish(tmp_path):
    path = [((0, 0.0, f"n{i:02d}", 0, i), (0, 0.0, f"n{i + 1:02d}", 0, i + 1)) for i in range(12)]
    labels, changed = _run(path, rounds=3, passes=1, tmp_path=tmp_path / "a")
    assert changed > 0                                   # not converged after 3 rounds on a 13-node path
    assert len(set(labels.values())) > 1
    labels, changed = _run(path, rounds=7, passes=2, tmp_path=tmp_path / "b")     # an outer loop of pipelines from saved state
    assert changed == 0
    assert labels == local_components(path)
