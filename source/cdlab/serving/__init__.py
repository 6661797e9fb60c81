"""Serving: the processes behind a local endpoint's instances."""
