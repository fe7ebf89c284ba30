#!/usr/bin/env python3
"""Transfers money between two Ithaca banks over SOAP with zeep.

The TransferService of `ithaca serve` moves the money inside one
WS-AtomicTransaction: both banks change or neither does. This script reads
the service's WSDL, prints both balances, asks for one transfer (or
several with --count) and prints the balances again.

    python3 examples/bank/transfer.py [--url http://127.0.0.1:8080] \
        [--from BankA:1] [--to BankB:2] [--amount 500] [--count 1]

Output (one line each): the balances before, `transfer N: transactionId=ID
outcome=Committed` (or `refused: insufficient funds ...` for the declared
InsufficientFunds fault), the balances after. Exit status 0 when every
transfer got an answer (committed, aborted or refused), 1 otherwise.
"""

import argparse
import sys

import zeep
from zeep.exceptions import Fault

NAMESPACE = "urn:ithaca:transfer"


def bank_account(text):
    bank, sep, account = text.partition(":")
    if not sep or not bank or not account:
        raise argparse.ArgumentTypeError("give BANK:ACCOUNT, such as BankA:1")
    return bank, account


def insufficient_funds(fault):
    """The InsufficientFunds detail of a fault, as a dict, or None."""
    detail = fault.detail
    if detail is None:
        return None
    for element in detail.iter():
        if element.tag == "{%s}InsufficientFunds" % NAMESPACE:
            return {child.tag.split("}")[-1]: child.text for child in element}
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8080",
                        help="the gateway (default %(default)s)")
    parser.add_argument("--from", dest="source", type=bank_account, default=("BankA", "1"),
                        help="BANK:ACCOUNT debited (default BankA:1)")
    parser.add_argument("--to", dest="target", type=bank_account, default=("BankB", "2"),
                        help="BANK:ACCOUNT credited (default BankB:2)")
    parser.add_argument("--amount", type=int, default=500, help="in cents (default 500)")
    parser.add_argument("--count", type=int, default=1, help="how many transfers (default 1)")
    args = parser.parse_args()

    wsdl = args.url.rstrip("/") + "/services/TransferService?wsdl"
    client = zeep.Client(wsdl)
    service = client.service

    def balances(when):
        for bank, account in (args.source, args.target):
            balance = service.Balance(bank=bank, account=account)
            print("balance %s %s/%s = %d" % (when, bank, account, balance))

    balances("before")
    failures = 0
    for n in range(1, args.count + 1):
        try:
            answer = service.Transfer(
                fromBank=args.source[0], fromAccount=args.source[1],
                toBank=args.target[0], toAccount=args.target[1],
                amount=args.amount)
            print("transfer %d: transactionId=%s outcome=%s"
                  % (n, answer.transactionId, answer.outcome))
        except Fault as fault:
            detail = insufficient_funds(fault)
            if detail is None:
                failures += 1
                print("transfer %d: failed: %s" % (n, fault.message))
            else:
                print("transfer %d: refused: insufficient funds in %s/%s "
                      "(balance %s, requested %s); transactionId=%s rolled back"
                      % (n, detail["bank"], detail["account"], detail["balance"],
                         detail["requested"], detail["transactionId"]))
    balances("after")
    print("total %d" % service.Total().total)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
