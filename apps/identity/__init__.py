"""Identity and tenancy: domains, projects, users, roles, tokens and policy (Keystone v3 subset)."""
