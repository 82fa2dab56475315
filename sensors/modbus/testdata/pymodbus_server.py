#!/usr/bin/python3
"""Debian's pymodbus as an independent Modbus peer for the driver's tests.

usage: pymodbus_server.py tcp HOST:PORT IMAGE.json     Modbus TCP
       pymodbus_server.py rtutcp HOST:PORT IMAGE.json  RTU frames over TCP (a serial gateway)
       pymodbus_server.py rtu /dev/pts/N IMAGE.json    RTU on a serial line

IMAGE.json: {"<unit>": {"holding": {"<addr>": value, ...}, "input": {...}}}
Addresses are 0-based PDU addresses; a read touching an address the image
does not hold gets exception 2 (illegal data address). A unit not in the
image does not answer on RTU. Prints "ready" once serving.
"""
import json
import logging
import sys
import threading

from pymodbus.datastore import (ModbusServerContext, ModbusSlaveContext,
                                ModbusSparseDataBlock)
from pymodbus.server import StartSerialServer, StartTcpServer
from pymodbus.transaction import ModbusRtuFramer, ModbusSocketFramer

logging.basicConfig(level=logging.CRITICAL)


def block(values):
    # An empty sparse block would refuse everything; {65535: 0} keeps it
    # valid without mapping anything a test reads.
    m = {int(a): int(v) for a, v in values.items()} or {65535: 0}
    return ModbusSparseDataBlock(m)


def main():
    mode, where, path = sys.argv[1:4]
    with open(path) as f:
        image = json.load(f)
    slaves = {}
    for unit, tables in image.items():
        slaves[int(unit)] = ModbusSlaveContext(
            hr=block(tables.get("holding", {})),
            ir=block(tables.get("input", {})),
            co=block(tables.get("coil", {})),
            di=block(tables.get("discrete", {})),
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
