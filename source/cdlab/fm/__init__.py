"""Factorization machines: the model the pipeline delivers (artifact, inference, training), and
the two containers that run it: `train_container` (a training job) and `serve_container` (an
endpoint instance)."""
