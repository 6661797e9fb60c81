"""IAM in the local cloud: who signed a request, what it asks to do, and whether the caller's
policies allow it, as AWS decides.

- ``policy``: AWS's policy evaluation logic, pure: policy documents parsed and compiled once,
  then a request (principal, action, resources, condition context) evaluated against the
  caller's identity-based policies and the resource's resource-based policy (an S3 bucket
  policy, a role's trust policy).
- ``principals``: the principal behind a request's credentials (the kit's key, an IAM user's
  key, an assumed-role session) and its secret, session token and expiry.
- ``wire``: the (service, operation, members) of a request as it arrives, for every protocol.
- ``requests``: the mapping of an API call to what ``policy`` evaluates: its IAM action, the ARNs
  of the resources it touches (``resources``; S3's actions in ``s3``), its condition context
  keys, and the extra checks such as iam:PassRole.
- ``enforcer``: the decision on a call, with the policies of users, roles (their trust policies
  too) and buckets kept; the gateway's check (``protocols.enforcement``) asks it.
- ``service_roles``: services acting as their roles (a training job, an endpoint's instances, a
  stack), decided by the same enforcer as sessions of those roles.
"""
