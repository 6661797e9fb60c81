"""The local console: a read-only live page of the local cloud, served under ``/_cdlab/console/``
behind a token made at start (``cdlab console`` prints the URL)."""
