"""CD Lab: continuous delivery of ML models to Amazon SageMaker, with an offline local cloud."""

__version__ = "0.1.0"
