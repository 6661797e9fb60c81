"""The local pipeline runner: ``cloudformation/pipeline.yml`` run stage by stage on this machine.

Modules, one job each: ``definition`` (pipeline.yml read with the local cloud's template loader,
resolved with local names), ``provision`` (the pipeline stack's resources the jobs use),
``source`` (a clean export of the git commit), ``codebuild`` (buildspec phases as processes),
``pipshim`` (the install phase's ``pip3 install .`` without reinstalling), ``deploy`` (the
CloudFormation actions), ``approval`` (the manual approval), ``resume`` (a waiting run going on
once approved), ``progress`` (the display) and ``runner`` (the stages in order, and the summary).
"""
