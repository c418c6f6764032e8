/** The daemon: home directory, identity, tokens, capabilities, audit, IPC server, supervisor. */
export {}
