"""Alembic environment of the React-2-EO database (see ``ecointegrity.web.store.Store.upgrade``).

A package so that it ships inside the wheel; Alembic loads ``env.py`` and ``versions/*.py`` by
path, never by importing this package.
"""
