"""Bulk downloads: durable export jobs that write split result files, with progress, cancel and credits."""
