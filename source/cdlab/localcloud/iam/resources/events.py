"""EventBridge's rules: ``arn:aws:events:REGION:ACCOUNT:rule/NAME`` on the default event bus,
``rule/BUS/NAME`` on another
(https://docs.aws.amazon.com/service-authorization/latest/reference/list_amazoneventbridge.html)."""

from __future__ import annotations

from cdlab.localcloud.iam.resources.builders import Builder, Params, Scope, given, members


def _rule(member: str) -> Builder:
    def build(params: Params, scope: Scope) -> list[str]:
        [bus] = members(params, "EventBusName")[:1] or ["default"]
        on_bus = "" if bus == "default" else f"{bus.rsplit('/', 1)[-1]}/"
        return [
            f"arn:aws:events:{scope.region}:{scope.account}:rule/{on_bus}{name}"
            for name in members(params, member)
        ]

    return build


EVENTS: dict[str, Builder] = {
    **dict.fromkeys(
        ("PutRule", "DescribeRule", "DeleteRule", "EnableRule", "DisableRule"), _rule("Name")
    ),
    **dict.fromkeys(("PutTargets", "RemoveTargets", "ListTargetsByRule"), _rule("Rule")),
    **dict.fromkeys(("TagResource", "UntagResource", "ListTagsForResource"), given("ResourceARN")),
}
