"""Documents, the role schema, corpus readers and writers, the registry, and feature encoding."""
