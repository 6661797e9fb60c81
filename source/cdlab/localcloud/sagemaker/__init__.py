"""SageMaker, as the local cloud serves it: the operations on models, endpoint configs, endpoints
and training jobs; the endpoints' lifecycle and their blue/green updates; the instance launcher;
and the runtime router that carries InvokeEndpoint to the instances; with the model artifacts and
images they run, and the instances' logs and CPU and memory use."""
