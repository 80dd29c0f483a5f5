"""Launching a grid: executors (local, SLURM), job records and status."""
