"""Harness of the suite: tasks, data, evaluation, profiles, the launcher, result files and reports."""
