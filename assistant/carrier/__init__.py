"""The carrier domain: seed format, rules, the embedded simulator, stores and the HTTP adapter."""
