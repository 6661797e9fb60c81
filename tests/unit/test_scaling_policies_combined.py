"""Several target tracking policies on one scalable target combine as Application Auto Scaling
combines them: out if any policy says so, in only if every policy that may scale in says so."""

from __future__ import annotations

from cdlab.localcloud.autoscaling.autoscaler import HOLD, IN, OUT, Vote, decide
from cdlab.localcloud.moto.records import ScalingPolicy

RESOURCE = "endpoint/my-endpoint/variant/model2"


def policy(name: str, **configuration: object) -> ScalingPolicy:
    return ScalingPolicy(f"arn:{name}", name, RESOURCE, {"TargetValue": 50, **configuration})


INVOCATIONS, CPU = policy("invocations"), policy("cpu", ScaleInCooldown=600)


def test_one_policy_asking_to_scale_out_is_enough() -> None:
    chosen = decide([Vote(INVOCATIONS, HOLD, 2), Vote(CPU, OUT, 4, "cpu-high")])
    assert (chosen.policy.policy_name, chosen.desired) == ("cpu", 4)


def test_the_largest_scale_out_wins() -> None:
    chosen = decide([Vote(INVOCATIONS, OUT, 3), Vote(CPU, OUT, 5)])
    assert chosen.desired == 5


def test_no_scale_in_while_one_policy_holds() -> None:
    assert decide([Vote(INVOCATIONS, IN, 1), Vote(CPU, HOLD, 3)]) is None


def test_scale_in_when_all_agree_to_the_largest_count_and_the_longest_cooldown() -> None:
    votes = [Vote(INVOCATIONS, IN, 1), Vote(CPU, IN, 2)]
    chosen = decide(votes)
    assert (chosen.side, chosen.desired) == (IN, 2)
    assert chosen.cooldown(votes) == 600


def test_a_policy_with_scale_in_disabled_has_no_say_in_scale_in() -> None:
    no_in = policy("no-in", DisableScaleIn=True)
    assert decide([Vote(INVOCATIONS, IN, 1), Vote(no_in, HOLD, 3)]).desired == 1
    assert decide([Vote(no_in, IN, 1)]) is None


def test_scale_out_uses_its_own_policys_cooldown() -> None:
    fast = policy("fast", ScaleOutCooldown=30)
    votes = [Vote(fast, OUT, 3), Vote(CPU, HOLD, 2)]
    assert decide(votes).cooldown(votes) == 30


def test_a_suspended_side_does_not_scale() -> None:
    """As AWS advises around an UpdateEndpoint: suspend dynamic scaling, update, resume."""
    out, back_in = [Vote(CPU, OUT, 4)], [Vote(CPU, IN, 1)]
    assert decide(out, ("DynamicScalingOutSuspended",)) is None
    assert decide(back_in, ("DynamicScalingInSuspended",)) is None
    assert decide(out, ("DynamicScalingInSuspended",)).desired == 4
