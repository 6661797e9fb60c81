"""Factorization machines: the model the pipeline delivers (artifact, inference, training)."""
