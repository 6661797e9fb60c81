"""The AWS wire protocols: who may talk (loopback Host, SigV4), the JSON protocols and the query
protocol driven by botocore's service models, and AWS's errors with their envelopes."""
