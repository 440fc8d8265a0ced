#!/usr/bin/env python3
"""An independent RFC 9162 verifier for edgeseal's transparency log proofs, written from the
RFC text (section 2.1.3.2 and 2.1.4.2) in another language, sharing no code with the server.
Reads one JSON object on stdin; prints "ok" and exits 0, or prints why and exits 1."""
import base64, hashlib, json, sys

def node(l, r): return hashlib.sha256(b"\x01" + l + r).digest()
def leaf(d): return hashlib.sha256(b"\x00" + d).digest()

def inclusion(h, index, size, path, root):
    if index >= size: return False
    fn, sn, r = index, size - 1, h
    for p in path:
        if sn == 0: return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn != 0: fn >>= 1; sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1; sn >>= 1
    return sn == 0 and r == root

def consistency(first, second, h1, h2, path):
    if first == second: return not path and h1 == h2
    if not path or first > second: return False
    if first & (first - 1) == 0: path = [h1] + path
    fn, sn = first - 1, second - 1
    while fn & 1: fn >>= 1; sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0: return False
        if fn & 1 or fn == sn:
            fr, sr = node(c, fr), node(c, sr)
            while not fn & 1 and fn != 0: fn >>= 1; sn >>= 1
        else:
            sr = node(sr, c)
        fn >>= 1; sn >>= 1
    return fr == h1 and sr == h2 and sn == 0

q = json.load(sys.stdin)
b = lambda s: base64.b64decode(s)
if q["kind"] == "inclusion":
    ok = inclusion(leaf(b(q["leaf_data"])), q["leaf_index"], q["tree_size"], [b(x) for x in q["audit_path"]], b(q["root_hash"]))
else:
    ok = consistency(q["first"], q["second"], b(q["first_root"]), b(q["second_root"]), [b(x) for x in q["proof"]])
print("ok" if ok else "proof does not verify")
sys.exit(0 if ok else 1)
