"""BentoML service over the export folder."""
