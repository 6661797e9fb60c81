"""Local CloudFormation: stacks of the lab's resource types, over the AWS query protocol.

Modules, one job each:

- ``template``: reading a template, its parameter values, its evaluation for one stack;
  ``validation``: checking its form; ``graph``: what its values refer to, the creation order;
  ``intrinsics``: Ref, Fn::Sub, Fn::GetAtt ...
- ``resources/``: what each resource type does (``base``, ``sagemaker``, ``moto_backed`` and
  ``moto_calls``, ``s3``, ``iam``, ``glue``, ``events``, ``codebuild``, ``codepipeline``).
- ``changes``: in place or replacement; a change set's Changes.
- ``engine/``: the stack operations and rollbacks, in the background (``steps``, ``creating``,
  ``updating``, ``rollback``, ``triggers``, ``restart``).
- ``policy``: stack policies; ``stacks``: stacks, their termination protection, events and change
  sets in the Store.
- ``provider/``: the API operations (``inputs``, ``submission``, ``stack_operations``,
  ``change_set_operations``, ``read_operations``).

The wire protocol is :mod:`protocols.query`, from botocore's shapes.

Where the local cloud differs from CloudFormation, on purpose:

- A resource type the local cloud does not provide is refused when the template is submitted
  (CreateStack, UpdateStack, CreateChangeSet), with CloudFormation's "Unrecognized resource
  types: [...]" error naming it, as CloudFormation refuses a type it does not know. No stack is
  created or changed. ValidateTemplate checks the form only, so ``pipeline.yml`` validates.
- Resources are created one at a time in dependency order, not in parallel.
- ExecuteChangeSet answers when the operation settles (at most 20 s), because ``aws
  cloudformation deploy`` waits 30 s between polls whatever the waiter model says.
- A failed update always rolls back (DisableRollback is refused for updates).
- Rollback triggers are metric alarms only (composite alarms do not exist locally), checked
  between resources and through the monitoring time (``engine/triggers.py``).
"""

from cdlab.localcloud.cloudformation.provider import CloudFormation

__all__ = ["CloudFormation"]
