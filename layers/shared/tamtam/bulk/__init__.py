"""Bulk sends, batches, scheduling and cancellation (docs/scheduling.md, docs/bulk.md)."""
