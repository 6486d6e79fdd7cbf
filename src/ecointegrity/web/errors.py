"""The API's typed errors and the one table that turns them into HTTP answers.

Routes and the renderer raise these errors and never build HTTP errors themselves;
:func:`add_exception_handlers` installs, once, a handler per entry of
:data:`DEFAULT_STATUS_CODES` that answers ``{"detail": message}``. Every message says what
exists or what to do. Nothing internal (stack traces, paths) reaches a client: anything else
is logged and answered as a plain 500.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.types import ExceptionHandler

from ..cube import NoDataError
from .store import UnknownAnimation

__all__ = [
    "DEFAULT_STATUS_CODES",
    "ApiError",
    "InvalidRequest",
    "NotFound",
    "Problem",
    "RateLimited",
    "RenderError",
    "ServerBusy",
    "UnknownBand",
    "UnknownProduct",
    "UnknownYear",
    "UnreadableData",
    "WmsError",
    "add_exception_handlers",
]

log = logging.getLogger("ecointegrity.web")


class Problem(BaseModel):
    """An error: a message, or the list of invalid inputs (location and message)."""

    detail: str | list[dict[str, Any]]


class ApiError(Exception):
    """Base class of the errors the API answers with a 4xx (see ``DEFAULT_STATUS_CODES``).

    ``headers`` are sent with the answer (``Retry-After`` for rate limits).
    """

    headers: Mapping[str, str] | None = None


class RenderError(ApiError):
    """Base class of the renderer's errors."""


class UnknownProduct(RenderError, LookupError):
    """No product of that name in the catalog (HTTP 404)."""

    def __init__(self, product: str, known: Sequence[str]):
        self.product, self.known = product, list(known)
        super().__init__(
            f"unknown product {product!r}; products: {', '.join(self.known) or 'none'} "
            "(GET /api/products lists them)"
        )


class UnknownYear(RenderError, LookupError):
    """The product has no data for that year (HTTP 404: a tile of a year that does not exist)."""

    def __init__(self, product: str, year: int, available: Sequence[int]):
        self.product, self.year, self.available = product, year, list(available)
        super().__init__(
            f"{product} has no data for {year}; years available: "
            f"{', '.join(map(str, self.available)) or 'none'}"
        )


class UnknownBand(RenderError, LookupError):
    """The product has no band (or composite) of that name (HTTP 404 for a tile)."""

    def __init__(self, product: str, band: str, available: Sequence[str]):
        self.product, self.band, self.available = product, band, list(available)
        super().__init__(
            f"{product} has no band {band!r}; use one of: {', '.join(self.available)} "
            "(or leave the band out for the default)"
        )


class InvalidRequest(RenderError, ValueError):
    """A malformed or too large request: tile index, bbox, size, format, limits (HTTP 422)."""


class UnreadableData(RenderError):
    """A data file of a product-year cannot be read (missing or corrupt): HTTP 500.

    The message names the product and year, never the file; the renderer logs the file once.
    Other years, and places the file does not cover, are still served.
    """

    def __init__(self, product: str, year: int):
        self.product, self.year = product, year
        super().__init__(
            f"{product} {year}: a data file of this product and year cannot be read; the "
            "operators have been told (other years and areas are not affected)"
        )


class ServerBusy(RenderError):
    """Every read slot stayed busy past the wait: HTTP 503 with ``Retry-After``."""

    def __init__(self, retry_after: int):
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}
        super().__init__(f"the server is busy drawing other maps; retry in {retry_after} s")


class NotFound(ApiError, LookupError):
    """Something named in the path does not exist: a tile index, an animation (HTTP 404)."""


class WmsError(ApiError, ValueError):
    """A WMS request the service cannot answer; WMS clients expect HTTP 400 for all of them."""


class RateLimited(ApiError):
    """Too many requests of one kind from one client (HTTP 429 with ``Retry-After``)."""

    def __init__(self, action: str, retry_after: int):
        self.action, self.retry_after = action, retry_after
        self.headers = {"Retry-After": str(retry_after)}
        super().__init__(f"too many {action} requests; retry in {retry_after} s")


# Exception type -> HTTP status. The most specific type listed wins (see ``_status_of``).
DEFAULT_STATUS_CODES: dict[type[Exception], int] = {
    UnknownProduct: 404,
    UnknownYear: 404,
    UnknownBand: 404,
    NotFound: 404,
    UnknownAnimation: 404,
    InvalidRequest: 422,
    NoDataError: 422,
    WmsError: 400,
    RateLimited: 429,
    UnreadableData: 500,
    ServerBusy: 503,
}


def _status_of(exc: Exception, table: Mapping[type[Exception], int]) -> int:
    for cls in type(exc).__mro__:
        if cls in table:
            return table[cls]
    return 500


def add_exception_handlers(
    app: FastAPI, status_codes: Mapping[type[Exception], int] = DEFAULT_STATUS_CODES
) -> None:
    """Answer each error type of ``status_codes`` with its status and ``{"detail": message}``.

    Also: invalid inputs as 422 with only their locations and messages (never the input echoed
    back), and anything unexpected as a logged, bare 500.
    """
    table = dict(status_codes)

    async def typed_error(request: Request, exc: Exception) -> JSONResponse:
        headers = dict(exc.headers) if isinstance(exc, ApiError) and exc.headers else None
        return JSONResponse(
            {"detail": str(exc)}, status_code=_status_of(exc, table), headers=headers
        )

    async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return JSONResponse({"detail": errors}, status_code=422)

    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return JSONResponse({"detail": "internal error"}, status_code=500)

    handler: ExceptionHandler = typed_error
    for exc_type in table:
        app.add_exception_handler(exc_type, handler)
    app.add_exception_handler(RequestValidationError, invalid_request)
    app.add_exception_handler(Exception, internal_error)
