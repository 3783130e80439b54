"""What follows from a write to a message record, derived from the table's change stream
(docs/lifecycle.md): a `Message Status Changed` event per history entry, the batch counters,
the failure metric. Nothing of it is buffered in the process that wrote the record, so an
invocation that dies right after a transition loses none of it."""
