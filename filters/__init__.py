"""Pure functions over document records: extraction, language, heuristics, classifiers.

Nothing here imports Beam. Each filter is a callable ``doc -> Verdict``; the chain runner in
``pipelines.stages`` counts in/out/dropped/failed for all of them.
"""
