package dev.midlayer.ulp.datagram;

/** Gets every datagram an endpoint receives. */
@FunctionalInterface
public interface DatagramHandler {
  /**
   * A datagram arrived. Called in a completion handler (atomic context): it must not block or call may-sleep
   * verbs; it may send and reply. Called one at a time per endpoint.
   */
  void onDatagram(Datagram datagram);
}
