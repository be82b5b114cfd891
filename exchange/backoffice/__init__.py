"""The back office: staff roles, queues, market control, adjustments, exports, audit."""
