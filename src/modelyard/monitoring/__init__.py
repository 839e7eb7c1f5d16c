"""Monitoring: the prediction tables, ground truth, quality (realized and estimated), service
health, drift, and alert rules with their notifiers."""
