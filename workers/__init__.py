"""RQ jobs, queues and the worker entry point. Jobs take ids and plain values."""
