defmodule TestApp.Counter.Events do
  @moduledoc false
  defmodule Created, do: (@derive Jason.Encoder; defstruct [:id])
  defmodule Incremented, do: (@derive Jason.Encoder; defstruct [:id, :by])
  defmodule Tagged, do: (@derive Jason.Encoder; defstruct [:id, :tag])
  defmodule ItemAdded, do: (@derive Jason.Encoder; defstruct [:id, :item_id, :qty])
  defmodule Frozen, do: (@derive Jason.Encoder; defstruct [:id])
  defmodule Exploded, do: (@derive Jason.Encoder; defstruct [:id, :reason])
  defmodule Halted, do: (@derive Jason.Encoder; defstruct [:id])
  defmodule Archived, do: (@derive Jason.Encoder; defstruct [:id])
  defmodule Thrown, do: (@derive Jason.Encoder; defstruct [:id])
  defmodule Exited, do: (@derive Jason.Encoder; defstruct [:id])

  defmodule Noted do
    @moduledoc "Stored with text only; the upcaster fills the rest from the metadata."
    @derive {Jason.Encoder, only: [:id, :text]}
    defstruct [:id, :text, :by, :stream_version, :event_number, :event_id, :application,
               :correlation_id, :causation_id, :created_at]
  end
end

defmodule TestApp.Counter.Emit do
  @moduledoc "The command of the tests: append these events."
  defstruct [:id, events: []]
end

defmodule TestApp.Counter do
  @moduledoc """
  A plain aggregate: `@derive Jason.Encoder`, stored as a JSON object.

    * `items` is keyed by ids.  Commanded's JsonSerializer decodes a
      snapshot with `keys: :atoms`, so after a load from a snapshot its keys
      are atoms while `ItemAdded` adds string keys: both end up in the next
      snapshot (what Commanded really does, and what the bridge must do).
    * `Noted` is upcast with the event's metadata (`TestApp.Counter.Upcaster`).
    * `Tagged` prints on stdout and logs a warning: the bridge must keep
      both out of the protocol.
    * `Archived` has a struct but no `apply/2` clause (unknown_event);
      `Incremented` has clauses, but none for a frozen counter (no_match);
      `Exploded` raises, `Thrown` throws, `Exited` exits; `Halted` kills the
      VM when SNAPMIG_TEST_KILL is set.
  """
  require Logger

  alias TestApp.Counter.Events.{
    Created, Incremented, Tagged, ItemAdded, Noted, Frozen, Exploded, Thrown, Exited, Halted
  }

  @derive Jason.Encoder
  defstruct id: nil, count: 0, tags: [], items: %{}, audit: [], frozen: false

  def execute(_counter, %TestApp.Counter.Emit{events: events}), do: events

  def apply(%__MODULE__{id: nil} = c, %Created{id: id}), do: %{c | id: id}

  def apply(%__MODULE__{frozen: false} = c, %Incremented{by: by}), do: %{c | count: c.count + by}

  def apply(c, %Tagged{tag: tag}) do
    IO.puts("counter #{c.id}: tagged #{tag}")
    Logger.warning("counter #{c.id}: tagged #{tag}")
    %{c | tags: c.tags ++ [tag]}
  end

  def apply(c, %ItemAdded{item_id: item, qty: qty}),
    do: %{c | items: Map.update(c.items, item, qty, &(&1 + qty))}

  def apply(c, %Noted{} = e) do
    entry = %{
      text: e.text,
      by: e.by,
      stream_version: e.stream_version,
      event_number: e.event_number,
      event_id: e.event_id,
      application: e.application,
      correlation_id: e.correlation_id,
      causation_id: e.causation_id,
      created_at: e.created_at
    }

    %{c | audit: c.audit ++ [entry]}
  end

  def apply(c, %Frozen{}), do: %{c | frozen: true}

  def apply(_c, %Exploded{reason: reason}), do: raise("counter exploded: #{reason}")

  def apply(_c, %Thrown{}), do: throw(:counter_thrown)

  def apply(_c, %Exited{}), do: exit(:counter_exited)

  def apply(c, %Halted{}) do
    if System.get_env("SNAPMIG_TEST_KILL") == "1" do
      System.cmd("kill", ["-9", System.pid()])
      Process.sleep(:infinity)
    end

    c
  end
end

defmodule TestApp.Catalog do
  @moduledoc """
  Item kinds of the jsonb store.  EventStore.JsonbSerializer reads a
  snapshot's keys with `String.to_existing_atom/1`, so they must exist as
  atoms, which they do once this module is loaded.  Nothing that folds a
  Counter calls it: only a bridge that loads every module, as a release
  does, can read those snapshots (and so can Commanded in a release).
  """
  @kinds [:quince, :medlar]
  def kinds, do: @kinds
end

defmodule TestApp.NotAStruct do
  @moduledoc "A module named as an event type, but not a struct (reducer_error)."
  def hello, do: :world
end

defimpl Commanded.Event.Upcaster, for: TestApp.Counter.Events.Noted do
  # Reads the metadata Commanded enriches: the stored "user" and every
  # system key, the application included.
  def upcast(event, metadata) do
    %{
      event
      | by: metadata["user"],
        stream_version: metadata.stream_version,
        event_number: metadata.event_number,
        event_id: metadata.event_id,
        application: metadata.application,
        correlation_id: metadata.correlation_id,
        causation_id: metadata.causation_id,
        created_at: metadata.created_at
    }
  end
end
