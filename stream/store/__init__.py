"""The stored records and their keys, the table stores (warm memory standbys, RocksDB keyed by
partition) and partition ownership from the rebalance hooks."""
