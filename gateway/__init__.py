"""govgate."""
