"""Datasets in Minari format, D4RL hdf5 files, and the transition and segment views of them."""

from benchmark.data.normalization import StateNormalizer, reward_scale
from benchmark.data.sources import SOURCES, Dataset, DataSpec, ensure_available, load_dataset
from benchmark.data.transitions import SegmentBatch, Segments, Transitions

__all__ = ["SOURCES", "DataSpec", "Dataset", "SegmentBatch", "Segments", "StateNormalizer", "Transitions",
           "ensure_available", "load_dataset", "reward_scale"]
