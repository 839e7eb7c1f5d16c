"""Access control: users, teams, API tokens, roles granted on objects, and the audit log."""
