"""The snapmig external reducer protocol, version 1, for Python 3 (stdlib only).

The protocol is described in snapmig-reducer(7).  This module implements its
loop so that a reducer is only the fold itself:

    import snapmig_reducer as sr

    def opened(state, data, event):
        state["name"] = data["name"]
        return state

    sr.run({
        "Elixir.Domain.Account": sr.Aggregate(
            initial={"name": None},
            handlers={"Elixir.Domain.Account.Events.Opened": opened},
        ),
    })

An Aggregate is given either `handlers` (event type -> function(state, data,
event) returning the new state) or one `apply(state, event)` function plus
the list of `events` it knows (or "any").  A handler raises NoMatch when no
clause of the aggregate matches the event; an event type that is not handled
is reported as an unknown event without calling anything.  Any other
exception fails that one instance (kind "error"); its traceback goes to
stderr, which snapmig writes to its log.

While run() is active, sys.stdout is redirected to stderr: stdout carries the
protocol, and a stray print() must not corrupt it.
"""

import copy
import json
import sys
import traceback

PROTOCOL = 1

__all__ = ["PROTOCOL", "Aggregate", "Event", "NoMatch", "UnknownEvent",
           "struct_decode", "run"]


class UnknownEvent(Exception):
    """The aggregate has no handler for this event type."""


class NoMatch(Exception):
    """Handlers exist for the event type, but no clause matched."""


class Event:
    """One event of the stream being folded."""
    __slots__ = ("type", "version", "data", "metadata", "created_at", "stream_uuid")

    def __init__(self, msg, stream_uuid):
        self.type = msg.get("type")
        self.version = msg.get("version")
        self.data = msg.get("data")
        self.metadata = msg.get("metadata")
        self.created_at = msg.get("created_at")
        self.stream_uuid = stream_uuid


def struct_decode(initial, snapshot):
    """A snapshot read the way Commanded decodes it into the aggregate struct:
    the initial state's keys, each with the snapshot's value when present
    (keys the struct does not have are dropped)."""
    return {key: snapshot.get(key, default) for key, default in initial.items()}


class Aggregate:
    def __init__(self, initial, handlers=None, apply=None, events="any",
                 decode_start=struct_decode, fingerprint=None):
        """initial: the empty state (a dict, copied for every instance, or a
        function returning a fresh one).  decode_start(initial, snapshot)
        turns a start state from a snapshot into the state to fold into;
        None keeps the snapshot as it is.  fingerprint: a string (at most
        256 bytes) that changes whenever this code would fold differently,
        e.g. a version or a hash of the source; snapmig then treats the
        snapshots made before the change as stale."""
        if (handlers is None) == (apply is None):
            raise ValueError("give either handlers or apply")
        self._initial = initial
        self._handlers = handlers
        self._apply = apply
        self._decode = decode_start
        self.fingerprint = fingerprint
        if handlers is not None:
            self.events = list(handlers)
        elif events == "any":
            self.events = "any"
        else:
            self.events = list(events)
        self._known = None if self.events == "any" else set(self.events)

    def initial(self):
        if callable(self._initial):
            return self._initial()
        return copy.deepcopy(self._initial)

    def start(self, snapshot):
        if self._decode is None:
            return snapshot
        return self._decode(self.initial(), snapshot)

    def fold(self, state, event):
        if self._known is not None and event.type not in self._known:
            raise UnknownEvent("no handler for %s" % event.type)
        if self._handlers is not None:
            new = self._handlers[event.type](state, event.data, event)
        else:
            new = self._apply(state, event)
        # Returning None means: state was changed in place.
        return state if new is None else new


class _Instance:
    __slots__ = ("id", "aggregate", "state", "stream_uuid", "done")

    def __init__(self, msg_id, aggregate, state, stream_uuid):
        self.id = msg_id
        self.aggregate = aggregate
        self.state = state
        self.stream_uuid = stream_uuid
        self.done = False       # an error was replied: ignore until end/abort


def run(aggregates, stdin=None, stdout=None):
    """Serves the protocol until stdin closes.  aggregates: {type: Aggregate}."""
    inp = stdin if stdin is not None else sys.stdin.buffer
    out = stdout if stdout is not None else sys.stdout.buffer
    saved_stdout = sys.stdout
    sys.stdout = sys.stderr
    dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

    def send(obj):
        out.write(dumps(obj).encode("utf-8") + b"\n")
        out.flush()

    def fail(inst, kind, message, event=None):
        reply = {"op": "error", "id": inst.id, "kind": kind, "message": message}
        if event is not None:
            reply["version"] = event.version
            reply["event_type"] = event.type
        send(reply)
        inst.done = True

    inst = None
    try:
        for raw in inp:
            if not raw.strip():
                continue
            msg = json.loads(raw)
            op = msg.get("op")
            if op == "event":
                if inst is None or inst.done:
                    continue
                event = Event(msg, inst.stream_uuid)
                try:
                    inst.state = inst.aggregate.fold(inst.state, event)
                except UnknownEvent as e:
                    fail(inst, "unknown_event", str(e) or "unknown event", event)
                except NoMatch as e:
                    fail(inst, "no_match", str(e) or "no clause matched", event)
                except Exception as e:  # the instance fails, the process lives on
                    traceback.print_exc(file=sys.stderr)
                    fail(inst, "error", "%s: %s" % (type(e).__name__, e), event)
            elif op == "begin":
                agg = aggregates.get(msg.get("aggregate"))
                inst = _Instance(msg.get("id"), agg, None, msg.get("stream_uuid"))
                if agg is None:
                    fail(inst, "error", "aggregate %s is not handled here" % msg.get("aggregate"))
                    continue
                try:
                    if msg.get("start") == "initial":
                        inst.state = agg.initial()
                    else:
                        inst.state = agg.start(msg.get("state"))
                except Exception as e:
                    traceback.print_exc(file=sys.stderr)
                    fail(inst, "error", "start state: %s: %s" % (type(e).__name__, e))
            elif op == "end":
                if inst is not None and not inst.done:
                    if isinstance(inst.state, dict):
                        send({"op": "state", "id": inst.id, "state": inst.state})
                    else:
                        fail(inst, "error", "the final state is not an object")
                inst = None
            elif op == "abort":
                inst = None
            elif op == "hello":
                if msg.get("protocol") != PROTOCOL:
                    send({"op": "error", "kind": "error",
                          "message": "this reducer speaks protocol %d" % PROTOCOL})
                    return
                hello = {}
                for name, agg in aggregates.items():
                    hello[name] = {"events": agg.events}
                    if agg.fingerprint is not None:
                        hello[name]["fingerprint"] = agg.fingerprint
                send({"op": "hello", "protocol": PROTOCOL, "aggregates": hello})
            # Unknown ops are ignored, as the protocol asks.
    except BrokenPipeError:
        pass
    finally:
        sys.stdout = saved_stdout
