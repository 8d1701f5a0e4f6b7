"""Ingestion: Segment-Spec message shapes, endpoints, validation and import."""
