"""Scans as plain functions on tensors (filled in by the ops work)."""
