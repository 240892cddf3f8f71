"""Pages: log-in, the tenant switcher and tenant pages (operator dashboard, settings, onboarding, public
page, register), their templates, translations and static assets. Uses every domain app; none uses it."""
