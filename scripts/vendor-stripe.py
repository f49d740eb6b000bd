#!/usr/bin/env python3
"""Regenerates testkit/testdata/stripe/ from Stripe's published reference files.

Usage: scripts/vendor-stripe.py DIR   (DIR holds fixtures3.json and spec3-2022-03-18.json from
stripe/openapi). The tests read only what this writes: every fixture object, and from the API
spec the form bodies of the endpoints Tollgate calls (and will call), so the repository carries
what its tests use without the 4 MB spec.
"""

import json
import pathlib
import sys

ENDPOINTS = [
    "/v1/checkout/sessions",
    "/v1/customers",
    "/v1/billing_portal/sessions",
    "/v1/billing_portal/configurations",
    "/v1/subscriptions",
    "/v1/subscription_schedules",
    "/v1/products",
    "/v1/prices",
    "/v1/coupons",
    "/v1/webhook_endpoints",
    "/v1/subscriptions/{subscription_exposed_id}",
    "/v1/subscription_schedules/{schedule}",
    "/v1/subscription_schedules/{schedule}/release",
    "/v1/prices/{price}",
    "/v1/products/{id}",
    "/v1/coupons/{coupon}",
    "/v1/billing_portal/configurations/{configuration}",
]

# Calls without a form body: kept as (method, path template) with the spec's parameters.
OPERATIONS = [
    ("get", "/v1/balance"),
    ("get", "/v1/checkout/sessions/{session}"),
    ("get", "/v1/checkout/sessions/{session}/line_items"),
    ("get", "/v1/subscriptions/{subscription_exposed_id}"),
    ("delete", "/v1/subscriptions/{subscription_exposed_id}"),
    ("get", "/v1/subscription_schedules/{schedule}"),
    # Renamed since: `POST /v1/invoices/create_preview` takes these as `subscription_details[...]`.
    ("get", "/v1/invoices/upcoming"),
    ("get", "/v1/prices"),
    ("get", "/v1/products"),
    ("get", "/v1/coupons/{coupon}"),
    ("get", "/v1/billing_portal/configurations"),
    ("get", "/v1/webhook_endpoints"),
    ("get", "/v1/checkout/sessions"),
    ("get", "/v1/subscriptions"),
    ("get", "/v1/charges"),
    ("get", "/v1/disputes"),
    ("get", "/v1/customers"),
    ("get", "/v1/refunds"),
]


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    source = pathlib.Path(sys.argv[1])
    target = pathlib.Path(__file__).resolve().parent.parent / "testkit" / "testdata" / "stripe"
    target.mkdir(parents=True, exist_ok=True)
    fixtures = json.loads((source / "fixtures3.json").read_text())
    (target / "fixtures3.json").write_text(json.dumps(fixtures, indent=1, sort_keys=True) + "\n")
    spec = json.loads((source / "spec3-2022-03-18.json").read_text())
    paths = {}
    for endpoint in ENDPOINTS:
        post = spec["paths"].get(endpoint, {}).get("post")
        if post is None:
            sys.exit(f"{endpoint} has no POST in the spec")
        paths[endpoint] = {"post": {"requestBody": post["requestBody"]}}
    for method, endpoint in OPERATIONS:
        operation = spec["paths"].get(endpoint, {}).get(method)
        if operation is None:
            sys.exit(f"{method.upper()} {endpoint} is not in the spec")
        kept = {"operationId": operation["operationId"], "parameters": operation.get("parameters", [])}
        if "requestBody" in operation:
            kept["requestBody"] = operation["requestBody"]
        paths.setdefault(endpoint, {})[method] = kept
    subset = {"info": spec["info"], "paths": paths}
    (target / "spec3-2022-03-18.forms.json").write_text(json.dumps(subset, indent=1, sort_keys=True) + "\n")
    print(f"wrote {target}: {len(fixtures['resources'])} fixtures, {len(paths)} endpoints' forms")


if __name__ == "__main__":
    main()
