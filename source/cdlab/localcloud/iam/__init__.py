"""IAM in the local cloud: who signs a request, and what their policies let them do."""
