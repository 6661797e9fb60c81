"""Moto, in-process: the services the kit does not emulate itself (S3, IAM, STS, CloudWatch
storage, Logs, Glue, Application Auto Scaling storage ...), reached through one bridge.

Modules, one job each: ``thread`` (moto's one thread, which every use of moto runs on),
``bridge`` (moto's wire API, called in-process), ``logfilter`` (FilterLogEvents'
``logStreamNamePrefix``, which moto ignores, and ``interleaved``, as the bridge serves it),
``s3notification`` (a bucket's EventBridge setting, which moto leaves out of
GetBucketNotificationConfiguration), ``listings`` (DescribeAlarms, DescribeScalableTargets and
DescribeScalingPolicies, which moto does not page or filter as AWS does, paged over moto's whole
answer), ``state`` (the kit's own
reads and writes of moto's backends; the only module that imports them, and hands them over on
moto's thread), ``records`` (the plain records ``state`` returns), ``metricdata`` (the scan of
clients' metric datapoints that ``state`` runs on the backend it hands over), ``evaluable``
(the alarms the evaluation reads, from the backend ``state`` hands over, those it cannot
evaluate left out and logged), ``policyalarms``
(a target tracking policy's alarms, put and found stale on the backends ``state`` hands over),
``alarmstates`` (a new alarm's first state and an updated one's kept state, which moto makes
``OK``), ``deregistration`` (a deregistered scalable target's policies and scheduled actions,
which moto keeps), ``scalingrules`` (what Application Auto Scaling refuses and moto accepted: a
policy or scheduled action on a target not registered, a new target without its capacities, a
malformed resource id, a new policy without its configuration, a predefined metric type its
target does not take, a target tracking configuration naming no metric, a resource label on a
type that takes none, deleting what does not exist), ``metrictypes`` (which metric a target
tracking configuration may name for each scalable dimension), ``scalingerrors`` (the codes and
words those refuse with), ``policysizes`` (IAM's quotas on a policy document's size, which
moto does not check),
``s3events`` (which of S3's events moto sends to EventBridge, and from when), ``s3suspended``
(PutObject and DeleteObject in a bucket whose versioning is suspended, which in moto drop the
key's other versions), ``metricrules``
(what CloudWatch refuses in PutMetricAlarm and PutMetricData beyond botocore's model, which moto
keeps, a client's datapoints in a namespace reserved for AWS's services included),
``logpages`` (GetLogEvents' pages: at most 1 MB or 10,000
events and an empty page at a long pause, where moto's have no size cap and none is empty),
``eventrules`` (what EventBridge refuses in a rule's pattern and targets, which moto
accepted, and TestEventPattern, a stub in moto), ``eventpatterns`` (the patterns Event Ruler
refuses, in its words), ``logpatterns`` (FilterLogEvents' ``filterPattern`` terms as CloudWatch
Logs evaluates them, and the syntax the local cloud does not evaluate refused),
``stsrules`` (what STS refuses in AssumeRole and moto accepts: a DurationSeconds over the role's
MaxSessionDuration or, chained, over an hour, an inline session policy over 2,048 characters; and
the PolicyArns moto drops, kept with the session), ``sessioncredentials`` (a role session's key,
secret, token and expiration, the same at every replay of its AssumeRole), ``metricreads``
(GetMetricStatistics, GetMetricData and ListMetrics as CloudWatch answers them: the metric of
exactly the dimensions asked, each metric listed once, StartTime rounded, at most 1,440 datapoints,
the query rules moto did not apply) with ``metricstats`` (CloudWatch's statistics by name, and
percentiles, which moto does not compute), ``corrections`` (installs all of those corrections),
``wrapping`` (how a correction wraps moto's methods, each once),
``s3versions`` and ``s3settings`` (a bucket's object versions and its settings, read out of moto
and put back for the disk mirror), ``eventbridge`` (what S3's EventBridge notifications read of
moto's state), ``implemented`` (whether moto implements an operation), ``replayable`` (the kit's
own changes to moto's backends that the journal replays) and ``statistics``
(GetMetricStatistics in-process, for the local console).
"""
