"""Human handoff: triggers, the agents' summary, business hours and the persistent queue."""
