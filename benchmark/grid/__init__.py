"""What to run: suites, methods, profiles, the hyperparameter table and its overrides, one run's spec and its cost."""
