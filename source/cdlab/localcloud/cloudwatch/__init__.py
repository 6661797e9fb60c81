"""CloudWatch for the local cloud's own resources: the endpoint metrics the router and the
instances emit, the alarms evaluated on them, and the telemetry loop that publishes both (and
ships instance logs) once per scaled minute."""
