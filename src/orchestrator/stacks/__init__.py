"""Stacks: what runs on a runtime (bench now; train later), driven through the interface."""
