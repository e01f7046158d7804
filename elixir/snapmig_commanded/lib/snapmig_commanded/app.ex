defmodule SnapmigCommanded.App do
  @moduledoc """
  What the bridge knows of the Commanded application it folds for, read
  from the application's own configuration without starting anything.

    * the Commanded application: `--application MODULE`, else
      `config :snapmig_commanded, application: MODULE`, else the one module
      of the project's own OTP application(s) that uses
      `Commanded.Application`;
    * its runtime configuration: `MODULE.config()`, which merges the
      compile-time options, the application environment and the result of
      the application's `init/1`, as `Commanded.Application` does when it
      starts (the `:snapshotting` map lives there);
    * its event store adapter (`Commanded.EventStore.adapter/2`) and, for
      `Commanded.EventStore.Adapters.EventStore`, the EventStore module's
      own runtime configuration (`MODULE.config()`, with its `init/1`),
      which names the serializer;
    * the JSON library Postgrex decodes and encodes `jsonb` with
      (`config :postgrex, :json_library`, Jason by default, as in
      `Postgrex.Extensions.JSONB` and `EventStore.PostgresTypes`).
  """

  defstruct [
    :application,
    :name,
    :config,
    :event_store,
    :serializer,
    :json,
    :column_data_type
  ]

  @type t :: %__MODULE__{
          application: module,
          name: atom,
          config: keyword,
          event_store: module | nil,
          serializer: module,
          json: module,
          column_data_type: String.t() | nil
        }

  @es_adapter Commanded.EventStore.Adapters.EventStore

  @doc """
  Reads the application's configuration.  opts: `:application`,
  `:event_store`, `:serializer` (module names as strings), `:name` (the
  application name given to upcasters, default the application module).
  """
  @spec load(keyword) :: {:ok, t} | {:error, String.t()}
  def load(opts) do
    with {:ok, app} <- application(opts),
         {:ok, config} <- runtime_config(app),
         {:ok, es, serializer, column} <- store(app, config, opts) do
      {:ok,
       %__MODULE__{
         application: app,
         name: name(opts, app),
         config: config,
         event_store: es,
         serializer: serializer,
         json: Application.get_env(:postgrex, :json_library, Jason),
         column_data_type: column
       }}
    end
  end

  @doc "The snapshot options Commanded gives `module` (`[]` when none)."
  @spec snapshot_options(t, module) :: keyword
  def snapshot_options(%__MODULE__{config: config}, module) do
    config |> Keyword.get(:snapshotting) |> Kernel.||(%{}) |> Map.get(module, [])
  end

  @doc "The aggregate modules named in the `:snapshotting` configuration."
  @spec snapshotted(t) :: [module]
  def snapshotted(%__MODULE__{config: config}) do
    config |> Keyword.get(:snapshotting) |> Kernel.||(%{}) |> Map.keys()
  end

  defp application(opts) do
    case opts[:application] || Application.get_env(:snapmig_commanded, :application) do
      nil -> find_application()
      name -> existing_module(name, "--application")
    end
  end

  defp find_application do
    found = for mod <- project_modules(), commanded_application?(mod), do: mod

    case found do
      [app] ->
        {:ok, app}

      [] ->
        {:error,
         "no Commanded application (a module that uses Commanded.Application) in " <>
           project_names() <> "; name it with --application MODULE"}

      apps ->
        {:error,
         "several Commanded applications (" <>
           Enum.map_join(apps, ", ", &inspect/1) <> "); choose one with --application MODULE"}
    end
  end

  defp project_modules do
    Enum.flat_map(project_apps(), fn app ->
      Application.load(app)
      Application.spec(app, :modules) || []
    end)
  end

  # The project's own OTP application, or those of an umbrella.
  defp project_apps do
    case Mix.Project.config()[:app] do
      nil -> Mix.Project.apps_paths() |> Map.keys() |> Enum.sort()
      app -> [app]
    end
  end

  defp project_names, do: Enum.map_join(project_apps(), ", ", &inspect/1)

  defp commanded_application?(mod) do
    behaviours =
      if Code.ensure_loaded?(mod) and function_exported?(mod, :__info__, 1),
        do: mod.__info__(:attributes) |> Keyword.get_values(:behaviour) |> List.flatten(),
        else: []

    Commanded.Application in behaviours
  end

  defp runtime_config(app) do
    if Code.ensure_loaded?(app) and function_exported?(app, :config, 0) do
      {:ok, app.config()}
    else
      {:error, "#{inspect(app)} is not a Commanded application (no config/0)"}
    end
  rescue
    e -> {:error, "#{inspect(app)}.config() failed: " <> first_line(e)}
  end

  defp store(app, config, opts) do
    {adapter, adapter_config} = Commanded.EventStore.adapter(app, config[:event_store])

    cond do
      opts[:serializer] ->
        with {:ok, serializer} <- existing_module(opts[:serializer], "--serializer"),
             do: {:ok, nil, serializer, nil}

      adapter == @es_adapter ->
        event_store_config(opts[:event_store] || adapter_config[:event_store])

      serializer = adapter_config[:serializer] ->
        {:ok, nil, serializer, nil}

      true ->
        {:error,
         "#{inspect(app)} uses the event store adapter #{inspect(adapter)}; snapmig reads " <>
           "an EventStore in PostgreSQL: name its serializer with --serializer MODULE"}
    end
  rescue
    e -> {:error, "the event store configuration of #{inspect(app)}: " <> first_line(e)}
  end

  defp event_store_config(nil), do: {:error, "no :event_store module in the adapter config"}

  defp event_store_config(name) do
    with {:ok, es} <- existing_module(name, "--event-store") do
      config = es.config()

      case config[:serializer] do
        nil -> {:error, "#{inspect(es)} configuration has no :serializer"}
        serializer -> {:ok, es, serializer, config[:column_data_type]}
      end
    end
  end

  defp name(opts, app) do
    case opts[:name] do
      nil -> app
      name -> String.to_atom(name)
    end
  end

  defp existing_module(mod, _what) when is_atom(mod), do: {:ok, mod}

  defp existing_module(name, what) do
    mod = Module.concat([name])

    if Code.ensure_loaded?(mod),
      do: {:ok, mod},
      else: {:error, "#{what} #{name}: no such module"}
  end

  @doc """
  The first line of an exception's message, after its module name.  A
  first line that only announces what follows ("errors were found at the
  given arguments:") takes the next line too.
  """
  @spec first_line(Exception.t()) :: String.t()
  def first_line(%mod{} = e) do
    lines = e |> Exception.message() |> String.split("\n") |> Enum.map(&String.trim/1)

    line =
      case Enum.reject(lines, &(&1 == "")) do
        [first, next | _] -> if String.ends_with?(first, ":"), do: first <> " " <> next, else: first
        [first] -> first
        [] -> ""
      end

    "(#{inspect(mod)}) #{line}"
  end
end
