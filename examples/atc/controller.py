#!/usr/bin/env python3
"""A controller client for the sector-status service (zeep).

Usage:
  controller.py URL reserve SECTOR FLIGHT FROM UNTIL
  controller.py URL release SECTOR FLIGHT
  controller.py URL who SECTOR AT
  controller.py URL sector SECTOR

URL is a member's SOAP endpoint, e.g. http://127.0.0.1:8080/services/SectorStatus.
The contract is fetched from URL?wsdl. A member that is not the primary answers
the NotPrimary fault naming the primary's address: the client follows it once.
Prints one line per answer, with the view it was served in; exits 0 when the
operation was served, 1 on a fault, 2 on bad usage.
"""

import sys

import zeep
from zeep.exceptions import Fault

NS = "urn:ithaca:atc:sector-status"
BINDING = "{%s}SectorStatusSoap11" % NS


def detail_fields(fault):
    """The fault's detail entry as (element name, {child: text})."""
    if fault.detail is None:
        return None, {}
    for entry in fault.detail:
        name = entry.tag.split("}")[-1]
        fields = {child.tag.split("}")[-1]: (child.text or "") for child in entry}
        return name, fields
    return None, {}


def call(service, operation, args):
    if operation == "reserve":
        sector, flight, start, end = args
        answer = service.Reserve(sector=sector, flight=flight, **{"from": int(start), "until": int(end)})
        r = answer.reservation
        return "reserved %s in %s [%d, %d) view %d by %s" % (
            r.flight, sector, r["from"], r.until, answer.viewId, answer.servedBy)
    if operation == "release":
        sector, flight = args
        answer = service.Release(sector=sector, flight=flight)
        return "%s %s in %s view %d by %s" % (
            "released" if answer.released else "held nothing for", flight, sector,
            answer.viewId, answer.servedBy)
    if operation == "who":
        sector, at = args
        answer = service.WhoIsIn(sector=sector, at=int(at))
        flights = ", ".join(answer.flight or []) or "nobody"
        return "in %s at %s: %s (view %d by %s)" % (sector, at, flights, answer.viewId, answer.servedBy)
    if operation == "sector":
        (sector,) = args
        answer = service.GetSector(sector=sector)
        items = ["%s [%d, %d)" % (r.flight, r["from"], r.until) for r in (answer.reservation or [])]
        return "%s: %s (view %d by %s)" % (sector, "; ".join(items) or "free", answer.viewId, answer.servedBy)
    raise ValueError("unknown operation " + operation)


def main(argv):
    if len(argv) < 3:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    url, operation, args = argv[1], argv[2], argv[3:]
    client = zeep.Client(url + "?wsdl")
    service = client.create_service(BINDING, url)
    for attempt in range(2):
        try:
            print(call(service, operation, args))
            return 0
        except (ValueError, TypeError) as error:
            print("usage: %s" % error, file=sys.stderr)
            return 2
        except Fault as fault:
            name, fields = detail_fields(fault)
            if name == "NotPrimaryFault" and fields.get("primaryAddress") and attempt == 0:
                print("not-primary: following %s at %s (view %s)" % (
                    fields.get("primary", "?"), fields["primaryAddress"], fields.get("viewId", "?")))
                service = client.create_service(BINDING, fields["primaryAddress"])
                continue
            if name == "ConflictFault":
                print("conflict: %s holds %s [%s, %s) (view %s)" % (
                    fields["holder"], fields["sector"], fields["from"], fields["until"], fields["viewId"]))
            elif name == "NotPrimaryFault":
                print("not-primary: %s" % fault.message)
            elif name == "StaleViewFault":
                print("stale-view: member in view %s, client saw %s" % (fields["current"], fields["presented"]))
            else:
                print("fault: %s" % fault.message)
            return 1
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
