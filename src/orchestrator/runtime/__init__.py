"""Runtimes: where a plan runs, one folder each (docker/, kubernetes/, local/) behind one
interface (base.Runtime), found through one registry (registry.py)."""
