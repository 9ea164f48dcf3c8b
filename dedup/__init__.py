"""MinHash near-duplicate detection: signatures, LSH bands, connected components (local and on Beam).

``minhash`` and ``lsh`` are plain functions over text and numpy arrays (no Beam import), so they can be
tested and benchmarked alone; ``components`` holds the scipy reference and the Beam rounds.
"""
