"""Budbringer core: settings, errors, domain, ports, carrier tools, ETA model.

Imports none of the other top-level packages (DESIGN §1).
"""
