"""Tests never touch the network and keep every dataset in a temporary MINARI_DATASETS_PATH."""

import os

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"


@pytest.fixture(scope="session", autouse=True)
def minari_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("minari")
    os.environ["MINARI_DATASETS_PATH"] = str(root)
    return root


@pytest.fixture(scope="session")
def tiny_hopper(minari_root):
    from benchmark.data.tiny import build_tiny_dataset

    return build_tiny_dataset("hopper")
