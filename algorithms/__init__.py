"""Offline RL agents, their networks and the shared replay buffer."""
