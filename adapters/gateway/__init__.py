"""The HTTP push gateway: department systems send records as they happen.

A request carries one record or a batch of one event family. The gateway
checks who sent it (a bearer token or an HMAC-signed request), what the
sender may write (its regions and departments) and how fast (a token bucket
per sender), then hands the records to the same ingest pipeline as the file
source and returns the outcome of each record. When the bus falls
behind, it rejects new work with 429 or 503 and ``Retry-After`` instead of
queueing without bound.
"""
