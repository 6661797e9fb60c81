"""Application Auto Scaling's target tracking, acting on SageMaker variants: reads the targets
and policies moto keeps, decides from the endpoint metrics, changes instance counts, and records
the scaling activities."""
