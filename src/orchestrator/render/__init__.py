"""Translate a plan into a runtime's own terms; never talks to an engine or a cluster."""
