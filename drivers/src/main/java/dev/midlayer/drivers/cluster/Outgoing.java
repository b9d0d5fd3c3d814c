package dev.midlayer.drivers.cluster;

import dev.midlayer.drivers.engine.Packet;

/** A packet on its way to {@code to}, queued for the destination node's sender. Immutable; any thread. */
record Outgoing(ClusterEndpoint to, Packet packet) {}
