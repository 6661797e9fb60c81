"""Moto, in-process: the services the kit does not emulate itself (S3, IAM, STS, CloudWatch
storage, Logs, Glue, Application Auto Scaling storage ...), reached through one bridge."""
