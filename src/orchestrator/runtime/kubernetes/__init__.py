"""The Kubernetes runtime: the chart's objects applied server-side, pods watched and triaged."""
