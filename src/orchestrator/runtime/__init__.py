"""Runtimes: where a plan runs, one folder each (docker/, kubernetes/, local/) behind one
interface (base.Runtime), each a row of orchestrator/runtimes.py, loaded by registry.py."""
