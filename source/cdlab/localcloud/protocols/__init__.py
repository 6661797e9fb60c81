"""The AWS wire protocols: ``auth`` (who may talk: loopback Host, SigV4) with ``signatures``
(SigV4 recomputed) and ``enforcement`` (IAM's check of each request), ``awsjson``, ``rpcv2cbor``
and ``query`` (the JSON, Smithy RPC v2 CBOR and query protocols, driven by botocore's service
models), ``modelcheck`` (moto's requests held to those models first), ``codecs`` (the
kit's own operations served in awsJson 1.1 or RPC v2 CBOR),
``paging`` (the kit's List and Describe pages), ``errors`` (AWS's errors as exceptions) and
``envelopes`` (each protocol family's error envelope)."""
