"""Arrow token shards: format (schema + validated metadata), writer, memory-mapped reader, mixing.

``shards.open(DIR/<group>)`` reads a group's train split, ``shards.open(DIR/<group>/val)`` its held-out
split; ``shards.groups(DIR)`` lists the groups; ``shards.mix`` draws mixed batches.
"""
from shards.format import FORMAT_VERSION, ShardError, ShardMeta
from shards.reader import ShardSet, groups
from shards.reader import open_set as open  # noqa: A001 - the documented name is shards.open

__all__ = ["FORMAT_VERSION", "ShardError", "ShardMeta", "ShardSet", "groups", "open"]
