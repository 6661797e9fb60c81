"""Where moto's behaviour differs from AWS's, corrected by wrapping moto's own methods
(:mod:`wrapping`): each module here installs its wrappers; ``MotoState`` installs them all."""

from __future__ import annotations

from cdlab.localcloud.moto import (
    alarmstates,
    deregistration,
    eventrules,
    logpages,
    logpatterns,
    metricreads,
    metricrules,
    policysizes,
    s3events,
    s3suspended,
    scalingrules,
    sessioncredentials,
    stsrules,
)

CORRECTIONS = (
    alarmstates,
    deregistration,
    logpages,
    policysizes,
    s3events,
    s3suspended,
    scalingrules,
    metricrules,
    eventrules,
    logpatterns,
    stsrules,
    sessioncredentials,
    metricreads,
)


def install() -> None:
    for correction in CORRECTIONS:
        correction.install()
