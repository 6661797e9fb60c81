"""The local cloud: an offline, loopback-only, SageMaker-compatible server.

``server`` is the gateway (one port, every AWS wire protocol); ``control`` starts, stops and
locates it; ``context`` holds a request's account, region, caller and request id. The rest is
one folder per job: ``protocols`` (auth, JSON and query protocols, errors and their envelopes),
``sagemaker``, ``cloudformation``, ``cloudwatch``, ``autoscaling``, ``codebuild`` and
``codepipeline`` (Lab 3's services), ``iam`` (who a request is, and what IAM allows it),
``console`` (the local console's pages), ``moto`` (the services moto serves) and ``state`` (what
survives a restart).
"""
