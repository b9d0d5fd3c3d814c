package dev.midlayer.drivers.engine;

import dev.midlayer.drivers.fault.Direction;

/**
 * Where a {@link Link} sends packets: a peer QP as the link resolved it (the connected QP of an RC or UC QP, the
 * destination of a UD send, or the requester an answer goes back to). Made by the link; the engine only
 * hands it back to the link.
 *
 * <p>Threading: safe from any thread; never blocks.
 */
public interface Endpoint {
  /**
   * False while the route is down (the port at either end is not ACTIVE): packets sent now are lost, as on a
   * fabric whose link is down. RC's ACK timeout recovers them.
   */
  boolean up();

  /** The direction from the sending port to this endpoint's port, by GID: what a fault plan decides on. */
  Direction direction();
}
