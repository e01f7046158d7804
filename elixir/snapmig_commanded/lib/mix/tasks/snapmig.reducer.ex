defmodule Mix.Tasks.Snapmig.Reducer do
  @shortdoc "Folds this Commanded application's aggregates for snapmig"

  @moduledoc """
  snapmig's external reducer (snapmig-reducer(7)) for the aggregates of the
  Commanded application of the current project, folded with the
  application's own code: its serializer, type provider, JSON decoders,
  upcasters and `apply/2`.

  In snapmig.conf:

      reducer = { exec = "cd /path/to/app && MIX_ENV=prod mix snapmig.reducer"; };

  The application is not started: no Repo or EventStore connection, no
  supervision tree.  The task compiles the project if needed, loads its
  configuration (`config/runtime.exs` included), loads every module of
  every application of the project's tree, as a release does (so that
  `String.to_existing_atom/1` on event types behaves as in production),
  and speaks the protocol on standard input and output.  Everything else
  that prints, the compiler and the application included, goes to
  standard error.

  ## Options

    * `--application MODULE` - the Commanded application (default: the one
      module of the project that uses `Commanded.Application`, or
      `config :snapmig_commanded, application: MODULE`)
    * `--name NAME` - the application name that upcasters see as
      `metadata.application` (default: the module; for applications
      started with `name:`)
    * `--event-store MODULE` - the EventStore module, when the application
      configures it at start rather than in its config
    * `--serializer MODULE` - the serializer, for an event store adapter
      other than `Commanded.EventStore.Adapters.EventStore`
  """

  use Mix.Task

  alias SnapmigCommanded.{App, Server, Stdio}

  @switches [application: :string, name: :string, event_store: :string, serializer: :string]

  @impl Mix.Task
  def run(args) do
    io = Stdio.take()
    Server.run(io, load(args))
  end

  defp load(args) do
    case OptionParser.parse(args, strict: @switches) do
      {opts, [], []} ->
        with_build_lock(fn -> Mix.Task.run("app.config") end)
        load_all_modules()
        App.load(opts)

      {_, rest, invalid} ->
        {:error, "mix snapmig.reducer: unknown arguments: " <>
                   Enum.map_join(rest ++ Enum.map(invalid, &elem(&1, 0)), " ", &to_string/1)}
    end
  rescue
    e -> {:error, "mix snapmig.reducer could not load the application: " <> App.first_line(e)}
  catch
    :exit, reason -> {:error, "mix snapmig.reducer could not load the application: exit #{inspect(reason)}"}
  end

  # snapmig starts one reducer per worker at once: when the project needs
  # compiling, only one of them may compile it (two compilers writing the
  # same build would break it); the others wait, then find it compiled.
  # The lock is a file holding its owner's OS pid, taken over when that
  # process is gone (a VM killed while compiling).
  defp with_build_lock(fun) do
    lock = Path.join(Mix.Project.build_path(), "snapmig_reducer.lock")
    File.mkdir_p!(Path.dirname(lock))
    take_lock(lock)

    try do
      fun.()
    after
      File.rm(lock)
    end
  end

  defp take_lock(lock) do
    case File.open(lock, [:write, :exclusive]) do
      {:ok, f} ->
        IO.write(f, System.pid())
        File.close(f)

      {:error, :eexist} ->
        with {:ok, pid} <- File.read(lock), false <- alive?(pid) do
          File.rm(lock)
        else
          _ -> Process.sleep(100)
        end

        take_lock(lock)
    end
  end

  defp alive?(""), do: true

  defp alive?(pid) do
    if File.dir?("/proc/self"),
      do: File.dir?("/proc/" <> String.trim(pid)),
      else: match?({_, 0}, System.cmd("kill", ["-0", String.trim(pid)], stderr_to_stdout: true))
  end

  # As a release in embedded mode: every module of every application the
  # project's applications depend on, Erlang/OTP's and Elixir's included.
  defp load_all_modules do
    project =
      case Mix.Project.config()[:app] do
        nil -> Mix.Project.apps_paths() |> Map.keys()
        app -> [app]
      end

    project
    |> app_tree(MapSet.new())
    |> Enum.each(fn app ->
      :code.ensure_modules_loaded(Application.spec(app, :modules) || [])
    end)
  end

  defp app_tree([], seen), do: seen

  defp app_tree([app | rest], seen) do
    if MapSet.member?(seen, app) do
      app_tree(rest, seen)
    else
      Application.load(app)
      deps = (Application.spec(app, :applications) || []) ++
               (Application.spec(app, :included_applications) || [])
      app_tree(deps ++ rest, MapSet.put(seen, app))
    end
  end
end
