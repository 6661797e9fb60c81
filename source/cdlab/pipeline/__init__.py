"""The local pipeline runner: ``cloudformation/pipeline.yml`` run stage by stage on this machine.

Modules, one job each: ``definition`` (pipeline.yml read with the local cloud's template loader,
resolved with local names), ``provision`` (the pipeline stack's resources and roles),
``roles`` (each action's role session), ``artifacts`` (the artifact store in S3), ``source``
(a clean export of the git commit, and the S3 source action), the builds with
:mod:`cdlab.localcloud.codebuild`'s buildspec runner and log, ``deploy`` (the
CloudFormation actions), ``approval`` (the manual approval), ``resume`` (a waiting run going on
once approved), ``progress`` (the display) and ``runner`` (the stages in order, and the summary).
"""
