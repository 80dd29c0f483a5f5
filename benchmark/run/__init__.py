"""Running one job: the pipelines that build or reuse shared models, the training loop, its log and checkpoints."""
