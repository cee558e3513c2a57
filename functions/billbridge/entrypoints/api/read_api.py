"""The read API: `GET` routes over the ledger for dashboards, portals and operators.

Served by Powertools' REST event handler with validation on, behind API
Gateway with IAM authorization on every method (infra/constructs/read_api.py;
the local stack checks a bearer token instead, docs/local-stack.md). Thin:
parse the path and query (Powertools validates them against the signatures
below and answers 422 naming the parameter), call one query of `ReadQueries`,
return its pydantic model; a cursor this API did not issue is 400 naming
`cursor`, something the ledger does not hold is 404.

A request that reaches the function without a caller identity (a stage
deployed without IAM authorization by mistake) is refused 403 here too.

The OpenAPI document of these routes (with the webhook routes) is generated
from this module: `python -m billbridge.entrypoints.api.openapi_document`.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from billbridge.domain.model import ExceptionState, ExceptionType, InvoiceStatus
from billbridge.observability import count, flush_metrics, logger
from billbridge.reporting.read_models import (
    ContractDetail,
    ContractPage,
    ExceptionDetail,
    ExceptionPage,
    InvoiceDetail,
    InvoicePage,
    Kpis,
    Lineage,
    ReadError,
    UnbilledPage,
)
from billbridge.reporting.read_pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, InvalidCursorError
from billbridge.reporting.read_queries import NotInLedgerError

if TYPE_CHECKING:
    from billbridge.reporting.read_queries import ReadQueries

PERIOD_PATTERN = r"^\d{4}-(0[1-9]|1[0-2])$"
IDENTIFIER_MAX = 256

app = APIGatewayRestResolver(enable_validation=True)

Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="Items per page")]
Cursor = Annotated[str | None, Query(max_length=2048, description="The next_cursor of the previous page (opaque)")]
AsOf = Annotated[date | None, Query(description="Ages are counted to this date (default: today, UTC)")]
ContractFilter = Annotated[str | None, Query(max_length=IDENTIFIER_MAX, description="Only this contract")]
Identifier = Annotated[str, Path(min_length=1, max_length=IDENTIFIER_MAX)]


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"model": ReadError}}}


def _ok(model: type[Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"model": model}}}


REFUSED = {403: _error("No caller identity (the API requires IAM-signed requests)")}
LISTING = {**REFUSED, 400: _error("A cursor this listing did not issue with these filters (field: cursor)")}
ONE = {**REFUSED, 404: _error("Not in the ledger")}


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_read_request(event, context)


def handle_read_request(event: Any, context: Any, queries: ReadQueries | None = None) -> dict[str, Any]:
    """The handler, with the queries replaceable (tests pass ones built on fakes)."""
    app.append_context(queries=queries if queries is not None else _default_queries())
    try:
        return app.resolve(event, context)
    finally:
        flush_metrics()


def _default_queries() -> ReadQueries:
    from billbridge.bootstrap import read_queries

    return read_queries()


def _queries() -> ReadQueries:
    queries: ReadQueries = app.context["queries"]
    return queries


def require_caller(app: APIGatewayRestResolver, next_middleware: NextMiddleware) -> Response[Any]:
    """Every route needs an authenticated caller: IAM fills `requestContext.identity.userArn`."""
    identity = app.current_event.request_context.identity
    if not (identity.user_arn or identity.caller):
        count("ReadRequestsRefused")
        logger().warning("read request without a caller identity", extra={"path": app.current_event.path})
        return _error_response(403, "the read API needs an authenticated caller (IAM-signed request)", None)
    return next_middleware(app)


app.use(middlewares=[require_caller])


@app.exception_handler(InvalidCursorError)
def _bad_cursor(error: InvalidCursorError) -> Response[Any]:
    count("ReadRequestsRefused")
    return _error_response(400, str(error), error.field)


@app.exception_handler(NotInLedgerError)
def _not_found(error: NotInLedgerError) -> Response[Any]:
    return _error_response(404, str(error.args[0]) if error.args else "not found", None)


def _error_response(status: int, message: str, field: str | None) -> Response[Any]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=ReadError(message=message, field=field).model_dump_json(),
    )


# --- contracts -------------------------------------------------------------------------------------


@app.get(
    "/contracts",
    summary="Contracts with their latest version",
    responses={200: _ok(ContractPage, "One page of contracts"), **LISTING},
    tags=["contracts"],
)
def list_contracts(limit: Limit = DEFAULT_PAGE_SIZE, cursor: Cursor = None) -> ContractPage:
    count("ReadRequestsServed")
    return _queries().contracts(limit=limit, cursor=cursor)


@app.get(
    "/contracts/<contract_id>",
    summary="One contract: versions, id map, propagation status, commands, lines, invoices, exceptions",
    responses={200: _ok(ContractDetail, "The contract"), **ONE},
    tags=["contracts"],
)
def get_contract(contract_id: Identifier) -> ContractDetail:
    count("ReadRequestsServed")
    return _queries().contract(contract_id)


# --- invoices --------------------------------------------------------------------------------------


@app.get(
    "/invoices",
    summary="Invoice proposals by contract, period and status",
    responses={200: _ok(InvoicePage, "One page of invoice proposals"), **LISTING},
    tags=["invoices"],
)
def list_invoices(
    contract_id: ContractFilter = None,
    period: Annotated[str | None, Query(pattern=PERIOD_PATTERN, description="A calendar month, YYYY-MM")] = None,
    status: Annotated[InvoiceStatus | None, Query()] = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> InvoicePage:
    count("ReadRequestsServed")
    return _queries().invoices(contract_id=contract_id, period=period, status=status, limit=limit, cursor=cursor)


@app.get(
    "/invoices/<proposal_id>",
    summary="One invoice proposal with its lines and what priced each line",
    responses={200: _ok(InvoiceDetail, "The invoice proposal"), **ONE},
    tags=["invoices"],
)
def get_invoice(proposal_id: Identifier) -> InvoiceDetail:
    count("ReadRequestsServed")
    return _queries().invoice(proposal_id)


# --- exceptions ------------------------------------------------------------------------------------


@app.get(
    "/exceptions",
    summary="Exceptions by state, type and age",
    responses={200: _ok(ExceptionPage, "One page of exceptions"), **LISTING},
    tags=["exceptions"],
)
def list_exceptions(
    state: Annotated[ExceptionState | None, Query()] = None,
    type: Annotated[ExceptionType | None, Query()] = None,
    min_age_days: Annotated[int | None, Query(ge=0, le=36500, description="Raised at least this many days ago")] = None,
    as_of: AsOf = None,
    contract_id: ContractFilter = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> ExceptionPage:
    count("ReadRequestsServed")
    return _queries().exceptions(
        state=state,
        exception_type=type,
        min_age_days=min_age_days,
        as_of=as_of,
        contract_id=contract_id,
        limit=limit,
        cursor=cursor,
    )


@app.get(
    "/exceptions/<exception_id>",
    summary="One exception: its lines and inputs, the contract terms, the cap, the audit trail, how to resolve it",
    responses={200: _ok(ExceptionDetail, "The exception, explained"), **ONE},
    tags=["exceptions"],
)
def get_exception(exception_id: Identifier) -> ExceptionDetail:
    count("ReadRequestsServed")
    return _queries().exception(exception_id)


# --- lineage, KPIs, unbilled work ------------------------------------------------------------------


@app.get(
    "/lineage/<identifier>",
    summary="Raw webhook -> canonical event -> ledger lines -> proposal -> ERP invoice -> payments",
    description="The identifier is an ERP invoice number, a proposal id, an entry, expense or milestone id, "
    "or a correlation id (what `billbridge trace ID` shows).",
    responses={200: _ok(Lineage, "The lineage"), **ONE},
    tags=["lineage"],
)
def get_lineage(identifier: Identifier) -> Lineage:
    count("ReadRequestsServed")
    return _queries().lineage(identifier)


@app.get(
    "/kpis",
    summary="Operating KPIs (what `billbridge report` shows)",
    responses={200: _ok(Kpis, "The KPIs"), **REFUSED},
    tags=["kpis"],
)
def get_kpis(as_of: AsOf = None) -> Kpis:
    count("ReadRequestsServed")
    return _queries().kpis(as_of=as_of)


@app.get(
    "/unbilled",
    summary="Approved work not yet invoiced, with its age",
    responses={200: _ok(UnbilledPage, "One page of unbilled lines"), **LISTING},
    tags=["kpis"],
)
def list_unbilled(
    contract_id: ContractFilter = None,
    min_age_days: Annotated[int | None, Query(ge=0, le=36500, description="Lines at least this many days old")] = None,
    as_of: AsOf = None,
    limit: Limit = DEFAULT_PAGE_SIZE,
    cursor: Cursor = None,
) -> UnbilledPage:
    count("ReadRequestsServed")
    return _queries().unbilled(
        contract_id=contract_id, min_age_days=min_age_days, as_of=as_of, limit=limit, cursor=cursor
    )
