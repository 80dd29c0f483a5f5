"""Ablation studies, each launched through the benchmark harness (horizon, data volume, IDM accuracy)."""
