"""An omniORBpy client of IthacaBench::Echo, for the omniORBpy interop test.

Usage: python py_client.py STUBS_DIR REFERENCE [-ORB... options]

STUBS_DIR holds the Python stubs omniidl -bpython made from IthacaBench.idl.
Prints one "ok NAME" line per check that passed and exits 1 after the first
failure. Python strings are Unicode, so omniORBpy's native char code set is
omniORB's default native char code set is ISO-8859-1: non-Latin-1 text only
goes through when UTF-8 was negotiated (-ORBnativeCharCodeSet UTF-8, or a
server whose IOR names UTF-8 as its native char code set).
"""

import sys

sys.path.insert(0, sys.argv[1])

from omniORB import CORBA  # noqa: E402
import IthacaBench  # noqa: E402


def check(ok, name):
    if not ok:
        print("FAILED " + name)
        sys.exit(1)
    print("ok " + name, flush=True)


def main():
    orb = CORBA.ORB_init(sys.argv[:1] + sys.argv[3:], CORBA.ORB_ID)
    echo = orb.string_to_object(sys.argv[2])._narrow(IthacaBench.Echo)
    check(echo is not None, "narrow")
    for text in ["hello", "h\u00e9llo w\u00f6rld", "\u65e5\u672c\u8a9e \u2713"]:
        check(echo.echoString(text) == text, "echoString " + ascii(text))
    check(echo.add(2, 40) == 42, "add")
    try:
        echo.add(1000000, 1)
        check(False, "add raises Overflow")
    except IthacaBench.Overflow as e:
        check(e.limit == 1000000, "add raises Overflow")
    points = [IthacaBench.Point(i, 2 * i, "p%d" % i) for i in range(5)]
    back = echo.reverse(points)
    check(
        [(p.x, p.y, p.label) for p in back]
        == [(p.x, p.y, p.label) for p in reversed(points)],
        "reverse",
    )
    echo.ping()
    check(True, "ping")
    try:
        echo._non_existent()
        check(True, "_non_existent")
    except CORBA.SystemException:
        check(False, "_non_existent")
    orb.destroy()


if __name__ == "__main__":
    main()
