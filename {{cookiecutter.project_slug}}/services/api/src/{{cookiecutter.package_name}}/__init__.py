"""A multi-tenant knowledge base: the reference service of this repository."""
