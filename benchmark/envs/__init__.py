"""Environments: the task catalogue and its score constants, policy evaluation, the MuJoCo oracle and
termination rules."""
