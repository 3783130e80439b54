"""tamtam: the code every function shares (settings, storage, queues, providers, rules)."""
