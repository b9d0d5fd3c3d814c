package dev.midlayer.ulp.datagram;

/** Gets every datagram an endpoint receives. */
@FunctionalInterface
public interface DatagramHandler {
  /**
   * A datagram arrived. Called in a completion handler, in the turn of the endpoint CQ's actor (atomic
   * context): it must not sleep, block or call may-sleep verbs; it may send and reply. Called one at a time per
   * endpoint; the endpoints of two devices may call their handlers at once on two threads.
   */
  void onDatagram(Datagram datagram);
}
