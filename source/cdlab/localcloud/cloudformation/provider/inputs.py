"""What a request gives besides its parameters: its template, inline or as the URL of an object in
the local cloud's S3, read and checked; and its stack policies, inline or by URL.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from cdlab.localcloud.cloudformation import policy, template, validation
from cdlab.localcloud.cloudformation.resources import PROVIDED
from cdlab.localcloud.moto.state import MotoState
from cdlab.localcloud.protocols.errors import ValidationError
from cdlab.localcloud.sagemaker import artifacts


class Documents:
    """The S3 objects a request's TemplateURL and StackPolicy*URL members name, read on moto's
    thread before the request is served, so that serving it never waits; a read that failed is
    raised where its member is used, as if it were read there."""

    URL_MEMBERS = ("TemplateURL", "StackPolicyURL", "StackPolicyDuringUpdateURL")

    def __init__(self, found: dict[str, str | ValidationError]) -> None:
        self.found = found

    @classmethod
    async def of(cls, moto: MotoState, p: dict[str, Any]) -> Documents:
        found: dict[str, str | ValidationError] = {}
        for url in {p[member] for member in cls.URL_MEMBERS if p.get(member)}:
            try:
                found[url] = await _s3_text(moto, url)
            except ValidationError as e:
                found[url] = e
        return cls(found)

    def text(self, url: str) -> str:
        found = self.found[url]
        if isinstance(found, ValidationError):
            raise found
        return found


def template_body(p: dict[str, Any], documents: Documents, *, single: bool = True) -> str:
    """TemplateBody, or the object TemplateURL names in the local cloud's S3.

    CreateStack, UpdateStack and CreateChangeSet take one or the other: "You must specify either
    the TemplateBody or the TemplateURL parameter, but not both" (CreateStack,
    https://docs.rs/aws-sdk-cloudformation/0.28.0/aws_sdk_cloudformation/operation/create_stack/struct.CreateStackInput.html;
    UpdateStack and CreateChangeSet say so too,
    https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/cloudformation/aws.sdk.kotlin.services.cloudformation.model/-update-stack-request/-builder/template-body.html,
    https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/cloudformation/aws.sdk.kotlin.services.cloudformation.model/-create-change-set-request/template-body.html),
    and AWS refuses both with "You cannot specify both Template URL and Template Body."
    (https://github.com/hashicorp/terraform/issues/4534). ValidateTemplate and
    GetTemplateSummary (``single=False``) use TemplateBody when both are given: "If both are
    passed, only TemplateBody is used" (ValidateTemplate,
    https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/cloudformation/aws.sdk.kotlin.services.cloudformation.model/-validate-template-request/template-body.html;
    GetTemplateSummary takes only one, but how AWS words the refusal is not confirmed).
    Neither is refused with "Either Template URL or Template Body must be specified."
    (https://github.com/aws/aws-sdk-js/issues/864)."""
    if single and p.get("TemplateBody") and p.get("TemplateURL"):
        raise ValidationError("You cannot specify both Template URL and Template Body.")
    if p.get("TemplateBody"):
        return p["TemplateBody"]
    if not p.get("TemplateURL"):
        raise ValidationError("Either Template URL or Template Body must be specified.")
    return documents.text(p["TemplateURL"])


def requested_policy(
    p: dict[str, Any], documents: Documents, prefix: str = "StackPolicy"
) -> dict[str, Any] | None:
    """The stack policy a request gives as ``<prefix>Body`` or ``<prefix>URL``, if any."""
    if p.get(f"{prefix}Body"):
        return policy.parse(p[f"{prefix}Body"])
    if p.get(f"{prefix}URL"):
        return policy.parse(documents.text(p[f"{prefix}URL"]))
    return None


async def _s3_text(moto: MotoState, url: str) -> str:
    """An S3 object's text, named by an s3:// or an https (virtual-host or path-style) URL."""
    parsed = urlparse(url)
    host, path = parsed.hostname or "", parsed.path.lstrip("/")
    if parsed.scheme == "s3":
        bucket, key = host, path
    elif ".s3" in host:
        bucket, key = host.split(".s3", 1)[0], path
    else:
        bucket, _, key = path.partition("/")
    try:
        bucket, key = artifacts.split_s3_url(f"s3://{bucket}/{key}")
    except artifacts.ArtifactError as e:
        raise ValidationError(f"{url} is not a supported S3 URL: {e}") from None
    data = await moto.run(moto.s3_get, bucket, key)
    if data is None:
        raise ValidationError(f"The URL must reference a valid S3 object: {url} was not found.")
    return data.decode("utf-8", "replace")


def checked(body: str, *, provided_only: bool = True) -> dict[str, Any]:
    """The template read and checked; ``provided_only`` also refuses the resource types the local
    cloud does not provide."""
    parsed = template.load(body)
    validation.check(parsed, PROVIDED if provided_only else None)
    return parsed
