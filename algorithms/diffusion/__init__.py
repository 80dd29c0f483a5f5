"""Diffusion building blocks shared by the diffusion world model and Decision Diffuser."""
