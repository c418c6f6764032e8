/** A2A mailboxes: the durable store and the `/sov/a2a/1.0.0` delivery protocol. */
export {}
