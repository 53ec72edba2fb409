"""Run folders and benchmark results: raw vLLM JSON in, normalized records and summaries out.

Nothing here knows how a run was started: it reads files and writes files.
"""
