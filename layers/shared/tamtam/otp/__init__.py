"""One-time codes (design flow 4): generated here, stored only as a keyed hash (HMAC-SHA256
with a pepper from Secrets Manager) beside a KMS-encrypted copy that only the senders can
decrypt, sent through the ordinary transactional pipeline, checked in constant time, counted,
single-use, rate-limited. The plain code exists only in memory: at creation (API) and while
the sender renders the message."""
