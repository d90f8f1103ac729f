"""Which column holds what: explicit choices first, then well-known header aliases."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from . import IngestError

FIELDS = ("customer", "date", "amount", "quantity", "price", "owner")

# Compared after lower-casing and dropping everything but letters and digits.
ALIASES: dict[str, tuple[str, ...]] = {
    "customer": (
        "customerid",
        "customer",
        "customerno",
        "customernumber",
        "customercode",
        "custid",
        "clientid",
        "client",
        "clientno",
        "accountid",
        "accountnumber",
        "account",
        "buyerid",
    ),
    "date": (
        "invoicedate",
        "date",
        "orderdate",
        "transactiondate",
        "txndate",
        "saledate",
        "salesdate",
        "invoicedatetime",
        "documentdate",
        "postingdate",
        "day",
        "timestamp",
    ),
    "amount": (
        "amount",
        "revenue",
        "totalamount",
        "total",
        "netamount",
        "netrevenue",
        "sales",
        "salesamount",
        "linetotal",
        "lineamount",
        "value",
        "net",
        "invoiceamount",
        "turnover",
    ),
    "quantity": ("quantity", "qty", "units", "unitssold"),
    "price": ("unitprice", "price", "priceperunit", "unitcost", "rate"),
    # Optional: each customer's account owner (a team member's username or e-mail).
    "owner": ("owner", "accountowner", "accountmanager", "customerowner"),
}


def normalise_header(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


@dataclass(frozen=True)
class ColumnMapping:
    customer: str
    date: str
    amount: str | None = None
    quantity: str | None = None
    price: str | None = None
    owner: str | None = None

    @property
    def uses_quantity_price(self) -> bool:
        return self.amount is None

    def as_dict(self) -> dict[str, str]:
        return {k: v for k, v in asdict(self).items() if v}


def _find(headers: list[str], wanted: str) -> str | None:
    """The header that is ``wanted`` (case-insensitive, ignoring spaces and punctuation)."""
    target = normalise_header(wanted)
    for header in headers:
        if header == wanted:
            return header
    for header in headers:
        if normalise_header(header) == target:
            return header
    return None


def _by_alias(headers: list[str], field: str) -> str | None:
    for alias in ALIASES[field]:
        found = _find(headers, alias)
        if found is not None:
            return found
    return None


def guess_columns(headers: list[str]) -> dict[str, str]:
    """Each field's column found by alias, even when the mapping is not yet complete."""
    guesses = {field: _by_alias(headers, field) for field in FIELDS}
    return {field: column for field, column in guesses.items() if column}


def resolve_mapping(headers: list[str], explicit: dict[str, str] | None = None) -> ColumnMapping:
    """Explicit column names win; other fields fall back to aliases. Raises IngestError."""
    explicit = {k: v for k, v in (explicit or {}).items() if v}
    unknown = set(explicit) - set(FIELDS)
    if unknown:
        raise IngestError(f"Unknown mapping field(s): {', '.join(sorted(unknown))}.")
    if "amount" in explicit and ("quantity" in explicit or "price" in explicit):
        raise IngestError("Give either an amount column or quantity and price columns, not both.")
    chosen: dict[str, str | None] = {}
    for field in FIELDS:
        if field in explicit:
            found = _find(headers, explicit[field])
            if found is None:
                raise IngestError(
                    f"The {field} column {explicit[field]!r} is not in the file. "
                    f"Columns found: {_list(headers)}."
                )
            chosen[field] = found
        else:
            chosen[field] = _by_alias(headers, field)
    wants_qp = "quantity" in explicit or "price" in explicit
    if wants_qp or chosen["amount"] is None:
        chosen["amount"] = None
    else:
        chosen["quantity"] = chosen["price"] = None
    _check_complete(headers, chosen)
    customer, date = chosen["customer"], chosen["date"]
    assert customer is not None and date is not None  # _check_complete raised otherwise
    return ColumnMapping(
        customer=customer,
        date=date,
        amount=chosen["amount"],
        quantity=chosen["quantity"],
        price=chosen["price"],
        owner=chosen["owner"],
    )


def _check_complete(headers: list[str], chosen: dict[str, str | None]) -> None:
    missing = [f for f in ("customer", "date") if chosen[f] is None]
    if chosen["amount"] is None and (chosen["quantity"] is None or chosen["price"] is None):
        missing.append("amount (or quantity and unit price)")
    if missing:
        raise IngestError(
            f"Could not find the {' and '.join(missing)} column(s). Columns found: "
            f"{_list(headers)}. Choose the columns explicitly."
        )
    used = [v for v in chosen.values() if v]
    if len(used) != len(set(used)):
        raise IngestError("One column is mapped to two fields; each field needs its own column.")


def _list(headers: list[str]) -> str:
    shown = ", ".join(repr(h) for h in headers[:15])
    return shown + (f" and {len(headers) - 15} more" if len(headers) > 15 else "")
