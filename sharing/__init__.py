"""Sharing between tenants: agreements by which one organisation shows some of its areas' crowd picture to
another, and the reads of that shared picture. Tenants are sealed by default; this app is the only way one
tenant's data reaches another, always through an accepted agreement that is valid now, audited on both
sides. Uses tenants, sources, areas and incidents."""
