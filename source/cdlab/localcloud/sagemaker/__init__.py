"""SageMaker, as the local cloud serves it: the control plane (models, endpoint configs, endpoints,
training jobs), the endpoint lifecycle and its deployments, the instance fleet, and the runtime
router that carries InvokeEndpoint to the instances; with the model artifacts and images they run,
and the instances' logs and CPU and memory use."""
