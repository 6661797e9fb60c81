"""IAM enforcement in the local cloud (issue 13)."""
