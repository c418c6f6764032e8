/** The dark mesh: swarm keys, the PSK connection protector and the libp2p node factory. */
export {}
