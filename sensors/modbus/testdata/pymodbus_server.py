#!/usr/bin/python3
"""Debian's pymodbus as an independent Modbus peer for the driver's tests.

usage: pymodbus_server.py tcp HOST:PORT IMAGE.json [DUMP.json]     Modbus TCP
       pymodbus_server.py rtutcp HOST:PORT IMAGE.json [DUMP.json]  RTU frames over TCP (a serial gateway)
       pymodbus_server.py rtu /dev/pts/N IMAGE.json [DUMP.json]    RTU on a serial line

IMAGE.json: {"<unit>": {"holding": {"<addr>": value, ...}, "input": {...}}}
Addresses are 0-based PDU addresses; a read touching an address the image
does not hold gets exception 2 (illegal data address), a write too. A unit
not in the image does not answer on RTU. With DUMP.json, every write that
the server takes rewrites DUMP.json with the whole image (same form), so a
test reads what the server holds, not what its client thinks it wrote.
Prints "ready" once serving.
"""
import json
import logging
import os
import sys
import threading

from pymodbus.datastore import (ModbusServerContext, ModbusSlaveContext,
                                ModbusSparseDataBlock)
from pymodbus.server import StartSerialServer, StartTcpServer
from pymodbus.transaction import ModbusRtuFramer, ModbusSocketFramer

logging.basicConfig(level=logging.CRITICAL)


DUMP = None
TABLES = {}  # unit -> table name -> block, for the dump
LOCK = threading.Lock()


class Block(ModbusSparseDataBlock):
    """A sparse block whose writes are dumped. The validate step before a
    write refuses an address the image lacks, as for a read."""

    def setValues(self, address, values, use_as_default=False):
        super().setValues(address, values, use_as_default)
        if DUMP and not use_as_default:
            dump()


def dump():
    with LOCK:
        out = {str(u): {t: {str(a): int(v) for a, v in b.values.items() if a != 65535}
                        for t, b in tabs.items()} for u, tabs in TABLES.items()}
        with open(DUMP + ".tmp", "w") as f:
            json.dump(out, f)
        os.replace(DUMP + ".tmp", DUMP)


def block(values):
    # An empty sparse block would refuse everything; {65535: 0} keeps it
    # valid without mapping anything a test reads.
    m = {int(a): int(v) for a, v in values.items()} or {65535: 0}
    return Block(m, mutable=False)


def main():
    global DUMP
    mode, where, path = sys.argv[1:4]
    if len(sys.argv) > 4:
        DUMP = sys.argv[4]
    with open(path) as f:
        image = json.load(f)
    slaves = {}
    for unit, tables in image.items():
        tabs = {t: block(tables.get(t, {})) for t in ("holding", "input", "coil", "discrete")}
        TABLES[int(unit)] = tabs
        slaves[int(unit)] = ModbusSlaveContext(
            hr=tabs["holding"], ir=tabs["input"], co=tabs["coil"], di=tabs["discrete"],
            zero_mode=True)
    context = ModbusServerContext(slaves=slaves, single=False)
    threading.Timer(0.3, lambda: print("ready", flush=True)).start()
    if mode in ("tcp", "rtutcp"):
        host, port = where.rsplit(":", 1)
        framer = ModbusSocketFramer if mode == "tcp" else ModbusRtuFramer
        StartTcpServer(context=context, address=(host, int(port)), framer=framer)
    else:
        StartSerialServer(context=context, framer=ModbusRtuFramer, port=where,
                          baudrate=9600, bytesize=8, parity="N", stopbits=1, timeout=0.005)


main()
