"""``python -m ecointegrity``: the same command as ``ecointegrity``."""

from .cli import app

app(prog_name="ecointegrity")
