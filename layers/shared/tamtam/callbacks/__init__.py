"""Status callbacks: every status change of a message POSTed, signed, to the tenant's webhook
endpoints and to the message's own `callback_url` (README "Status callbacks").

The lifecycle function derives the events from the table's change stream and puts one SQS
message per (event, receiver) on the `callbacks` queue (tamtam.callbacks.enqueue); the callbacks
function POSTs them (tamtam.callbacks.delivery), retrying with exponential backoff through the
same queue for at least 24 hours, then dead-letters them. Sending never waits on a receiver.
"""
