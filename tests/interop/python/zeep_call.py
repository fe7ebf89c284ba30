"""Loads a WSDL with zeep from a URL and calls one operation.

The request is built by zeep from a sample of the operation's input body
(XML given in ITHACA_REQUEST, as Ithaca's sample generator writes it):
zeep parses it with the operation's own input type, then calls the
operation with the values it read, so every value goes through zeep's
type system. Prints `ok <result>` on success; exits non-zero with the
reason otherwise.

Environment: ITHACA_WSDL_URL, ITHACA_SERVICE, ITHACA_PORT,
ITHACA_OPERATION, ITHACA_REQUEST.
"""

import os
import sys

import lxml.etree as etree
import zeep
from zeep.helpers import serialize_object
from zeep.xsd.valueobjects import CompoundValue


def main():
    url = os.environ["ITHACA_WSDL_URL"]
    client = zeep.Client(url)
    service = client.bind(os.environ["ITHACA_SERVICE"], os.environ["ITHACA_PORT"])
    name = os.environ["ITHACA_OPERATION"]
    operation = service._binding.get(name)
    body = operation.input.body
    request = os.environ.get("ITHACA_REQUEST", "").strip()
    args, kwargs = [], {}
    if body is not None and request:
        value = body.parse(etree.fromstring(request.encode("utf-8")), client.wsdl.types)
        if isinstance(value, CompoundValue):
            kwargs = {key: value[key] for key in value}
        elif value is not None:
            args = [value]
    result = getattr(service, name)(*args, **kwargs)
    print("ok", repr(serialize_object(result))[:200])


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # the reason is the test's output
        sys.exit(f"{type(error).__name__}: {str(error)[:400]}")
