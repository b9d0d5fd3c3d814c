package dev.midlayer.cm;

import dev.midlayer.ib.AhAttr;
import dev.midlayer.ib.Gid;

/**
 * The result of a SIDR resolution ({@link ConnectionManager#resolveUd}): what a UD send to the service needs.
 * Immutable but for the byte array; any thread.
 *
 * @param remoteGid the service's port GID
 * @param qpn its UD QP number
 * @param qkey its Q_Key
 * @param ahAttr a path to it from the local port (with a GRH), for {@code createAh}
 * @param privateData the SIDR_REP's private data
 */
public record UdRemote(Gid remoteGid, int qpn, int qkey, AhAttr ahAttr, byte[] privateData) {}
