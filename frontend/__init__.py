"""Pages: log-in, the tenant switcher and tenant pages (operator, onboarding, public)."""
