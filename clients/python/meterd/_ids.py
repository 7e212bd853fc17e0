"""Event ids made on the client, so that a batch sent twice (a retry, a spill shipped after a
crash) is stored once: UUIDv7 (time-ordered, like meterd's own) with 74 random bits.

The bits come from a generator seeded from os.urandom and seeded again in every forked child
(the workers of a pre-forking server must not repeat each other's ids), not from a system call
per id: in a virtual machine getrandom() was measured at 15 us a call, most of track()'s budget.
Uniqueness, not secrecy, is what an id needs."""
import os
import random

_rng = random.Random(os.urandom(32))
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=lambda: _rng.seed(os.urandom(32)))


def new_event_id(unix_ms):
    rand = _rng.getrandbits(74)
    value = (unix_ms << 80) | (0x7 << 76) | ((rand >> 62) << 64) | (0b10 << 62) | (rand & ((1 << 62) - 1))
    h = "%032x" % value
    return "%s-%s-%s-%s-%s" % (h[:8], h[8:12], h[12:16], h[16:20], h[20:])
