"""CodeBuild in the local cloud: projects, and builds that really run their buildspecs.

Modules, one job each: ``provider`` (the API operations), ``projects`` (a project's checks and
its document), ``records`` (builds in the Store: phases, statuses), ``worker`` (one build, on a
worker thread, as the project's service role: source, phases, artifacts), ``supervisor`` (the
builds' threads: start, stop, timeout, restart), ``buildspec`` (the phases and their commands),
``shell`` (the shell the commands run in), ``reaper`` (what ends the shell's process group when
the local cloud dies), ``buildlogs`` (where a build logs, and its log
stream), ``pipshim`` (``pip3 install .`` without reinstalling).
The provider is imported from its module (``operations``), so that ``buildspec`` stays light.
"""
