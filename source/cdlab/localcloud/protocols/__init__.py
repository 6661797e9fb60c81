"""The AWS wire protocols: ``auth`` (who may talk: loopback Host, SigV4), ``awsjson`` and
``query`` (the JSON and query protocols, driven by botocore's service models), ``errors`` (AWS's
errors as exceptions) and ``envelopes`` (each protocol family's error envelope)."""
