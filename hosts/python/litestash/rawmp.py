"""Byte-level MessagePack walking, used where values must stay exactly as the engine stored them.

`msgpack.unpackb` forgets how a value was encoded (a uint8 5 and a fixint 5 both become 5), so
raw access (`get_raw`, `mget_raw`, the scenario runner) walks the response bytes instead:

    end = skip(buf, pos)            # position just after the object starting at pos
    spans = map_spans(buf)          # top-level map with str keys -> {name: (start, end)}
    items = array_spans(buf, s, e)  # the element spans of the array occupying buf[s:e]
"""
import struct

MAX_DEPTH = 512


class RawError(ValueError):
    """The bytes are not one well-formed MessagePack object."""


def _need(buf, pos, n):
    if pos + n > len(buf):
        raise RawError("truncated MessagePack at byte %d" % pos)


def _header(buf, pos):
    """Return (kind, payload_len_or_count, header_len) for the object at pos.

    kind is one of 'scalar' (payload follows, length payload_len), 'array', 'map'.
    """
    _need(buf, pos, 1)
    b = buf[pos]
    if b <= 0x7F or b >= 0xE0 or b in (0xC0, 0xC2, 0xC3):
        return "scalar", 0, 1
    if 0x80 <= b <= 0x8F:
        return "map", b & 0x0F, 1
    if 0x90 <= b <= 0x9F:
        return "array", b & 0x0F, 1
    if 0xA0 <= b <= 0xBF:
        return "scalar", b & 0x1F, 1
    fixed = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8, 0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8, 0xCA: 4, 0xCB: 8,
             0xD4: 2, 0xD5: 3, 0xD6: 5, 0xD7: 9, 0xD8: 17}
    if b in fixed:
        return "scalar", fixed[b], 1
    sized = {0xC4: (1, 0), 0xC5: (2, 0), 0xC6: (4, 0), 0xD9: (1, 0), 0xDA: (2, 0), 0xDB: (4, 0),
             0xC7: (1, 1), 0xC8: (2, 1), 0xC9: (4, 1)}
    if b in sized:
        width, extra = sized[b]
        _need(buf, pos + 1, width)
        n = int.from_bytes(buf[pos + 1:pos + 1 + width], "big")
        return "scalar", n + extra, 1 + width
    if b in (0xDC, 0xDD, 0xDE, 0xDF):
        width = 2 if b in (0xDC, 0xDE) else 4
        _need(buf, pos + 1, width)
        n = int.from_bytes(buf[pos + 1:pos + 1 + width], "big")
        return ("array" if b in (0xDC, 0xDD) else "map"), n, 1 + width
    raise RawError("reserved byte 0x%02x at %d" % (b, pos))


def skip(buf, pos=0):
    """Return the position just after the one MessagePack object starting at `pos`."""
    # Iterative: `todo` counts objects still to skip at each open nesting level.
    todo = [1]
    while todo:
        if todo[-1] == 0:
            todo.pop()
            continue
        todo[-1] -= 1
        kind, n, hlen = _header(buf, pos)
        pos += hlen
        if kind == "scalar":
            _need(buf, pos, n)
            pos += n
        else:
            if len(todo) > MAX_DEPTH:
                raise RawError("nesting deeper than %d" % MAX_DEPTH)
            todo.append(n * 2 if kind == "map" else n)
    return pos


def is_single_object(data):
    """True when `data` is exactly one well-formed MessagePack object."""
    try:
        return len(data) > 0 and skip(data, 0) == len(data)
    except RawError:
        return False


def _str_at(buf, pos):
    b = buf[pos]
    if 0xA0 <= b <= 0xBF or b in (0xD9, 0xDA, 0xDB):
        _, n, hlen = _header(buf, pos)
        _need(buf, pos + hlen, n)
        return bytes(buf[pos + hlen:pos + hlen + n]).decode("utf-8", "surrogateescape"), pos + hlen + n
    raise RawError("map key at %d is not a str" % pos)


def map_spans(buf, pos=0):
    """Spans of the fields of the str-keyed map at `pos`: {name: (start, end)}."""
    kind, n, hlen = _header(buf, pos)
    if kind != "map":
        raise RawError("not a map at %d" % pos)
    pos += hlen
    out = {}
    for _ in range(n):
        name, pos = _str_at(buf, pos)
        end = skip(buf, pos)
        out[name] = (pos, end)
        pos = end
    return out


def array_spans(buf, start, end=None):
    """Spans of the elements of the array at `start`."""
    kind, n, hlen = _header(buf, start)
    if kind != "array":
        raise RawError("not an array at %d" % start)
    pos = start + hlen
    out = []
    for _ in range(n):
        e = skip(buf, pos)
        out.append((pos, e))
        pos = e
    if end is not None and pos != end:
        raise RawError("array span mismatch")
    return out


def is_nil(buf, start, end):
    return end - start == 1 and buf[start] == 0xC0


# Minimal encoders for building request bodies around pre-encoded values.

def str_header(n):
    if n < 32:
        return bytes([0xA0 | n])
    if n <= 0xFF:
        return b"\xd9" + bytes([n])
    if n <= 0xFFFF:
        return b"\xda" + struct.pack(">H", n)
    return b"\xdb" + struct.pack(">I", n)


def array_header(n):
    if n < 16:
        return bytes([0x90 | n])
    if n <= 0xFFFF:
        return b"\xdc" + struct.pack(">H", n)
    return b"\xdd" + struct.pack(">I", n)


def map_header(n):
    if n < 16:
        return bytes([0x80 | n])
    if n <= 0xFFFF:
        return b"\xde" + struct.pack(">H", n)
    return b"\xdf" + struct.pack(">I", n)
