"""The request contract of the send doors: what `POST /v1/messages` and `POST /v1/messages/bulk`
take (functions/api) and what an ingest request carries (tamtam.ingest), in one place.

- `base`: `LazyModel`, the base of every request and answer model (built on first use);
- `fields`: the checked field types (phone number, provider, callback URL, reference);
- `bodies`: `SendMessageIn`, `BulkSendIn` and the bulk's `Recipient` / `GroupTarget`;
- `violations`: pydantic's validation errors mapped to the stable codes both doors answer.
"""
