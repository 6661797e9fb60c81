"""The local cloud: an offline, loopback-only, SageMaker-compatible server."""
