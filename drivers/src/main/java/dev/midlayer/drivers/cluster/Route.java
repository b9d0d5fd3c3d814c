package dev.midlayer.drivers.cluster;

import dev.midlayer.ib.Gid;

/** Where a GID lives: the node ({@link Peer}), its device number, port and the port's active MTU. Immutable. */
record Route(Gid gid, Peer peer, int device, int port, int mtu) {}
