"""Lab 3's pipeline: ``cloudformation/pipeline.yml`` deployed and run through the AWS API.

The client side, ``cdlab pipeline run`` and ``approve``, one job a module: ``stack`` (the
pipeline stack deployed as ``aws cloudformation deploy`` does), ``source`` (the commit's
archive), ``execution`` (the execution an upload started, followed with GetPipelineState),
``actionlogs`` (each action's log: a build's from CloudWatch Logs), ``approval``
(PutApprovalResult), ``progress`` (the display), ``summary`` (the end of a run) and ``runner``
(the steps in order). ``definition`` holds what the modules share; the other modules are the
local cloud's engine's (the buildspec runner, the artifact store, the deploy action, the roles).
"""
