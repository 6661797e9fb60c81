"""StartPipelineExecution's source revision overrides
(https://docs.aws.amazon.com/codepipeline/latest/userguide/pipelines-trigger-source-overrides.html):
an S3 source action reads the object version ``S3_OBJECT_VERSION_ID`` names instead of the
current one and, if its configuration sets ``AllowOverrideForS3ObjectKey`` to true, the object
``S3_OBJECT_KEY`` names instead of its ``S3ObjectKey``; the two alone or together. Any other
override is refused before the execution starts, saying why (StartPipelineExecution's
ValidationException)."""

from __future__ import annotations

from typing import Any

from cdlab.localcloud.codepipeline.errors import ValidationException

VERSION, KEY = "S3_OBJECT_VERSION_ID", "S3_OBJECT_KEY"
Overrides = dict[str, dict[str, str]]  # source action -> revision type -> value


def source_overrides(pipeline: dict[str, Any], given: list[dict[str, str]]) -> Overrides:
    """The overrides ``given``, by source action, once each is checked against ``pipeline``."""
    sources = {
        action["name"]: action
        for stage in pipeline["stages"]
        for action in stage["actions"]
        if action["actionTypeId"]["category"] == "Source"
    }
    found: Overrides = {}
    for override in given:
        name, kind = override["actionName"], override["revisionType"]
        action = sources.get(name)
        where = f"Source revision override of action '{name}'"
        if action is None:
            raise ValidationException(
                f"{where}: pipeline '{pipeline['name']}' has no source action of that name "
                f"(its source actions: {', '.join(sorted(sources)) or 'none'})."
            )
        provider = action["actionTypeId"]["provider"]
        if provider != "S3" or kind not in (VERSION, KEY):
            raise ValidationException(
                f"{where}: a revision of type {kind} does not apply to a {provider} source "
                f"action (an S3 source action takes {VERSION} and {KEY})."
            )
        allowed = str(action["configuration"].get("AllowOverrideForS3ObjectKey", "")).lower()
        if kind == KEY and allowed != "true":
            raise ValidationException(
                f"{where}: {KEY} needs the action's configuration to set "
                "AllowOverrideForS3ObjectKey to true."
            )
        if kind in found.get(name, {}):
            raise ValidationException(f"{where}: {kind} is given more than once.")
        found.setdefault(name, {})[kind] = override["revisionValue"]
    return found
