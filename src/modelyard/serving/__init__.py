"""Serving: deployments (the control plane) and the inference server (the data plane)."""
