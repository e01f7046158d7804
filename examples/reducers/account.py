#!/usr/bin/env python3
"""External reducer for the demo's Elixir.Domain.Account aggregate.

Configured in examples/snapmig.conf as

    { type = "Elixir.Domain.Account";
      snapshot_version = 2;
      reducer = { exec = "python3 reducers/account.py"; }; }

and spoken to by snapmig over the protocol of snapmig-reducer(7), through the
helper module snapmig_reducer.py beside this file.  Python 3, standard
library only.

The events (type prefix Elixir.Domain.Account.Events.) and their data:

    Created        {id, name, email, plan, created_at, address: {city, country}}
                   only for an account that has no id yet (as the Elixir
                   clause `def apply(%Account{id: nil} = a, %Created{})`);
                   otherwise no clause matches
    PlanChanged    {id, plan, changed_at}
    EmailChanged   {id, email}
    UsageRecorded  {id, metric ("api_calls" | "checks" | "sms"), amount (integer),
                    recorded_at}

The state (the %Account{} struct with its defaults):

    {id, name, email, plan, address, created_at,    from Created (null before)
     plan_changed_at, plan_changes,                  last change, how many (0)
     usage: {metric: total amount},                  ({})
     last_usage_at}                                  (null)

The same aggregate written in snapmig's rules language (the test suite folds
both and compares their snapshots):

    initial = "{id: null, name: null, email: null, plan: null, address: null,
                created_at: null, plan_changed_at: null, plan_changes: 0,
                usage: {}, last_usage_at: null}";
    events = (
      { on = "Elixir.Domain.Account.Events.Created"; when = "not exists state.id";
        do = "id = event.id; name = event.name; email = event.email;
              plan = event.plan; address = event.address;
              created_at = event.created_at"; },
      { on = "Elixir.Domain.Account.Events.PlanChanged";
        do = "plan = event.plan; plan_changed_at = event.changed_at;
              plan_changes += 1"; },
      { on = "Elixir.Domain.Account.Events.EmailChanged"; do = "email = event.email"; },
      { on = "Elixir.Domain.Account.Events.UsageRecorded";
        do = "usage[event.metric] += event.amount;
              last_usage_at = event.recorded_at"; }
    );
"""

import os
import sys

# The helper lives beside this file; run from a source tree, leave no
# __pycache__ behind.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True

import snapmig_reducer as sr  # noqa: E402  (after the path is set)

EVENTS = "Elixir.Domain.Account.Events."

INITIAL = {
    "id": None, "name": None, "email": None, "plan": None, "address": None,
    "created_at": None, "plan_changed_at": None, "plan_changes": 0,
    "usage": {}, "last_usage_at": None,
}


def created(account, data, event):
    if account["id"] is not None:
        raise sr.NoMatch("account %s already created" % account["id"])
    for key in ("id", "name", "email", "plan", "address", "created_at"):
        account[key] = data[key]
    return account


def plan_changed(account, data, event):
    account["plan"] = data["plan"]
    account["plan_changed_at"] = data["changed_at"]
    account["plan_changes"] += 1
    return account


def email_changed(account, data, event):
    account["email"] = data["email"]
    return account


def usage_recorded(account, data, event):
    usage = account["usage"]
    usage[data["metric"]] = usage.get(data["metric"], 0) + data["amount"]
    account["last_usage_at"] = data["recorded_at"]
    return account


if __name__ == "__main__":
    sr.run({
        "Elixir.Domain.Account": sr.Aggregate(
            initial=INITIAL,
            handlers={
                EVENTS + "Created": created,
                EVENTS + "PlanChanged": plan_changed,
                EVENTS + "EmailChanged": email_changed,
                EVENTS + "UsageRecorded": usage_recorded,
            },
        ),
    })
