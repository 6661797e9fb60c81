"""The pipeline's build and test steps, behind the deck's scripts in ``source/``."""
