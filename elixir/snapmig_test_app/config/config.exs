import Config

# Commanded logs every command at debug level.  The console backend keeps
# its default device (standard output): the bridge must keep the protocol
# clean of it all the same.
config :logger, level: :warning
