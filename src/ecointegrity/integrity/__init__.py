"""ecointegrity.integrity: see README.md (architecture); its public API is listed in `__all__`."""

__all__: list[str] = []
